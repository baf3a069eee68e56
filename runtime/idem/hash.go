package idem

import (
	"math"
	"time"
)

// Hasher computes a request fingerprint from the arguments other than the
// key, for Request.Fingerprint: FNV-1a (64-bit) over a length- or
// width-prefixed encoding of each value, so that ("ab", "c") and ("a", "bc")
// differ. It is a value type that never allocates; generated code chains it:
//
//	fp := idem.NewHasher().Int64(cents).String(currency).Sum()
//
// The encoding is part of the stored format: changing it makes every
// in-flight key look reused, so it is fixed.
type Hasher struct{ h uint64 }

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// NewHasher returns an empty hasher.
func NewHasher() Hasher { return Hasher{h: fnvOffset} }

func (h Hasher) byte(b byte) Hasher {
	h.h = (h.h ^ uint64(b)) * fnvPrime
	return h
}

func (h Hasher) word(tag byte, v uint64) Hasher {
	h = h.byte(tag)
	for i := range 8 {
		h = h.byte(byte(v >> (8 * i)))
	}
	return h
}

// String adds s.
func (h Hasher) String(s string) Hasher {
	h = h.word('s', uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = h.byte(s[i])
	}
	return h
}

// Bytes adds b; a nil and an empty slice hash alike.
func (h Hasher) Bytes(b []byte) Hasher {
	h = h.word('b', uint64(len(b)))
	for _, c := range b {
		h = h.byte(c)
	}
	return h
}

// Int64 adds any signed integer, widened.
func (h Hasher) Int64(v int64) Hasher { return h.word('i', uint64(v)) }

// Uint64 adds any unsigned integer, widened.
func (h Hasher) Uint64(v uint64) Hasher { return h.word('u', v) }

// Float64 adds a float by its bits (so 0.0 and -0.0 differ, and NaN equals
// itself).
func (h Hasher) Float64(v float64) Hasher { return h.word('f', math.Float64bits(v)) }

// Bool adds a bool.
func (h Hasher) Bool(v bool) Hasher {
	if v {
		return h.byte('T')
	}
	return h.byte('F')
}

// Time adds an instant (not its location or monotonic reading).
func (h Hasher) Time(t time.Time) Hasher { return h.word('t', uint64(t.UnixNano())) }

// Nil adds a marker for an absent value (a nil pointer or slice the
// generated code does not descend into), distinct from any zero value.
func (h Hasher) Nil() Hasher { return h.byte('n') }

// Sum returns the fingerprint.
func (h Hasher) Sum() uint64 { return h.h }
