// Package backoff is the delay between retry attempts: the value of the
// backoff= directive key, parsed by the annotations package, written by the
// generator into runtime.ZoneSpec, and drawn from by the runtime before each
// retry. It is a leaf that imports only the standard library, so the
// generator can share the type without linking the runtime.
package backoff

import (
	"math/rand/v2"
	"strings"
	"time"
)

// Kind selects the delay curve between attempts.
type Kind uint8

const (
	// Exp is exp(base,max): exponential with full jitter, a uniform draw in
	// [0, min(Max, Base*2^(n-1))) before retry n.
	Exp Kind = iota
	// Const is const(d): Base between every two attempts.
	Const
)

// Policy is the delay policy between attempts. The zero value stands for
// Default, exp(100ms,10s) (see Normalized). The directive allows Base and Max
// up to 1h.
type Policy struct {
	Kind Kind
	Base time.Duration // Exp: the first step; Const: the delay
	Max  time.Duration // Exp only: the cap
}

// Default is exp(100ms,10s) with full jitter, used when retry= is written
// without backoff=.
var Default = Policy{Kind: Exp, Base: 100 * time.Millisecond, Max: 10 * time.Second}

// Normalized returns Default for a zero (or non-positive) Base, and raises
// an Exp cap below Base to Base.
func (p Policy) Normalized() Policy {
	if p.Base <= 0 {
		return Default
	}
	if p.Kind == Exp && p.Max < p.Base {
		p.Max = p.Base
	}
	return p
}

// Delay returns the wait before retry number n (n=1 is the wait after the
// first attempt). It does not allocate.
func (p Policy) Delay(n int) time.Duration {
	if p.Kind == Const {
		return p.Base
	}
	ceiling := p.Max
	if n <= 62 { // beyond that the shift overflows; Max caps it anyway
		if d := p.Base << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}

// String writes p as the directive does: exp(100ms,10s) or const(1s).
func (p Policy) String() string {
	if p.Kind == Const {
		return "const(" + ShortDuration(p.Base) + ")"
	}
	return "exp(" + ShortDuration(p.Base) + "," + ShortDuration(p.Max) + ")"
}

// ShortDuration writes d the way a directive does: 5s, 1m, 1h30m rather
// than time.Duration's 1m0s (the generator's messages and -explain use it too).
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
