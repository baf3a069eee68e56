package runtime

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/chaos"
)

// hedged is one hedged attempt through the zone, as the generated wrapper
// makes it: Enter, HedgeFor, Done.
func hedged(ctx context.Context, z *Zone, inner func(ctx context.Context, n int) (string, error)) (string, error) {
	var calls atomic.Int32
	var (
		r   string
		err error
	)
	for attempt := 1; ; attempt++ {
		var p Permit
		if p, err = z.Enter(ctx); err != nil {
			return "", err
		}
		r, err = HedgeFor(ctx, z, p, func(ctx context.Context) (string, error) { return inner(ctx, int(calls.Add(1))) })
		if !z.Done(ctx, p, err, attempt) {
			return r, err
		}
	}
}

type answer struct {
	r   string
	err error
}

// goHedged runs hedged in a goroutine; the answer arrives on the channel.
func goHedged(z *Zone, inner func(ctx context.Context, n int) (string, error)) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		r, err := hedged(context.Background(), z, inner)
		ch <- answer{r, err}
	}()
	return ch
}

func receive(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("the hedged call did not return within 10s")
		return answer{}
	}
}

func hedgeStats(t *testing.T, rt *Runtime, method string) ShapeStats {
	t.Helper()
	for _, s := range rt.Shaping() {
		if s.Method == method {
			return s
		}
	}
	t.Fatalf("no shaping stats for %s", method)
	return ShapeStats{}
}

func TestHedgeQuietCallStartsNothingAndLeavesNoTimer(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Quiet", Breaker: true, Hedge: 2, HedgeDelay: "50ms"})
	pending := clk.Pending()
	r, err := hedged(context.Background(), z, func(ctx context.Context, n int) (string, error) { return "first", nil })
	require.NoError(t, err)
	assert.Equal(t, "first", r)
	assert.Equal(t, pending, clk.Pending(), "the hedge timer was stopped")
	s := hedgeStats(t, rt, "Quiet")
	assert.Equal(t, []string{"hedge"}, s.Policies)
	assert.Zero(t, s.HedgesStarted)
	assert.Equal(t, 50*time.Millisecond, s.HedgeDelay)
	assert.Equal(t, []string{"breaker", "hedge"}, z.Spec().Policies())
}

// The delay is honoured (no hedge a moment before it), the hedge's success
// wins, and the first attempt's context is cancelled.
func TestHedgeAfterTheDelayFirstSuccessWinsAndTheLoserIsCancelled(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Slow", Breaker: true, Hedge: 2, HedgeDelay: "50ms"})
	firstIn, firstOut := make(chan struct{}), make(chan error, 1)
	var calls atomic.Int32
	t0 := clk.Now()
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		calls.Add(1)
		if n == 1 {
			close(firstIn)
			<-ctx.Done() // slow: gives back only when cancelled
			firstOut <- ctx.Err()
			return "", ctx.Err()
		}
		return "hedge", nil
	})
	<-firstIn
	clk.Advance(49 * time.Millisecond)
	assert.Equal(t, int32(1), calls.Load(), "no hedge before the delay")
	clk.Advance(time.Millisecond)
	a := receive(t, ch)
	require.NoError(t, a.err)
	assert.Equal(t, "hedge", a.r, "the hedge answered first")
	select {
	case err := <-firstOut:
		assert.ErrorIs(t, err, context.Canceled, "the loser's context is cancelled")
	case <-time.After(10 * time.Second):
		t.Fatal("the first attempt was not cancelled within 10s")
	}
	s := hedgeStats(t, rt, "Slow")
	assert.Equal(t, uint64(1), s.HedgesStarted)
	assert.Equal(t, uint64(1), s.HedgesWon)
	assert.Equal(t, int32(2), calls.Load(), "one hedge: the second was not due")
	assert.NotContains(t, clk.Deadlines(), t0.Add(100*time.Millisecond), "the next hedge's timer was stopped")
}

// The first attempt answers after a hedge started: it wins, and the hedge is
// cancelled and its goroutine ends.
func TestHedgeFirstAttemptWinsAndTheHedgeEnds(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Late", Breaker: true, Hedge: 1, HedgeDelay: "10ms"})
	firstIn, release, hedgeIn, hedgeEnded := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan error, 1)
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		if n == 1 {
			close(firstIn)
			<-release
			return "first", nil
		}
		close(hedgeIn)
		<-ctx.Done()
		hedgeEnded <- ctx.Err()
		return "hedge", nil // discarded: it lost
	})
	<-firstIn
	clk.Advance(10 * time.Millisecond)
	select {
	case <-hedgeIn:
	case <-time.After(10 * time.Second):
		t.Fatal("no hedge started within 10s of the delay")
	}
	close(release)
	a := receive(t, ch)
	require.NoError(t, a.err)
	assert.Equal(t, "first", a.r)
	select {
	case err := <-hedgeEnded:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the losing hedge was not cancelled within 10s")
	}
	s := hedgeStats(t, rt, "Late")
	assert.Equal(t, uint64(1), s.HedgesStarted)
	assert.Zero(t, s.HedgesWon)
}

