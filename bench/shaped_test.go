package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/failsafe-go/failsafe-go/adaptivethrottler"
	"github.com/failsafe-go/failsafe-go/budget"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/baldur-go/baldur/runtime"
)

// The load-shaping rows: each baldur row is breaker + retry + one policy
// (compare with BenchmarkBaldurBreakerRetry, and the counting rows with
// BenchmarkBaldurBreakerRetryCallStats); each failsafe-go row is its retry +
// breaker + the same kind of policy (compare with
// BenchmarkFailsafeRetryBreaker).

func BenchmarkBaldurShapedRate(b *testing.B) {
	modes(b, NewProtectedShaped(shaped{}, newRuntime(b)).Rate)
}

func BenchmarkBaldurShapedThrottle(b *testing.B) {
	modes(b, NewProtectedShaped(shaped{}, newRuntime(b)).Throttle)
}

func BenchmarkBaldurShapedThrottleCallStats(b *testing.B) {
	modes(b, NewProtectedShaped(shaped{}, callStatsRuntime(b, nil)).Throttle)
}

func BenchmarkBaldurShapedConcurrency(b *testing.B) {
	modes(b, NewProtectedShaped(shaped{}, newRuntime(b)).Concurrency)
}

func BenchmarkBaldurShapedBudget(b *testing.B) {
	modes(b, NewProtectedShaped(shaped{}, newRuntime(b)).Budget)
}

func BenchmarkBaldurShapedBudgetCallStats(b *testing.B) {
	modes(b, NewProtectedShaped(shaped{}, callStatsRuntime(b, nil)).Budget)
}

func failsafeWith(p ...failsafe.Policy[int]) func(ctx context.Context, n int) (int, error) {
	var a Shaped = shaped{}
	rp := retrypolicy.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).Build()
	cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).WithDelay(time.Minute).Build()
	ex := failsafe.With[int](append([]failsafe.Policy[int]{rp, cb}, p...)...)
	return func(ctx context.Context, n int) (int, error) {
		return ex.Get(func() (int, error) { return a.Rate(ctx, n) })
	}
}

// BenchmarkFailsafeRateLimiter is failsafe-go's bursty RateLimiter, never reached.
func BenchmarkFailsafeRateLimiter(b *testing.B) {
	modes(b, failsafeWith(ratelimiter.NewBursty[int](1_000_000_000, time.Second)))
}

// BenchmarkFailsafeAdaptiveLimiter is failsafe-go's AdaptiveLimiter with its defaults.
func BenchmarkFailsafeAdaptiveLimiter(b *testing.B) {
	modes(b, failsafeWith(adaptivelimiter.NewWithDefaults[int]()))
}

// BenchmarkFailsafeAdaptiveThrottler is failsafe-go's AdaptiveThrottler with its defaults.
func BenchmarkFailsafeAdaptiveThrottler(b *testing.B) {
	modes(b, failsafeWith(adaptivethrottler.NewWithDefaults[int]()))
}

// BenchmarkFailsafeRetryBudget is failsafe-go's retry policy with its Budget (20%).
func BenchmarkFailsafeRetryBudget(b *testing.B) {
	var a Shaped = shaped{}
	rp := retrypolicy.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).
		WithBudget(budget.New()).Build()
	cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).WithDelay(time.Minute).Build()
	ex := failsafe.With[int](rp, cb)
	modes(b, func(ctx context.Context, n int) (int, error) {
		return ex.Get(func() (int, error) { return a.Budget(ctx, n) })
	})
}

// The load-shaping rows allocate nothing per call, counting on or off.
func TestShapedRowsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	plain, counted := NewProtectedShaped(shaped{}, rt), NewProtectedShaped(shaped{}, callStatsRuntime(t, nil))
	ctx := context.Background()
	for _, p := range []*ProtectedShaped{plain, counted} {
		for name, call := range map[string]func(context.Context, int) (int, error){
			"rate": p.Rate, "throttle": p.Throttle, "concurrency": p.Concurrency, "retry budget": p.Budget,
		} {
			allocs := testing.AllocsPerRun(2000, func() {
				if _, err := call(ctx, 1); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%s: %v allocations per call, want 0", name, allocs)
			}
		}
	}
}
