package dlqcheck

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/baldur-go/baldur/runtime"
)

// event is one span event as the test reads it: its name and the
// attributes besides the zone's service and method.
type event struct {
	Name  string
	Attrs map[string]any
}

// spanEvents runs call under a span of an in-memory recorder and returns the
// events the runtime added to it.
func spanEvents(t *testing.T, call func(ctx context.Context)) []event {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	ctx, span := tp.Tracer("dlqcheck").Start(context.Background(), "caller")
	call(ctx)
	span.End()
	ended := rec.Ended()
	require.Len(t, ended, 1, "the runtime starts no span of its own")
	var out []event
	for _, e := range ended[0].Events() {
		attrs := map[string]any{}
		for _, kv := range e.Attributes {
			switch kv.Key {
			case "baldur.service":
				assert.Equal(t, "dlqcheck", kv.Value.AsString())
			case "baldur.method":
				continue
			default:
				attrs[string(kv.Key)] = kv.Value.AsInterface()
			}
		}
		out = append(out, event{Name: e.Name, Attrs: attrs})
	}
	return out
}

func names(es []event) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.Name)
	}
	return n
}

func TestSpanEventsMarkEveryPolicyDecision(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, runtime.Config{SpanEvents: true})
	in := sample()

	t.Run("success", func(t *testing.T) {
		es := spanEvents(t, func(ctx context.Context) {
			_, err := e.p.Place(ctx, in.C, in.Items, in.At, in.Note)
			require.NoError(t, err)
		})
		assert.Equal(t, []event{{runtime.EventAttempt, map[string]any{"baldur.attempt": int64(1), "baldur.outcome": "ok"}}}, es)
	})

	t.Run("retries, then parked", func(t *testing.T) {
		e.inner.setFail(errDown)
		defer e.inner.setFail(nil)
		es := spanEvents(t, func(ctx context.Context) {
			_, err := e.p.Place(ctx, in.C, in.Items, in.At, in.Note)
			require.ErrorIs(t, err, errDown)
		})
		require.Equal(t, []string{runtime.EventAttempt, runtime.EventRetryWait, runtime.EventAttempt, runtime.EventDLQPark}, names(es))
		assert.Equal(t, map[string]any{"baldur.attempt": int64(1), "baldur.outcome": "error", "baldur.error": errDown.Error()}, es[0].Attrs)
		assert.Equal(t, map[string]any{"baldur.attempt": int64(1), "baldur.delay_ms": 1.0}, es[1].Attrs, "backoff=const(1ms)")
		assert.Equal(t, int64(2), es[2].Attrs["baldur.attempt"])
		parked := e.only(t, "Place")
		assert.Equal(t, map[string]any{"baldur.dlq.id": parked.ID, "baldur.attempts": int64(2)}, es[3].Attrs)
	})

	t.Run("fallback answers", func(t *testing.T) {
		e.inner.setFail(errDown)
		defer e.inner.setFail(nil)
		es := spanEvents(t, func(ctx context.Context) {
			v, err := e.p.Quote(ctx, "cached-sku")
			require.NoError(t, err)
			assert.EqualValues(t, 42, v)
		})
		require.Equal(t, []string{runtime.EventAttempt, runtime.EventRetryWait, runtime.EventAttempt, runtime.EventFallback}, names(es))
		assert.Equal(t, map[string]any{"baldur.error": errDown.Error()}, es[3].Attrs)
	})

	t.Run("breaker refuses", func(t *testing.T) {
		br, ok := e.rt.Breaker("dlqcheck")
		require.True(t, ok)
		br.ForceOpen("test")
		defer br.Reset("test")
		es := spanEvents(t, func(ctx context.Context) {
			err := e.p.Tag(ctx, "t1", "a")
			require.ErrorIs(t, err, runtime.ErrOpen)
		})
		require.Equal(t, []string{runtime.EventReject, runtime.EventDLQPark}, names(es), "a refusal is parked too")
		assert.Equal(t, "breaker", es[0].Attrs["baldur.policy"])
		assert.Equal(t, int64(1), es[1].Attrs["baldur.attempts"])
	})
}

func TestSpanEventsAreOffByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, runtime.Config{})
	e.inner.setFail(errDown)
	es := spanEvents(t, func(ctx context.Context) {
		_, err := e.p.Quote(ctx, "unknown-sku")
		require.ErrorIs(t, err, errDown)
	})
	assert.Empty(t, es, "the zero Config adds no event to a recording span")
}
