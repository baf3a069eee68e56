package runtime

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The span events of Config.SpanEvents. Every event names the zone
// (baldur.service, baldur.method); the rest is the decision's own. The
// names and attribute keys are part of the README's contract: dashboards
// and trace queries spell them.
const (
	EventAttempt   = "baldur.attempt"    // baldur.attempt, baldur.outcome (ok|error), baldur.error
	EventRetryWait = "baldur.retry.wait" // baldur.attempt (the one that failed), baldur.delay_ms
	EventReject    = "baldur.reject"     // baldur.policy (breaker|bulkhead), baldur.error
	EventFallback  = "baldur.fallback"   // baldur.error: the failure the fallback answers
	EventDLQPark   = "baldur.dlq.park"   // baldur.dlq.id, baldur.attempts
)

// recording returns the caller's span when it records, so that a context
// without one costs no attribute built.
func recording(ctx context.Context) (trace.Span, bool) {
	s := trace.SpanFromContext(ctx)
	return s, s.IsRecording()
}

func (z *Zone) spanEvent(s trace.Span, name string, attrs ...attribute.KeyValue) {
	all := make([]attribute.KeyValue, 0, len(attrs)+2)
	all = append(all, attribute.String("baldur.service", z.spec.Service), attribute.String("baldur.method", z.spec.Method))
	s.AddEvent(name, trace.WithAttributes(append(all, attrs...)...))
}

// enterTraced is Enter with span events: the general path, so that the
// fast path of an untraced zone pays one branch.
func (z *Zone) enterTraced(ctx context.Context) (Permit, error) {
	p, err := z.enter(ctx, Permit{})
	if err != nil {
		if s, ok := recording(ctx); ok {
			policy := "bulkhead"
			switch {
			case errors.Is(err, ErrOpen):
				policy = "breaker"
			case errors.Is(err, ErrRateLimited):
				policy = "rate"
			case errors.Is(err, ErrThrottled):
				policy = "throttle"
			case errors.Is(err, ErrConcurrencyLimited):
				policy = "concurrency"
			}
			z.spanEvent(s, EventReject, attribute.String("baldur.policy", policy), attribute.String("baldur.error", err.Error()))
		}
		return p, err
	}
	p.flags |= permitTraced
	return p, nil
}

func (z *Zone) traceAttempt(ctx context.Context, err error, attempt int) {
	s, ok := recording(ctx)
	if !ok {
		return
	}
	if err == nil {
		z.spanEvent(s, EventAttempt, attribute.Int("baldur.attempt", attempt), attribute.String("baldur.outcome", "ok"))
		return
	}
	z.spanEvent(s, EventAttempt, attribute.Int("baldur.attempt", attempt), attribute.String("baldur.outcome", "error"),
		attribute.String("baldur.error", err.Error()))
}

func (z *Zone) traceRetryWait(ctx context.Context, attempt int, delay time.Duration) {
	if s, ok := recording(ctx); ok {
		z.spanEvent(s, EventRetryWait, attribute.Int("baldur.attempt", attempt),
			attribute.Float64("baldur.delay_ms", float64(delay)/float64(time.Millisecond)))
	}
}

func (z *Zone) traceFallback(ctx context.Context, err error) {
	if s, ok := recording(ctx); ok {
		z.spanEvent(s, EventFallback, attribute.String("baldur.error", err.Error()))
	}
}

func (z *Zone) tracePark(ctx context.Context, id string, attempts int) {
	if s, ok := recording(ctx); ok {
		z.spanEvent(s, EventDLQPark, attribute.String("baldur.dlq.id", id), attribute.Int("baldur.attempts", attempts))
	}
}