// Every attempt fails: the caller waits for the running hedge and gets a
// failure.
func TestHedgeEveryAttemptFailsGivesTheLastFailure(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Down", Breaker: true, Hedge: 1, HedgeDelay: "10ms"})
	firstIn, failFirst, hedgeIn, failHedge := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		if n == 1 {
			close(firstIn)
			<-failFirst
			return "", errors.New("first failed")
		}
		close(hedgeIn)
		<-failHedge
		return "", errors.New("hedge failed")
	})
	<-firstIn
	clk.Advance(10 * time.Millisecond)
	<-hedgeIn
	close(failFirst)
	select {
	case a := <-ch:
		t.Fatalf("answered %v while the hedge still ran", a)
	case <-time.After(20 * time.Millisecond):
	}
	close(failHedge)
	a := receive(t, ch)
	// The failure of the attempt that ended last: the hedge's, unless the
	// first attempt's return reached the group after it (a loaded machine).
	require.Error(t, a.err)
	assert.Contains(t, []string{"hedge failed", "first failed"}, a.err.Error())
}

// With the retry budget spent, no hedge starts: the call waits for its
// first attempt.
func TestHedgeBudgetExhaustedStartsNoHedge(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Budget", Breaker: true, Attempts: 2, RetryBudget: "10%",
		Hedge: 2, HedgeDelay: "10ms"})
	for z.shape.budget.TryRetry() {
	}
	firstIn, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		calls.Add(1)
		close(firstIn)
		<-release
		return "first", nil
	})
	<-firstIn
	clk.Advance(10 * time.Millisecond)
	clk.Advance(10 * time.Millisecond)
	close(release)
	a := receive(t, ch)
	require.NoError(t, a.err)
	assert.Equal(t, "first", a.r)
	assert.Equal(t, int32(1), calls.Load())
	s := hedgeStats(t, rt, "Budget")
	assert.Zero(t, s.HedgesStarted)
	assert.Equal(t, uint64(1), s.HedgesRefused, "refused once; no further hedge was scheduled")
}

// A hedge counts against the retry budget.
func TestHedgeSpendsTheRetryBudget(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Spend", Breaker: true, Attempts: 2, RetryBudget: "10%",
		Hedge: 1, HedgeDelay: "10ms"})
	firstIn := make(chan struct{})
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		if n == 1 {
			close(firstIn)
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "hedge", nil
	})
	<-firstIn
	clk.Advance(10 * time.Millisecond)
	require.NoError(t, receive(t, ch).err)
	assert.Equal(t, uint64(1), z.shape.budget.Stats().Granted, "the hedge took a retry from the budget")
}

// hedge_delay=p95 starts at the default, then follows the first attempts'
// latencies on the runtime's clock.
func TestHedgeDelayP95FollowsTheSampledLatencies(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "P95", Breaker: true, Hedge: 1, HedgeDelay: "p95"})
	assert.Equal(t, 100*time.Millisecond, hedgeStats(t, rt, "P95").HedgeDelay, "the default until enough samples")
	for i := range 160 {
		lat := time.Duration(i%40+1) * time.Millisecond // 1..40ms
		_, err := hedged(context.Background(), z, func(ctx context.Context, n int) (string, error) {
			if n == 1 {
				clk.Advance(lat) // may start a hedge, which answers at once
			}
			return "ok", nil
		})
		require.NoError(t, err)
	}
	s := hedgeStats(t, rt, "P95")
	assert.Equal(t, 38*time.Millisecond, s.HedgeDelay, "p95 of 1..40ms")
	// A slow call now hedges at 38ms.
	firstIn := make(chan struct{})
	var calls atomic.Int32
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		calls.Add(1)
		if n == 1 {
			close(firstIn)
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "hedge", nil
	})
	<-firstIn
	clk.Advance(37 * time.Millisecond)
	assert.Equal(t, int32(1), calls.Load())
	clk.Advance(time.Millisecond)
	assert.Equal(t, "hedge", receive(t, ch).r)
}

