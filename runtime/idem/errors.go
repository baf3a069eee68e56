package idem

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors callers branch on with errors.Is. The runtime facade
// re-exports them (runtime.ErrDuplicate = idem.ErrDuplicate, ...), so they are
// the values generated code and users compare against.
var (
	// ErrDuplicate: the key is held by an execution that is still running, has
	// completed, or whose record cannot be read (see *DuplicateError).
	ErrDuplicate = errors.New("duplicate call")
	// ErrKeyReuse: the key was first used with different arguments (a
	// different fingerprint); see *KeyReuseError. HTTP 422 in the IETF draft.
	ErrKeyReuse = errors.New("idempotency key reused with different arguments")
	// ErrUnavailable: the store could not be reached and the request fails
	// closed; see *UnavailableError, which also unwraps to the store's error.
	ErrUnavailable = errors.New("idempotency store unavailable")
	// ErrInvalidKey: the key is empty, longer than MaxKeyLen bytes or not valid
	// UTF-8, or the domain or operation is malformed; see *KeyError.
	ErrInvalidKey = errors.New("invalid idempotency key")
	// ErrClaimLost: Complete found the key no longer holding this claim,
	// because the execution outlived its window and the key expired (and may
	// have been claimed again). The outcome was not recorded.
	ErrClaimLost = errors.New("idempotency claim lost")
)

// State is what a duplicate found under its key.
type State uint8

const (
	// StateUnknown: a value is there but could not be decoded or read; the
	// gate fails closed on it.
	StateUnknown State = iota
	// StateRunning: the first execution holds the key and has not completed
	// (or crashed less than its execution window ago).
	StateRunning
	// StateCompleted: the first execution succeeded; the key is kept for the
	// memory TTL.
	StateCompleted
)

func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateCompleted:
		return "completed"
	default:
		return "unknown"
	}
}

// DuplicateError is returned by Claim when the key is already held.
type DuplicateError struct {
	Domain, Operation, Key string
	State                  State
	// FirstSeen is when the first execution claimed the key (zero for
	// StateUnknown).
	FirstSeen time.Time
	// CompletedAt is when it completed (StateCompleted only).
	CompletedAt time.Time
	// Err is why the state is unknown (a decode or store error); nil otherwise.
	Err error
}

func (e *DuplicateError) Error() string {
	switch e.State {
	case StateRunning:
		return fmt.Sprintf("%s.%s: duplicate of idempotency key %q, first execution running since %s",
			e.Domain, e.Operation, e.Key, e.FirstSeen.UTC().Format(time.RFC3339Nano))
	case StateCompleted:
		return fmt.Sprintf("%s.%s: duplicate of idempotency key %q, first execution (started %s) completed at %s",
			e.Domain, e.Operation, e.Key, e.FirstSeen.UTC().Format(time.RFC3339Nano),
			e.CompletedAt.UTC().Format(time.RFC3339Nano))
	default:
		return fmt.Sprintf("%s.%s: idempotency key %q is held by a claim of unknown state: %v",
			e.Domain, e.Operation, e.Key, e.Err)
	}
}

// Is makes errors.Is(err, ErrDuplicate) true.
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// Unwrap returns why the state is unknown, if it is.
func (e *DuplicateError) Unwrap() error { return e.Err }

// KeyReuseError is returned by Claim when the key is held by an execution
// whose arguments had another fingerprint.
type KeyReuseError struct {
	Domain, Operation, Key string
	State                  State // of the first execution: running or completed
	FirstSeen              time.Time
}

func (e *KeyReuseError) Error() string {
	return fmt.Sprintf("%s.%s: idempotency key %q reused with different arguments (first execution %s, seen %s)",
		e.Domain, e.Operation, e.Key, e.State, e.FirstSeen.UTC().Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrKeyReuse) true.
func (e *KeyReuseError) Is(target error) bool { return target == ErrKeyReuse }

// UnavailableError is returned by Claim when the store cannot be reached and
// the request fails closed.
type UnavailableError struct {
	Domain, Operation, Key string
	Err                    error // the store's error (matches store.ErrUnavailable)
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s.%s: idempotency key %q not claimed, failing closed: %v", e.Domain, e.Operation, e.Key, e.Err)
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the store's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// KeyError is returned by Claim, before the store is touched, for a key,
// domain or operation the gate refuses.
type KeyError struct {
	Domain, Operation string
	Reason            string // e.g. "key is empty"
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s.%s: invalid idempotency key: %s", e.Domain, e.Operation, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidKey) true.
func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }
