package dlq

import "errors"

// Sentinel errors callers branch on with errors.Is. Every error the queue
// returns wraps one of them (or a store error) and names the entry or domain.
// Wording, one convention for the package: the operation first, then what
// it acted on, then the cause ("replay 01J…: needs review (…); redrive it
// first: dead-letter entry is in the wrong state"), as package os writes
// "open name: cause". The package is named by its caller (the runtime
// writes "baldur: dead-letter queue: …"), never by the queue's own errors.
var (
	// ErrFull: the queue or the domain is at its cap and the overflow strategy
	// is Reject; the entry was not parked. The facade maps it to
	// runtime.ErrDLQFull (503 over HTTP).
	ErrFull = errors.New("dead-letter queue is full")
	// ErrNotFound: no entry has that id (never parked, purged, evicted, or
	// resolved and past its retention).
	ErrNotFound = errors.New("dead-letter entry not found")
	// ErrState: the entry is not in a state the operation accepts (Redrive of a
	// pending entry, Replay of one that needs review).
	ErrState = errors.New("dead-letter entry is in the wrong state")
	// ErrBusy: another runner holds the entry (it is replaying) or the
	// domain's replay lease.
	ErrBusy = errors.New("dead-letter replay is busy elsewhere")
	// ErrUndecodable marks a replay error that no retry can fix: the stored
	// arguments do not decode into the method's parameters. Generated replayers
	// wrap decode failures with Undecodable; the entry goes to needs_review at
	// once instead of spending its budget.
	ErrUndecodable = errors.New("dead-letter payload does not decode")
	// ErrInvalid: a Capture or an argument the queue cannot accept (empty
	// domain, nil error, arguments that are not JSON, a bad cursor).
	ErrInvalid = errors.New("invalid dead-letter argument")
	// ErrClosed: the queue was closed.
	ErrClosed = errors.New("dead-letter queue closed")
)

type undecodableError struct{ err error }

func (e undecodableError) Error() string        { return "undecodable payload: " + e.err.Error() }
func (e undecodableError) Unwrap() error        { return e.err }
func (e undecodableError) Is(target error) bool { return target == ErrUndecodable }

// Undecodable wraps a decode error of a replayer so that the entry goes to
// needs_review with the reason instead of being retried. Undecodable(nil) is nil.
func Undecodable(err error) error {
	if err == nil {
		return nil
	}
	return undecodableError{err}
}
