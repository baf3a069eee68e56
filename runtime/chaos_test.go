package runtime

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/chaos"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

// chaosCall runs one protected call the way generated code does (Inject
// before the method) and returns the error and the times the method ran.
func chaosCall(ctx context.Context, z *Zone, inner func() error) (err error, ran int) {
	for attempt := 1; ; attempt++ {
		var p Permit
		if p, err = z.Enter(ctx); err != nil {
			return err, ran
		}
		actx := z.WithTimeoutFor(ctx, p)
		if err = z.Inject(actx); err == nil {
			ran++
			err = inner()
		}
		err = z.Timed(ctx, actx, err)
		if !z.Done(ctx, p, err, attempt) {
			return err, ran
		}
	}
}

func chaosRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	cfg.Store = st
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.environ = func() []string { return nil }
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	return rt
}

// With no experiment the success path pays one atomic load and allocates nothing.
func TestInjectWithoutExperimentAllocatesNothing(t *testing.T) {
	rt := chaosRuntime(t, Config{})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err, _ := chaosCall(ctx, z, func() error { return nil }); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
	assert.False(t, rt.Chaos().Active("payments"))
}

// errors 20% fails about a fifth of 10 000 calls: within five binomial
// standard deviations. The method does not run for an injected call.
func TestInjectedErrorsFollowTheStatedFraction(t *testing.T) {
	t.Parallel()
	rt := chaosRuntime(t, Config{Breaker: BreakerConfig{FailureThreshold: 1 << 20, MinimumCalls: 1 << 20}})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	ctx := context.Background()
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 20, Duration: time.Minute, By: "test"})
	require.NoError(t, err)
	require.True(t, rt.Chaos().Active("payments"))

	const n, p = 10000, 0.2
	failed, ran := 0, 0
	for range n {
		err, r := chaosCall(ctx, z, func() error { return nil })
		ran += r
		if err != nil {
			require.ErrorIs(t, err, chaos.ErrInjected)
			failed++
		}
	}
	sigma := math.Sqrt(n * p * (1 - p))
	assert.InDelta(t, n*p, float64(failed), 5*sigma, "injected %d of %d", failed, n)
	assert.Equal(t, n-failed, ran, "an injected call never reaches the method")
	errs, _ := rt.Chaos().Injected("payments")
	assert.EqualValues(t, failed, errs)
}

// The breaker, retry= and the fallback see an injected failure as a real one.
func TestInjectedFailuresDriveBreakerRetryAndFallback(t *testing.T) {
	t.Parallel()
	rt := chaosRuntime(t, Config{CallStats: true, Breaker: BreakerConfig{FailureThreshold: 3, MinimumCalls: 3},
		// A classifier that ignores every error: injected failures count anyway.
		Classifier: func(error) (Outcome, bool) { return Ignored, true }})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3,
		Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Microsecond}, Fallback: "cached"})
	ctx := context.Background()
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 100, Duration: time.Minute, By: "test"})
	require.NoError(t, err)

	err, ran := chaosCall(ctx, z, func() error { return nil })
	require.ErrorIs(t, err, chaos.ErrInjected)
	assert.Zero(t, ran)
	assert.True(t, z.Fallback(ctx, err), "the fallback answers an injected failure")
	assert.EqualValues(t, 2, rt.CallStats()[0].Retries, "retry= retried the injected failures")
	b, ok := rt.Breaker("payments")
	require.True(t, ok)
	assert.Equal(t, breaker.Open, b.State(), "three injected failures open the breaker")
	err, _ = chaosCall(ctx, z, func() error { return nil })
	assert.ErrorIs(t, err, ErrOpen)
}

// Added latency is cut by the attempt's timeout=: the timeout policy acts.
func TestInjectedLatencyRespectsTheAttemptContext(t *testing.T) {
	t.Parallel()
	rt := chaosRuntime(t, Config{})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Timeout: 20 * time.Millisecond})
	ctx := context.Background()
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", Latency: time.Minute, Duration: time.Minute, By: "test"})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		err, _ := chaosCall(ctx, z, func() error { return nil })
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrTimeout)
	case <-time.After(10 * time.Second):
		t.Fatal("a minute of injected latency was not cut by timeout=20ms")
	}
}

