package runtime

import (
	"context"
	"errors"
	"log/slog"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// shapedRuntime is a runtime on a fake clock and a memory store.
func shapedRuntime(t *testing.T) (*Runtime, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	st := store.NewMemoryWith(store.MemoryOptions{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), Clock: clk, Store: st, StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt, clk
}

// run is the generated wrapper's loop: Enter, the inner call, Done.
func run(z *Zone, inner func() error) error {
	ctx := context.Background()
	var err error
	for attempt := 1; ; attempt++ {
		var p Permit
		if p, err = z.Enter(ctx); err != nil {
			return err
		}
		err = inner()
		if !z.Done(ctx, p, err, attempt) {
			return err
		}
	}
}

func TestZoneRateLimitRefusesWithoutCallingTheService(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Get", Breaker: true, Attempts: 1, Rate: "2/s", Burst: 2})
	calls := 0
	inner := func() error { calls++; return nil }
	require.NoError(t, run(z, inner))
	require.NoError(t, run(z, inner))
	err := run(z, inner)
	var rl *RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 500*time.Millisecond, rl.RetryAfter)
	assert.Equal(t, 2, calls, "the refused call never reached the service")
	clk.Advance(rl.RetryAfter)
	assert.NoError(t, run(z, inner))
	assert.Equal(t, []string{"breaker", "rate"}, z.Spec().Policies())
}

func TestZoneRateIsSharedByItsBucket(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	a := rt.Zone(ZoneSpec{Service: "quotes", Method: "A", Attempts: 1, Rate: "1/h", Burst: 1})
	b := rt.Zone(ZoneSpec{Service: "quotes", Method: "B", Attempts: 1, Rate: "1/h", Burst: 1})
	c := rt.Zone(ZoneSpec{Service: "quotes", Method: "C", Attempts: 1, Rate: "1/h", Burst: 1, RateBucket: "quotes.C"})
	require.NoError(t, run(a, func() error { return nil }))
	assert.ErrorIs(t, run(b, func() error { return nil }), ErrRateLimited, "one budget for the service")
	assert.NoError(t, run(c, func() error { return nil }), "a bucket of its own")
}

func TestZoneThrottleShedsWhenTheServiceFails(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Attempts: 1, Throttle: Adaptive})
	down := errors.New("ledger down")
	calls, shed := 0, 0
	for range 200 {
		err := run(z, func() error { calls++; return down })
		if errors.Is(err, ErrThrottled) {
			shed++
			assert.EqualError(t, err, "ledger.Post: adaptive throttle shed the call (the dependency refuses too many)")
		}
	}
	assert.Greater(t, shed, 100, "most calls shed once everything fails")
	assert.Equal(t, 200, calls+shed)
}

func TestZoneConcurrencyGivesEverySlotBack(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "search", Method: "Query", Breaker: true, Attempts: 3,
		Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Nanosecond}, Concurrency: Adaptive})
	fail := errors.New("boom")
	n := 0
	require.NoError(t, run(z, func() error { return nil }))
	require.ErrorIs(t, run(z, func() error { return fail }), fail)
	require.NoError(t, run(z, func() error { n++; return map[bool]error{true: fail}[n < 2] }))
	assert.Zero(t, z.shape.conc.InFlight())
	assert.Positive(t, z.shape.conc.Limit())
}

func TestZoneRetryBudgetStopsARetryStorm(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "pay", Method: "Charge", Attempts: 3,
		Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Nanosecond}, RetryBudget: "20%"})
	down := errors.New("pay down")
	attempts := 0
	for range 500 {
		err := run(z, func() error { attempts++; return down })
		require.ErrorIs(t, err, down, "the caller gets the last error, not a budget error")
	}
	// Without the budget: 1500 attempts. With it: 500 + 20% of 500 + the
	// floor (10 a second over 10 seconds).
	assert.LessOrEqual(t, attempts, 500+100+100)
	assert.Greater(t, z.shape.budget.Stats().Exhausted, uint64(0))
}

func TestZoneShapingInDryRunRecordsAndLetsTheCallThrough(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	rt.setMode(modeDryRun, true)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Get", Attempts: 1, Rate: "1/h", Burst: 1})
	calls := 0
	for range 3 {
		require.NoError(t, run(z, func() error { calls++; return nil }))
	}
	assert.Equal(t, 3, calls)
	var rate int
	for _, d := range rt.WouldHave() {
		if d.Policy == "rate" {
			rate++
		}
	}
	assert.Equal(t, 2, rate)
}

// BenchmarkZoneShaping is the two-step call (Enter, inner call, Done) of a
// breaker + retry zone, then with each load-shaping policy, quiet: far
// below the rate, nothing failing, under the concurrency limit. The
// quoted figure is each row less the first.
func BenchmarkZoneShaping(b *testing.B) {
	b.Run("counting=off", func(b *testing.B) { benchShaping(b, false) })
	b.Run("counting=on", func(b *testing.B) { benchShaping(b, true) })
}

