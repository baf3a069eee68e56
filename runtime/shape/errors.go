package shape

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrRateLimited: the rate limit (rate=) had no token for the call and the
	// wait (rate_wait=) would have been too long; see *RateLimitedError.
	ErrRateLimited = errors.New("rate limited")
	// ErrThrottled: client-side adaptive throttling (throttle=adaptive)
	// rejected the call locally because the dependency refuses too much.
	ErrThrottled = errors.New("throttled")
	// ErrConcurrencyLimited: the adaptive concurrency limit
	// (concurrency=adaptive) was reached and the short queue was full or its
	// wait ran out; see *ConcurrencyLimitedError.
	ErrConcurrencyLimited = errors.New("concurrency limit reached")
)

// RateLimitedError is returned when a call gets no token. RetryAfter is when
// a token is expected to be free (on a fleet-wide limit, an estimate from the
// shared bucket).
type RateLimitedError struct {
	Limit      string        // the limit as written, e.g. "100/s"
	RetryAfter time.Duration // try again after this long
	Fleet      bool          // the fleet's shared budget (rate_scope=fleet)
}

func (e *RateLimitedError) Error() string {
	scope := ""
	if e.Fleet {
		scope = " (fleet)"
	}
	return fmt.Sprintf("rate limit %s%s reached: retry after %s", e.Limit, scope, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// ConcurrencyLimitedError is returned when the adaptive limit refuses a call.
type ConcurrencyLimitedError struct {
	Limit    int64         // the limit when the call was refused
	InFlight int64         // calls running then
	Waited   time.Duration // time spent in the queue (0: the queue was full)
}

func (e *ConcurrencyLimitedError) Error() string {
	return fmt.Sprintf("adaptive concurrency limit %d reached (%d in flight, waited %s)", e.Limit, e.InFlight, e.Waited)
}

// Is makes errors.Is(err, ErrConcurrencyLimited) true.
func (e *ConcurrencyLimitedError) Is(target error) bool { return target == ErrConcurrencyLimited }
