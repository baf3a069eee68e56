package runtime

import (
	"context"
	"errors"
	"time"
)

// Outcome is how the breaker counts a finished attempt.
type Outcome int

const (
	// Success closes the books on the attempt: nothing is retried.
	Success Outcome = iota
	// Failure counts against the breaker and may be retried.
	Failure
	// Ignored counts neither way (the caller gave up); it is not retried.
	Ignored
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignored:
		return "ignored"
	}
	return "unknown"
}

// Classifier overrides the default classification of a non-nil error. It returns
// ok=false to fall through to the default rules.
type Classifier func(err error) (o Outcome, ok bool)

// statusCoder is implemented by errors that carry an HTTP status.
type statusCoder interface{ StatusCode() int }

// retryAfterer is implemented by errors that carry a server's Retry-After hint.
type retryAfterer interface{ RetryAfter() time.Duration }

// classify applies, in order: the caller's own cancellation (Ignored; a
// call cut by its deadline= is a Failure), an injected failure (Failure;
// README, Fault injection), the user's Classifier, an HTTP status (429 and 5xx but 501 are failures, other
// 4xx successes for the breaker), and otherwise Failure.
func classify(ctx context.Context, err error, custom Classifier) Outcome {
	if err == nil {
		return Success
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if cutByDeadline(ctx) {
			return Failure // the call's own deadline= cut it: a timeout, not the caller giving up
		}
		return Ignored
	}
	if injected(err) {
		return Failure // a fault-injection experiment: seen as the service failing, whatever the Classifier says
	}
	if custom != nil {
		if o, ok := custom(err); ok {
			return o
		}
	}
	var sc statusCoder
	if errors.As(err, &sc) {
		return classifyStatus(sc.StatusCode())
	}
	return Failure
}

func classifyStatus(code int) Outcome {
	switch {
	case code == 429:
		return Failure
	case code == 501: // Not Implemented will not get better by retrying or waiting
		return Success
	case code >= 500:
		return Failure
	default:
		return Success
	}
}

// retryAfter returns the server's hint, if the error carries one.
func retryAfter(err error) (time.Duration, bool) {
	var ra retryAfterer
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}
