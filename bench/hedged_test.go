package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/baldur-go/baldur/runtime"
)

// The hedging rows, quiet (the first attempt answers before the delay): the
// baldur row is breaker + retry + hedge=2 after 50ms (compare with
// BenchmarkBaldurBreakerRetry); the failsafe-go row is its retry + breaker +
// HedgePolicy with two hedges after 50ms (compare with
// BenchmarkFailsafeRetryBreaker).

func BenchmarkBaldurHedge(b *testing.B) {
	modes(b, NewProtectedHedged(hedged{}, newRuntime(b)).Hedge)
}

func BenchmarkBaldurHedgeP95(b *testing.B) {
	modes(b, NewProtectedHedged(hedged{}, newRuntime(b)).HedgeP95)
}

// BenchmarkFailsafeHedgePolicy is failsafe-go's HedgePolicy (two hedges after
// 50ms) under its retry + breaker, the attempt taking the execution's context.
func BenchmarkFailsafeHedgePolicy(b *testing.B) {
	var a Hedged = hedged{}
	rp := retrypolicy.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).Build()
	cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).WithDelay(time.Minute).Build()
	hp := hedgepolicy.NewBuilderWithDelay[int](50 * time.Millisecond).WithMaxHedges(2).Build()
	ex := failsafe.With[int](rp, cb, hp)
	modes(b, func(ctx context.Context, n int) (int, error) {
		return ex.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return a.Hedge(e.Context(), n) })
	})
}

// The quiet hedged call's allocations: the closure the wrapper hands to
// runtime.Hedge (it captures the receiver and the arguments for the hedges'
// goroutines); the group and its timer are reused. Not zero (the README's
// Measured); this test keeps it from growing.
func TestHedgedRowAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	p := NewProtectedHedged(hedged{}, rt)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(2000, func() {
		if _, err := p.Hedge(ctx, 1); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%v allocations per quiet hedged call", allocs)
	if allocs > 1 {
		t.Errorf("%v allocations per quiet hedged call, want at most 1", allocs)
	}
}