// An experiment ends by itself at its deadline (fake clock).
func TestExperimentExpiresOnTheClock(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := chaosRuntime(t, Config{Clock: fc})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge"})
	ctx := context.Background()
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 100, Duration: 5 * time.Minute, By: "test"})
	require.NoError(t, err)
	err, _ = chaosCall(ctx, z, func() error { return nil })
	require.ErrorIs(t, err, chaos.ErrInjected)

	fc.Advance(5*time.Minute - time.Second)
	assert.True(t, rt.Chaos().Active("payments"))
	fc.Advance(time.Second)
	assert.False(t, rt.Chaos().Active("payments"))
	err, ran := chaosCall(ctx, z, func() error { return nil })
	require.NoError(t, err)
	assert.Equal(t, 1, ran)
	list, err := rt.Chaos().List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// From HIGH up an experiment is refused, and one in force injects nothing.
func TestChaosRefusedAndPausedFromHigh(t *testing.T) {
	t.Parallel()
	rt := chaosRuntime(t, Config{})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge"})
	ctx := context.Background()
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 100, Duration: time.Minute, By: "test"})
	require.NoError(t, err)
	setLevel(t, rt, emergency.High)
	err, ran := chaosCall(ctx, z, func() error { return nil })
	require.NoError(t, err, "nothing is injected at HIGH")
	assert.Equal(t, 1, ran)
	_, err = rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 10, Duration: time.Minute, By: "test"})
	require.ErrorIs(t, err, chaos.ErrRefused)
	assert.Contains(t, err.Error(), "HIGH")
}

// Bad input names the field and changes nothing; an unknown service is refused.
func TestChaosBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	rt := chaosRuntime(t, Config{})
	rt.Zone(ZoneSpec{Service: "payments", Method: "Charge"})
	ctx := context.Background()
	for _, tc := range []struct {
		spec chaos.Spec
		want string
	}{
		{chaos.Spec{Service: "payments", ErrorPercent: 120, Duration: time.Minute}, "errors: 120% is outside 0–100%"},
		{chaos.Spec{Service: "payments", ErrorPercent: -1, Duration: time.Minute}, "errors: -1%"},
		{chaos.Spec{Service: "payments", Duration: time.Minute}, "no fault"},
		{chaos.Spec{Service: "payments", ErrorPercent: 5}, "for: 0s must be above 0"},
		{chaos.Spec{Service: "payments", ErrorPercent: 5, Duration: 2 * time.Hour}, "for: 2h0m0s is longer than the cap 1h0m0s"},
	} {
		_, err := rt.Chaos().Start(ctx, tc.spec)
		require.ErrorIs(t, err, chaos.ErrInvalid, tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "nope", ErrorPercent: 5, Duration: time.Minute})
	require.ErrorIs(t, err, chaos.ErrUnknownService)
	list, err := rt.Chaos().List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = rt.Chaos().Stop(ctx, "payments", "test", "")
	assert.ErrorIs(t, err, chaos.ErrNotFound)
}

// BALDUR_CHAOS_ENABLED=false: refused here.
func TestChaosDisabledRefuses(t *testing.T) {
	t.Parallel()
	cfg, err := configFromLookup(func(k string) (string, bool) {
		if k == EnvChaosEnabled {
			return "false", true
		}
		return "", false
	})
	require.NoError(t, err)
	require.True(t, cfg.ChaosDisabled)
	rt := chaosRuntime(t, Config{ChaosDisabled: true})
	rt.Zone(ZoneSpec{Service: "payments", Method: "Charge"})
	_, err = rt.Chaos().Start(context.Background(), chaos.Spec{Service: "payments", ErrorPercent: 5, Duration: time.Minute})
	require.True(t, errors.Is(err, chaos.ErrRefused), "%v", err)
}

// The cost of fault injection on a breaker + retry call: without an
// experiment (one atomic load) and with one in force at 1 % errors.
func BenchmarkChaosInject(b *testing.B) {
	for _, tc := range []struct {
		name string
		pct  float64
	}{{"off", 0}, {"errors_1pct", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			st := store.NewMemory()
			defer st.Close()
			rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler),
				Breaker: BreakerConfig{FailureThreshold: 1 << 30, MinimumCalls: 1 << 30}, environ: func() []string { return nil }})
			require.NoError(b, err)
			defer rt.Close()
			z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 1})
			ctx := context.Background()
			if tc.pct > 0 {
				_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: tc.pct, Duration: time.Hour})
				require.NoError(b, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				chaosCall(ctx, z, func() error { return nil })
			}
		})
	}
}
