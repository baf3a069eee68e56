package runtime

import (
	"math/rand/v2"
	"time"
)

// BackoffKind selects the delay curve between attempts.
type BackoffKind uint8

const (
	// BackoffExp: exponential with full jitter, a uniform draw in
	// [0, min(Max, Base*2^(n-1))) before retry n.
	BackoffExp BackoffKind = iota
	// BackoffConst: Base between every two attempts.
	BackoffConst
)

// Backoff is the delay policy between attempts, written by the generator from
// backoff=. The zero value is exp(100ms,10s), the directive's default.
type Backoff struct {
	Kind BackoffKind
	Base time.Duration
	Max  time.Duration
}

// DefaultBackoff is exp(100ms,10s) with full jitter.
var DefaultBackoff = Backoff{Kind: BackoffExp, Base: 100 * time.Millisecond, Max: 10 * time.Second}

func (b Backoff) normalized() Backoff {
	if b.Base <= 0 {
		return DefaultBackoff
	}
	if b.Kind == BackoffExp && b.Max < b.Base {
		b.Max = b.Base
	}
	return b
}

// Delay returns the wait before retry number n (n=1 is the wait after the first attempt).
func (b Backoff) Delay(n int) time.Duration {
	if b.Kind == BackoffConst {
		return b.Base
	}
	ceiling := b.Max
	if n <= 62 { // beyond that the shift overflows; Max caps it anyway
		if d := b.Base << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling)))
}

func (b Backoff) String() string {
	if b.Kind == BackoffConst {
		return "const(" + b.Base.String() + ")"
	}
	return "exp(" + b.Base.String() + "," + b.Max.String() + ")"
}
