package runtime

import (
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/idem"
)

// Sentinel errors for what callers branch on. Every error the runtime returns
// matches one of them with errors.Is and carries its details through errors.As.
var (
	// ErrOpen: the service's circuit breaker rejected the call without running it.
	ErrOpen = errors.New("circuit breaker is open")
	// ErrBulkheadFull: the compartment had no free slot (see *BulkheadFullError).
	ErrBulkheadFull = errors.New("bulkhead is full")
	// ErrNoKey: the idempotency key could not be extracted (a nil pointer on the
	// field path, or an empty key); the inner method did not run.
	ErrNoKey = errors.New("no idempotency key")
	// ErrDuplicate: the idempotency key was already claimed or completed
	// (details: *idem.DuplicateError).
	ErrDuplicate = idem.ErrDuplicate
	// ErrIdempotencyUnavailable: the idempotency store could not be reached and
	// the method fails closed (details: *idem.UnavailableError).
	ErrIdempotencyUnavailable = idem.ErrUnavailable
	// ErrKeyReuse: the same idempotency key arrived with different arguments
	// (details: *idem.KeyReuseError).
	ErrKeyReuse = idem.ErrKeyReuse
	// ErrDLQFull: the dead-letter queue is at its cap and the overflow strategy
	// is reject, so a failed call was not parked (see *NotParkedError).
	ErrDLQFull = dlq.ErrFull
	// ErrPermanent marks an error that must not be retried (see Permanent).
	ErrPermanent = errors.New("permanent error")
	// ErrTimeout: an attempt ran past the method's timeout= bound.
	ErrTimeout = errors.New("call timed out")
)

// OpenError is returned when the breaker rejects a call. One value per
// protected method is built at construction, so a rejection allocates nothing.
type OpenError struct {
	Service string // the breaker's name (the directive's name=)
	Method  string
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("%s.%s: circuit breaker %q is open", e.Service, e.Method, e.Service)
}

// Is makes errors.Is(err, ErrOpen) true.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// BulkheadFullError is returned when a compartment has no free slot.
type BulkheadFullError struct {
	Compartment string
	Active      int64         // calls running when the request was refused
	Max         int64         // the compartment's size (bulkhead=)
	Waited      time.Duration // how long the call waited for a slot (bulkhead_wait=)
	// Waiting and MaxWaiting describe a named compartment's waiting queue
	// (compartment=): callers waiting when this one was refused, and the
	// queue's bound; both 0 for a compartment without a bounded queue.
	Waiting, MaxWaiting int64
}

func (e *BulkheadFullError) Error() string {
	queue := ""
	if e.MaxWaiting > 0 {
		queue = fmt.Sprintf(", %d/%d waiting", e.Waiting, e.MaxWaiting)
	}
	if e.Waited > 0 {
		return fmt.Sprintf("bulkhead %q is full (%d/%d active%s) after waiting %s", e.Compartment, e.Active, e.Max, queue, e.Waited)
	}
	return fmt.Sprintf("bulkhead %q is full (%d/%d active%s)", e.Compartment, e.Active, e.Max, queue)
}

// Is makes errors.Is(err, ErrBulkheadFull) true.
func (e *BulkheadFullError) Is(target error) bool { return target == ErrBulkheadFull }

// TimeoutError is returned when an attempt exceeded timeout=. It wraps the
// error the inner method returned (usually context.DeadlineExceeded).
type TimeoutError struct {
	Service, Method string
	Timeout         time.Duration
	Err             error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s.%s: timed out after %s: %v", e.Service, e.Method, e.Timeout, e.Err)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns the inner method's error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// NoKeyError is returned when the idempotency key cannot be extracted.
type NoKeyError struct {
	Service, Method string
	Path            string // the directive's idempotency= path
	Reason          string // e.g. "req.Order is nil"
}

func (e *NoKeyError) Error() string {
	return fmt.Sprintf("%s.%s: no idempotency key from %s: %s", e.Service, e.Method, e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrNoKey) true.
func (e *NoKeyError) Is(target error) bool { return target == ErrNoKey }

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent wraps err so that no further attempt is made. The breaker still
// classifies the wrapped error as usual. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}
