package bench

import (
	"context"
	"log/slog"
	"testing"

	"github.com/baldur-go/baldur/runtime"
)

// overridden returns an Adder whose Timeout and Retry methods run under a
// policy override (the README's "Policy overrides"), set through the API
// the admin route and the CLI use.
func overridden(tb testing.TB, rt *runtime.Runtime) *ProtectedAdder {
	p := NewProtectedAdder(adder{}, rt)
	ctx := context.Background()
	if _, err := rt.Policy().Set(ctx, "adder.Timeout", "retry=5 timeout=2s backoff=const(10ms)", "bench", ""); err != nil {
		tb.Fatal(err)
	}
	if _, err := rt.Policy().Set(ctx, "adder.Retry", "retry=5", "bench", ""); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkBaldurBreakerRetryTimeoutOverride is BenchmarkBaldurBreakerRetryTimeout
// with an override of retry, timeout and backoff in force.
func BenchmarkBaldurBreakerRetryTimeoutOverride(b *testing.B) {
	modes(b, overridden(b, newRuntime(b)).Timeout)
}

// BenchmarkBaldurBreakerRetryOverride is BenchmarkBaldurBreakerRetry with an
// override of retry in force.
func BenchmarkBaldurBreakerRetryOverride(b *testing.B) {
	modes(b, overridden(b, newRuntime(b)).Retry)
}

func TestOverrideAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	p := overridden(t, rt)
	ctx := context.Background()
	for name, call := range map[string]func(context.Context, int) (int, error){
		"breaker + retry, overridden":           p.Retry,
		"breaker + retry + timeout, overridden": p.Timeout,
	} {
		if allocs := testing.AllocsPerRun(2000, func() {
			if _, err := call(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}); allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, allocs)
		}
	}
}
