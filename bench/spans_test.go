package bench

import (
	"context"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/baldur-go/baldur/runtime"
)

// BenchmarkBaldurBreakerRetrySpanEvents is BenchmarkBaldurBreakerRetry
// called under a recording OpenTelemetry span: with Config.SpanEvents off
// (what it costs a traced caller that did not ask: nothing), and on (one
// event per attempt on the caller's span).
func BenchmarkBaldurBreakerRetrySpanEvents(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()),
		sdktrace.WithSpanLimits(sdktrace.SpanLimits{EventCountLimit: 1, AttributeCountLimit: 8, AttributePerEventCountLimit: 8}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			rt, err := runtime.New(context.Background(), runtime.Config{
				Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir(), SpanEvents: on,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = rt.Close() })
			p := NewProtectedAdder(adder{}, rt)
			ctx, span := tp.Tracer("bench").Start(context.Background(), "caller")
			defer span.End()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				n, err := p.Retry(ctx, i)
				if err != nil {
					b.Fatal(err)
				}
				sink = n
			}
		})
	}
}