func benchShaping(b *testing.B, counting bool) {
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir(), CallStats: counting})
	require.NoError(b, err)
	b.Cleanup(func() { _ = rt.Close() })
	base := ZoneSpec{Service: "bench", Breaker: true, Attempts: 3}
	for _, row := range []struct {
		name string
		set  func(*ZoneSpec)
	}{
		{"breaker+retry", func(*ZoneSpec) {}},
		{"+rate", func(s *ZoneSpec) { s.Rate, s.Burst = "1000000000/s", 1_000_000 }},
		{"+throttle", func(s *ZoneSpec) { s.Throttle = Adaptive }},
		{"+concurrency", func(s *ZoneSpec) { s.Concurrency = Adaptive }},
		{"+retry_budget", func(s *ZoneSpec) { s.RetryBudget = "20%" }},
	} {
		spec := base
		spec.Method = row.name
		row.set(&spec)
		z := rt.Zone(spec)
		ctx := context.Background()
		b.Run(row.name, func(b *testing.B) {
			b.ReportAllocs()
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
			c0 := threadCPU()
			defer func() {
				if c1 := threadCPU(); c0 > 0 && b.N > 0 {
					b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
				}
			}()
			for b.Loop() {
				p, err := z.Enter(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if z.Done(ctx, p, nil, 1) {
					b.Fatal("retry on success")
				}
			}
		})
	}
}

func TestShapingReportsEveryPolicy(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Get", Attempts: 2, Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Nanosecond},
		Rate: "1/h", Burst: 1, Throttle: Adaptive, Concurrency: Adaptive, RetryBudget: "20%"})
	rt.Zone(ZoneSpec{Service: "quotes", Method: "Plain", Attempts: 1})
	down := errors.New("down")
	require.ErrorIs(t, run(z, func() error { return down }), ErrRateLimited, "the retry found no token")
	require.ErrorIs(t, run(z, func() error { return nil }), ErrRateLimited)
	got := rt.Shaping()
	require.Len(t, got, 1, "methods without load shaping are not listed")
	s := got[0]
	assert.Equal(t, []string{"rate", "throttle", "concurrency", "retry_budget"}, s.Policies)
	assert.Equal(t, "1/h", s.Rate)
	assert.Equal(t, "quotes", s.RateBucket)
	assert.Equal(t, uint64(2), s.RateLimited)
	assert.Equal(t, uint64(1), s.BudgetGranted)
	assert.Equal(t, int64(18), s.ConcurrencyLimit, "the failure shrank 20 by log10(20)")
	assert.Zero(t, s.ConcurrencyInFlight)
}

func TestZoneFleetRateIsOneBudgetAcrossRuntimes(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	st := store.NewMemoryWith(store.MemoryOptions{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	// 100/s: a batch is a tenth of a second's worth, 10, the whole burst.
	spec := ZoneSpec{Service: "quotes", Method: "Get", Attempts: 1, Rate: "100/s", Burst: 10, RateScope: RateScopeFleet}
	zones := make([]*Zone, 2)
	rts := make([]*Runtime, 2)
	for i := range zones {
		rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), Clock: clk, Store: st, StateDir: t.TempDir()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = rt.Close() })
		rts[i], zones[i] = rt, rt.Zone(spec)
	}
	ok := func(z *Zone) bool { return run(z, func() error { return nil }) == nil }
	require.True(t, ok(zones[0]), "the first runtime leases the batch of 10 and spends one")
	// Closing the first runtime gives its 9 unspent tokens back to the fleet:
	// the second gets them, and no more (the clock stands still: no refill).
	s := rts[0].Shaping()[0]
	require.NoError(t, rts[0].Close())
	got := 0
	for range 30 {
		if ok(zones[1]) {
			got++
		}
	}
	assert.Equal(t, 9, got)
	assert.Equal(t, uint64(1), s.RateLeases)
	assert.True(t, s.RateFleet)
}

func TestShapingEvents(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	var mu sync.Mutex
	rt, err := New(context.Background(), Config{StateDir: t.TempDir(), Store: store.NewMemory(),
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Get", Attempts: 1, Rate: "1/h", Burst: 1, RateScope: RateScopeFleet})
	require.NoError(t, run(z, func() error { return nil }))
	require.ErrorIs(t, run(z, func() error { return nil }), ErrRateLimited)
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	assert.Contains(t, out, "msg=protect.composer_built service=quotes method=Get policies=[rate]")
	assert.Contains(t, out, "shaping=[rate] rate=1/h burst=1 rate_bucket=quotes rate_fleet=true")
	assert.Contains(t, out, "msg=rate.call_refused service=quotes method=Get")

	// Every load-shaping policy of a method, named in the order a call meets them.
	rt.Zone(ZoneSpec{Service: "orders", Method: "Place", Breaker: true, Attempts: 3, Rate: "10/s", RetryBudget: "20%",
		RetryBudgetScope: RateScopeFleet, Throttle: Adaptive, Concurrency: Adaptive})
	mu.Lock()
	out = logs.String()
	mu.Unlock()
	assert.Contains(t, out, "msg=protect.composer_built service=orders method=Place "+
		`policies="[breaker rate throttle concurrency retry retry_budget]"`)
	assert.Contains(t, out, `shaping="[rate throttle concurrency retry_budget]" rate=10/s burst=10 rate_bucket=orders rate_fleet=false `+
		"retry_budget=20% retry_budget_fleet=true throttle_k=2 concurrency_limit=20")
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
