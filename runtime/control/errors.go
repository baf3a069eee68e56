package control

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors for what callers branch on.
var (
	// ErrReasonRequired: disabling the kill switch needs a reason that is not blank.
	ErrReasonRequired = errors.New("a reason is required")
	// ErrReasonTooLong: the reason exceeds MaxReasonLen bytes.
	ErrReasonTooLong = errors.New("reason is too long")
	// ErrConfirmationRequired: leaving dry-run needs the word CONFIRM.
	ErrConfirmationRequired = errors.New(`confirmation "CONFIRM" is required`)
	// ErrDisabled: a manual breaker action was refused because the kill switch
	// is DISABLED and no override was given (see *DisabledError).
	ErrDisabled = errors.New("kill switch is disabled")
	// ErrCorrupt: the stored state could not be decoded (see *CorruptError).
	ErrCorrupt = errors.New("control state is corrupt")
)

// MaxReasonLen bounds a reason, in bytes: it is logged and kept in the history.
const MaxReasonLen = 500

// CorruptError reports a stored state that could not be decoded and where the
// bad copy was moved to.
type CorruptError struct {
	Where    string // the file or key that held it
	SetAside string // where the bad bytes are kept now
	Err      error  // wraps ErrCorrupt
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("control state %s is unreadable (kept aside as %s): %v", e.Where, e.SetAside, e.Err)
}

// Unwrap returns the decoding error, which wraps ErrCorrupt.
func (e *CorruptError) Unwrap() error { return e.Err }

// DisabledError refuses a manual action while the kill switch is off.
type DisabledError struct {
	Action    string // e.g. "force-open payments"
	Reason    string // why the switch was turned off
	ChangedBy string
	ChangedAt time.Time
}

func (e *DisabledError) Error() string {
	return fmt.Sprintf("%s refused: the kill switch is DISABLED (by %s at %s: %q); enable it first, or pass the override to act anyway",
		e.Action, orUnknown(e.ChangedBy), e.ChangedAt.UTC().Format(time.RFC3339), e.Reason)
}

// Is makes errors.Is(err, ErrDisabled) true.
func (e *DisabledError) Is(target error) bool { return target == ErrDisabled }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
