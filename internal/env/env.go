// Package env reads baldur's environment variables, one way for every
// package: a Reader looks variables up, parses ints, durations, booleans,
// strings and URLs, and collects every malformed value as an error naming
// the variable, so that all of them are reported at once. An error shows the
// value too, except for URLs (they may carry a password) and what the caller
// reports itself (keys).
package env

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lookup reads one variable, as os.LookupEnv does.
type Lookup func(name string) (value string, ok bool)

// Map is a Lookup over fixed values, for tests.
func Map(vars map[string]string) Lookup {
	return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
}

// Reader reads variables through a Lookup and collects their errors.
type Reader struct {
	lookup Lookup
	errs   []error
}

// New returns a Reader over lookup; nil means os.LookupEnv.
func New(lookup Lookup) *Reader {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Reader{lookup: lookup}
}

// Lookup returns the raw value of name and whether it is set.
func (r *Reader) Lookup(name string) (string, bool) { return r.lookup(name) }

// Add records an error the caller worded itself; it must name the variable.
func (r *Reader) Add(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// Bad records that name's value v is not what was wanted: NAME="v": want ….
func (r *Reader) Bad(name, v, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: want %s", name, v, want))
}

// Err returns every error recorded so far, joined; nil when there is none.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Int sets *dst to name's value when it is set and a whole number ≥ min, and
// reports whether it did.
func (r *Reader) Int(name string, min int, dst *int) bool {
	v, ok := r.lookup(name)
	if !ok {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min {
		r.Bad(name, v, fmt.Sprintf("a whole number ≥ %d", min))
		return false
	}
	*dst = n
	return true
}

// Seconds sets *dst to name's value read as whole seconds ≥ 1.
func (r *Reader) Seconds(name string, dst *time.Duration) bool {
	v, ok := r.lookup(name)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 1 || n > math.MaxInt64/int64(time.Second) {
		r.Bad(name, v, "whole seconds ≥ 1")
		return false
	}
	*dst = time.Duration(n) * time.Second
	return true
}

// Duration sets *dst to name's value, a positive Go duration ("90s",
// "1m30s") or number of seconds ("60", "0.5"). See ParseDuration.
func (r *Reader) Duration(name string, dst *time.Duration) bool {
	return r.duration(name, dst, false)
}

// DurationOrZero is Duration accepting zero too ("0", "0s").
func (r *Reader) DurationOrZero(name string, dst *time.Duration) bool {
	return r.duration(name, dst, true)
}

func (r *Reader) duration(name string, dst *time.Duration, zeroOK bool) bool {
	v, ok := r.lookup(name)
	if !ok {
		return false
	}
	d, err := ParseDuration(v, zeroOK)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: %w", name, v, err))
		return false
	}
	*dst = d
	return true
}

// ParseDuration reads a Go duration ("90s", "1m30s") or a bare number of
// seconds ("60", "0.5", the form Python Baldur's variables use). The
// duration must be positive, or zero when zeroOK.
func ParseDuration(v string, zeroOK bool) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f*float64(time.Second) >= math.MaxInt64 {
			return 0, errors.New(`want a Go duration such as "30s" or a number of seconds`)
		}
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, errors.New(`want a Go duration such as "30s" or a number of seconds`)
	}
	if zeroOK && d < 0 {
		return 0, errors.New("want a duration ≥ 0")
	}
	if !zeroOK && d <= 0 {
		return 0, errors.New("want a positive duration")
	}
	return d, nil
}

// Bool sets *dst from name's value: on, true, 1, yes or off, false, 0, no (any
// case; t and f too, as strconv.ParseBool reads them).
func (r *Reader) Bool(name string, dst *bool) bool {
	v, ok := r.lookup(name)
	if !ok {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "t", "1", "yes":
		*dst = true
	case "off", "false", "f", "0", "no":
		*dst = false
	default:
		r.Bad(name, v, "on or off (true or false, 1 or 0)")
		return false
	}
	return true
}

// String sets *dst to name's value when it is set and check (when not nil)
// accepts it; check's error says what was wanted, as "want …".
func (r *Reader) String(name string, check func(string) error, dst *string) bool {
	v, ok := r.lookup(name)
	if !ok {
		return false
	}
	if check != nil {
		if err := check(v); err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s=%q: %w", name, v, err))
			return false
		}
	}
	*dst = v
	return true
}

// URL returns the value of the first of names that is set and not blank, and
// that variable's name; both are "" when none is. check (when not nil)
// validates the value; its error is recorded as NAME: err, without the value,
// which may carry a password, and the value is still returned, so that the
// caller can say where a bad one came from.
func (r *Reader) URL(check func(string) error, names ...string) (value, name string) {
	for _, n := range names {
		v, ok := r.lookup(n)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if check != nil {
			if err := check(v); err != nil {
				r.errs = append(r.errs, fmt.Errorf("%s: %w", n, err))
			}
		}
		return v, n
	}
	return "", ""
}
