package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The call's overall bound (deadline=): timeout= bounds each attempt, a
// deadline bounds the whole call, attempts, backoff waits and the wait for a
// bulkhead slot together. The generated wrapper runs the retry loop under
// the context WithDeadline returns, so that each attempt's timeout= context
// derives from it (an attempt gets the smaller of the two bounds), no retry
// is scheduled whose backoff would pass it (as for the caller's own
// deadline), and a backoff wait ends with it. Deadlined turns the error of a
// call it cut into *DeadlineError.
//
// Like timeout=, a deadline works through the context: it stops an inner
// call only if that call honours its context (a database driver, an HTTP
// client); a method that ignores its context runs on, and the wrapper
// returns when it does.

// ErrDeadline: the call ran past its deadline= bound (see *DeadlineError).
// A *DeadlineError also matches ErrTimeout.
var ErrDeadline = errors.New("call deadline exceeded")

// errDeadlineCause is the cause of a call context cut by deadline=: it tells
// the call's own bound from the caller's cancellation or deadline.
var errDeadlineCause = errors.New("baldur: deadline= passed")

// DeadlineError is returned when a call exceeded deadline=. It wraps the
// error the last attempt returned.
type DeadlineError struct {
	Service, Method string
	Deadline        time.Duration
	Attempts        int // attempts started before the deadline passed; 0 when unknown
	Err             error
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("%s.%s: deadline of %s passed: %v", e.Service, e.Method, e.Deadline, e.Err)
}

// Is makes errors.Is(err, ErrDeadline) and errors.Is(err, ErrTimeout) true.
func (e *DeadlineError) Is(target error) bool { return target == ErrDeadline || target == ErrTimeout }

// Unwrap returns the last attempt's error.
func (e *DeadlineError) Unwrap() error { return e.Err }

// dryCallCtx is the call context of a dry-run: no bound, and the start on the
// runtime's clock, for Deadlined's would-have record.
type dryCallCtx struct {
	context.Context
	start time.Time
}

// WithDeadline starts a call bounded by deadline= and returns the context to
// run the retry loop under, and the function that releases it (call it when
// the call returns). Without deadline= it returns ctx itself. In dry-run the
// context has no bound of deadline='s own, and Deadlined records a
// would-have decision for a call that ran longer.
func (z *Zone) WithDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	d := z.spec.Deadline
	if d <= 0 {
		return ctx, func() {}
	}
	if z.rt.DryRun() {
		return dryCallCtx{Context: ctx, start: z.rt.clock.Now()}, func() {}
	}
	return context.WithTimeoutCause(ctx, d, errDeadlineCause)
}

// Deadlined ends a call started by WithDeadline: an error returned once the
// call's own deadline passed (and not the caller's) becomes a *DeadlineError
// (errors.Is ErrDeadline and ErrTimeout) wrapping it. ctx is the caller's
// context, dctx the one WithDeadline returned.
func (z *Zone) Deadlined(ctx, dctx context.Context, err error) error {
	if dry, ok := dctx.(dryCallCtx); ok {
		if took := z.rt.clock.Now().Sub(dry.start); took > z.spec.Deadline {
			reason := "call took " + took.Round(time.Microsecond).String() + ", over deadline=" + z.spec.Deadline.String()
			if err != nil {
				reason += "; it returned: " + err.Error()
			}
			z.rt.wouldHave(z, "deadline", "timeout", reason)
		}
		return err
	}
	if err == nil || dctx == ctx || ctx.Err() != nil || !cutByDeadline(dctx) {
		return err
	}
	if z.stats != nil {
		z.stats.timeouts.Add(1)
	}
	return &DeadlineError{Service: z.spec.Service, Method: z.spec.Method, Deadline: z.spec.Deadline, Err: err}
}

// cutByDeadline reports whether ctx ended because a deadline= passed (its
// own or an enclosing call's), not because its caller gave up.
func cutByDeadline(ctx context.Context) bool {
	return ctx.Err() != nil && context.Cause(ctx) == errDeadlineCause
}

// FailureKind is one kind of failure a fallback may answer (fallback_on=).
type FailureKind uint8

// The failure kinds of fallback_on=. A set of them is written with |; the
// zero set means every failure (no fallback_on=).
const (
	// FailureOpen: the breaker rejected the call (ErrOpen).
	FailureOpen FailureKind = 1 << iota
	// FailureBulkhead: the compartment was full (ErrBulkheadFull).
	FailureBulkhead
	// FailureTimeout: an attempt ran past timeout=, or the call past
	// deadline= (ErrTimeout).
	FailureTimeout
	// FailureError: the method returned an error (after its retries) that is
	// none of the above.
	FailureError
)

var failureNames = []struct {
	kind FailureKind
	name string
}{{FailureOpen, "open"}, {FailureBulkhead, "bulkhead"}, {FailureTimeout, "timeout"}, {FailureError, "error"}}

// FailureKindNames lists the names fallback_on= takes, in order.
func FailureKindNames() []string {
	out := make([]string, len(failureNames))
	for i, f := range failureNames {
		out[i] = f.name
	}
	return out
}

// String lists the set's names, comma-separated ("open,timeout"); "" for
// the zero set.
func (k FailureKind) String() string {
	var parts []string
	for _, f := range failureNames {
		if k&f.kind != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ",")
}

// ParseFailureKinds reads a fallback_on= list, "bulkhead,open" (spaces
// allowed, repeats ignored); "" is the zero set.
func ParseFailureKinds(list string) (FailureKind, error) {
	var set FailureKind
	if strings.TrimSpace(list) == "" {
		return 0, nil
	}
next:
	for _, w := range strings.Split(list, ",") {
		w = strings.TrimSpace(w)
		for _, f := range failureNames {
			if w == f.name {
				set |= f.kind
				continue next
			}
		}
		return 0, fmt.Errorf("unknown failure kind %q; want a comma-separated list of %s", w, strings.Join(FailureKindNames(), ", "))
	}
	return set, nil
}

// KindOf returns the failure kind of a non-nil error.
func KindOf(err error) FailureKind {
	switch {
	case errors.Is(err, ErrOpen):
		return FailureOpen
	case errors.Is(err, ErrBulkheadFull):
		return FailureBulkhead
	case errors.Is(err, ErrTimeout):
		return FailureTimeout
	}
	return FailureError
}