// Dry-run: the would-have hedge is recorded and the call goes on unhedged.
func TestHedgeInDryRunRecordsAndDoesNotHedge(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	rt.setMode(modeDryRun, true)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Dry", Breaker: true, Hedge: 2, HedgeDelay: "10ms"})
	firstIn, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		calls.Add(1)
		close(firstIn)
		<-release
		return "first", nil
	})
	<-firstIn
	clk.Advance(20 * time.Millisecond)
	close(release)
	assert.Equal(t, "first", receive(t, ch).r)
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, uint64(1), rt.WouldHaveCounts()["hedge"])
	assert.Zero(t, hedgeStats(t, rt, "Dry").HedgesStarted)
}

// The per-attempt timeout bounds every hedged attempt.
func TestHedgeAttemptsKeepTheirTimeout(t *testing.T) {
	t.Parallel()
	rt, _ := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Timed", Breaker: true, Timeout: time.Second, Hedge: 1, HedgeDelay: "1h"})
	_, err := hedged(context.Background(), z, func(ctx context.Context, n int) (string, error) {
		d, ok := ctx.Deadline()
		require.True(t, ok)
		assert.WithinDuration(t, time.Now().Add(time.Second), d, 500*time.Millisecond)
		return "ok", nil
	})
	require.NoError(t, err)
}

func TestHedgeSuccessPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Allocs", Breaker: true, Hedge: 2, HedgeDelay: "50ms"})
	ctx := context.Background()
	call := func(ctx context.Context) (int, error) { return 1, nil }
	n := testing.AllocsPerRun(100, func() { _, _ = Hedge(ctx, z, call) })
	t.Logf("allocations per quiet hedged attempt: %.1f", n)
	assert.Zero(t, n, "a quiet attempt reuses its group and its timer")

	// The permit's form, with a timeout= canary staged on half the calls.
	tz := rt.Zone(ZoneSpec{Service: "quotes", Method: "AllocsTimed", Timeout: time.Second, Hedge: 2, HedgeDelay: "50ms"})
	_, err = rt.Policy().StageCanary(ctx, "t1", "quotes.AllocsTimed", "timeout=500ms", 500, "test")
	require.NoError(t, err)
	n = testing.AllocsPerRun(100, func() {
		p, err := tz.Enter(ctx)
		if err != nil {
			panic(err)
		}
		_, err = HedgeFor(ctx, tz, p, call)
		tz.Done(ctx, p, err, 1)
	})
	assert.Zero(t, n, "a quiet attempt under a timeout canary")
}

// Fault injection reaches every attempt of a hedge group: with errors at
// 100% and a latency that lets the hedges start, the first attempt and both
// hedges are injected, the inner method never runs, and the group fails
// with the injected error.
func TestHedgeEveryAttemptIsInjected(t *testing.T) {
	t.Parallel()
	rt, clk := shapedRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Chaos", Breaker: true, Hedge: 2, HedgeDelay: "10ms"})
	const latency = 1234 * time.Millisecond // apart from the runtime's own timers on the clock
	_, err := rt.Chaos().Start(context.Background(), chaos.Spec{Service: "quotes", ErrorPercent: 100, Latency: latency,
		LatencyPercent: 100, Duration: time.Minute, By: "test"})
	require.NoError(t, err)
	t0 := clk.Now()
	var ran atomic.Int32
	ch := goHedged(z, func(ctx context.Context, n int) (string, error) {
		ran.Add(1)
		return "ok", nil
	})
	// armed waits until the clock holds a timer at each of the instants.
	armed := func(what string, at ...time.Duration) {
		t.Helper()
		require.Eventually(t, func() bool {
			d := clk.Deadlines()
			for _, a := range at {
				if !slices.Contains(d, t0.Add(a)) {
					return false
				}
			}
			return true
		}, await.Deadline, time.Millisecond, what)
	}
	armed("the first attempt waits in its injected latency, the first hedge's timer armed", latency, 10*time.Millisecond)
	clk.Advance(10 * time.Millisecond)
	armed("the first hedge waits in its injected latency, the second's timer armed", 10*time.Millisecond+latency, 20*time.Millisecond)
	clk.Advance(10 * time.Millisecond)
	armed("the second hedge waits in its injected latency", 20*time.Millisecond+latency)
	assert.EqualValues(t, 2, hedgeStats(t, rt, "Chaos").HedgesStarted)
	clk.Advance(latency)
	a := receive(t, ch)
	require.ErrorIs(t, a.err, chaos.ErrInjected)
	assert.Zero(t, ran.Load(), "no attempt reached the method")
	errs, delays := rt.Chaos().Injected("quotes")
	assert.EqualValues(t, 3, errs, "the first attempt and both hedges failed by injection")
	assert.EqualValues(t, 3, delays)
	s := hedgeStats(t, rt, "Chaos")
	assert.EqualValues(t, 2, s.HedgesStarted)
	assert.Zero(t, s.HedgesWon)
}
