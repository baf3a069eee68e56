package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/cachepolicy"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/maypok86/otter/v2"

	"github.com/baldur-go/baldur/runtime"
)

// The result-cache rows: baldur's cache= in front of breaker + retry, and
// failsafe-go's cachepolicy in front of its retry + breaker, backed by the
// same otter cache (cachepolicy brings no store of its own). Hit: one key,
// every call but the first answered from the cache. Miss: every call finds
// its entry expired, runs breaker + retry and stores the result (compare
// with BenchmarkBaldurBreakerRetry and BenchmarkFailsafeRetryBreaker).

func BenchmarkBaldurCacheHit(b *testing.B) {
	p := NewProtectedCached(cached{}, newRuntime(b))
	modes(b, func(ctx context.Context, _ int) (int, error) { return p.Hit(ctx, "key") })
}

func BenchmarkBaldurCacheMiss(b *testing.B) {
	p := NewProtectedCached(cached{}, newRuntime(b))
	modes(b, func(ctx context.Context, _ int) (int, error) { return p.Miss(ctx, "key") })
}

// otterBackend is cachepolicy.Cache on otter, entries kept ttl.
type otterBackend struct{ c *otter.Cache[string, int] }

func newOtterBackend(ttl time.Duration) otterBackend {
	return otterBackend{otter.Must(&otter.Options[string, int]{
		MaximumSize: runtime.DefaultCacheMaxEntries, ExpiryCalculator: otter.ExpiryWriting[string, int](ttl)})}
}

func (o otterBackend) Get(key string) (int, bool) { return o.c.GetIfPresent(key) }
func (o otterBackend) Set(key string, v int)      { o.c.Set(key, v) }

func failsafeCached(b *testing.B, ttl time.Duration) func(ctx context.Context, n int) (int, error) {
	var a Cached = cached{}
	backend := newOtterBackend(ttl)
	b.Cleanup(func() { backend.c.StopAllGoroutines() })
	cp := cachepolicy.NewBuilder[int](backend).WithKey("key").Build()
	rp := retrypolicy.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).Build()
	cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).WithDelay(time.Minute).Build()
	ex := failsafe.With[int](cp, rp, cb)
	return func(ctx context.Context, n int) (int, error) {
		return ex.Get(func() (int, error) { return a.Hit(ctx, "key") })
	}
}

// BenchmarkFailsafeCacheHit is failsafe-go's cachepolicy with a fixed key
// (WithKey: its cheapest; a per-call key goes through a context value).
func BenchmarkFailsafeCacheHit(b *testing.B) { modes(b, failsafeCached(b, time.Hour)) }

// BenchmarkFailsafeCacheMiss is cachepolicy whose entries expire at once.
func BenchmarkFailsafeCacheMiss(b *testing.B) { modes(b, failsafeCached(b, time.Nanosecond)) }

// A hit allocates nothing; neither does a miss that stores over its key.
func TestCachedRowsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	p := NewProtectedCached(cached{}, rt)
	ctx := context.Background()
	for name, call := range map[string]func(context.Context, string) (int, error){"hit": p.Hit, "miss": p.Miss} {
		allocs := testing.AllocsPerRun(2000, func() {
			if _, err := call(ctx, "key"); err != nil {
				t.Fatal(err)
			}
		})
		if name == "hit" && allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, allocs)
		}
		t.Logf("%s: %v allocations per call", name, allocs)
	}
}
