package behaviour

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/baldur-go/baldur/runtime"
)

// Span events cost nothing unless asked for: with Config.SpanEvents off, a
// recording span in the caller's context adds no allocation; with it on, a
// context without a recording span adds none either.
func TestSpanEventsAddNoAllocationWhenOff(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	traced, span := tp.Tracer("behaviour").Start(context.Background(), "caller")
	defer span.End()

	for _, c := range []struct {
		name   string
		events bool
		ctx    context.Context
	}{
		{"SpanEvents off, recording span", false, traced},
		{"SpanEvents on, no span", true, context.Background()},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt, err := runtime.New(context.Background(), runtime.Config{
				Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(), SpanEvents: c.events,
			})
			require.NoError(t, err)
			defer rt.Close()
			p := NewProtectedPricer(&fake{}, rt)
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := p.Hot(c.ctx, 1); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs, "breaker + bulkhead + retry success path")
		})
	}
}
