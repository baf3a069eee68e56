package runtime

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/clock"
)

// protectedCall runs inner as a generated wrapper does, deadline= included.
func protectedCall(z *Zone, ctx context.Context, inner func(context.Context) error) error {
	dctx, cancel := z.WithDeadline(ctx)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		var p Permit
		if p, err = z.Enter(dctx); err != nil {
			break
		}
		actx := z.WithTimeout(dctx)
		err = inner(actx)
		err = z.Timed(dctx, actx, err)
		if !z.Done(dctx, p, err, attempt) {
			break
		}
	}
	if z.spec.Fallback != "" && z.Fallback(ctx, err) {
		return nil
	}
	return z.Deadlined(ctx, dctx, err)
}

// hang honours its context: it returns when the context ends.
func hang(attempts *atomic.Int32) func(context.Context) error {
	return func(ctx context.Context) error {
		attempts.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestADeadlineBoundsTheWholeCallAndCountsAsAFailure(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{CallStats: true})
	z := rt.Zone(ZoneSpec{Service: "s", Method: "Hang", Breaker: true, Attempts: 5, Deadline: 20 * time.Millisecond})
	assert.Equal(t, []string{"breaker", "retry", "deadline"}, z.Spec().Policies())
	var attempts atomic.Int32
	err := protectedCall(z, context.Background(), hang(&attempts))
	var de *DeadlineError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, ErrDeadline)
	assert.ErrorIs(t, err, ErrTimeout, "fallback_on=timeout and errors.Is(err, ErrTimeout) see a deadline too")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "it wraps what the attempt returned")
	assert.Equal(t, "s.Hang: deadline of 20ms passed: context deadline exceeded", err.Error())
	assert.EqualValues(t, 1, attempts.Load(), "no retry after the deadline passed")
	assert.EqualValues(t, 1, z.stats.failures.Load(), "the breaker counts a call cut by its deadline as a failure, not as the caller giving up")
	assert.EqualValues(t, 0, z.stats.ignored.Load())
	assert.EqualValues(t, 1, z.stats.timeouts.Load())
}

func TestADeadlineComposesWithThePerAttemptTimeout(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{})
	// Wide margins for a loaded machine: a 1s deadline leaves room for several
	// 5ms attempts however late the timers fire, and 1000 attempts need at
	// least 6s, so the deadline ends the call first.
	z := rt.Zone(ZoneSpec{Service: "s", Method: "Hang", Breaker: false, Attempts: 1000,
		Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Millisecond}, Timeout: 5 * time.Millisecond, Deadline: time.Second})
	var attempts atomic.Int32
	err := protectedCall(z, context.Background(), hang(&attempts))
	require.ErrorIs(t, err, ErrTimeout, "the last attempt timed out, or the deadline cut it")
	assert.Greater(t, attempts.Load(), int32(1), "timeout= ends each attempt; the deadline lets several run")
	assert.Less(t, attempts.Load(), int32(1000), "the deadline ended the retries before retry= did")
}

func TestACallersOwnCancellationIsNotADeadline(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{CallStats: true})
	z := rt.Zone(ZoneSpec{Service: "s", Method: "Hang", Breaker: true, Attempts: 3, Deadline: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	var attempts atomic.Int32
	err := protectedCall(z, ctx, func(actx context.Context) error {
		cancel()
		return hang(&attempts)(actx)
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrDeadline)
	assert.EqualValues(t, 1, z.stats.ignored.Load(), "the caller gave up: neither success nor failure")
	assert.EqualValues(t, 0, z.stats.failures.Load())
}

func TestWithoutADeadlineTheCallRunsUnderTheCallersContext(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{})
	z := rt.Zone(ZoneSpec{Service: "s", Method: "M"})
	ctx := context.Background()
	dctx, cancel := z.WithDeadline(ctx)
	defer cancel()
	assert.Equal(t, ctx, dctx)
	boom := errors.New("boom")
	assert.Equal(t, boom, z.Deadlined(ctx, dctx, boom))
}

func TestADeadlineInDryRunRecordsWouldHave(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	rt := newTestRuntime(t, Config{Clock: fake})
	rt.setMode(modeDryRun, true)
	z := rt.Zone(ZoneSpec{Service: "s", Method: "Slow", Deadline: 10 * time.Millisecond})
	err := protectedCall(z, context.Background(), func(ctx context.Context) error {
		_, bounded := ctx.Deadline()
		assert.False(t, bounded, "dry-run: no bound from deadline=")
		fake.Advance(50 * time.Millisecond)
		return nil
	})
	require.NoError(t, err)
	wh := rt.WouldHave()
	require.Len(t, wh, 1)
	assert.Equal(t, "deadline", wh[0].Policy)
	assert.Equal(t, "timeout", wh[0].Outcome)
	assert.Equal(t, "call took 50ms, over deadline=10ms", wh[0].Reason)
}

func TestTheDefaultTimeoutAppliesToMethodsWithoutTheirOwn(t *testing.T) {
	t.Parallel()
	cfg, err := configFromLookup(vars("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "0.015"))
	require.NoError(t, err)
	require.Equal(t, 15*time.Millisecond, cfg.DefaultTimeout)
	_, err = configFromLookup(vars("BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS", "soon"))
	require.ErrorContains(t, err, `BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS="soon"`)
	cfg, err = configFromLookup(vars())
	require.NoError(t, err)
	assert.Zero(t, cfg.DefaultTimeout, "unset: none")

	rt := newTestRuntime(t, Config{DefaultTimeout: 15 * time.Millisecond})
	eligible := rt.Zone(ZoneSpec{Service: "s", Method: "Eligible", DefaultTimeout: true})
	own := rt.Zone(ZoneSpec{Service: "s", Method: "Own", Timeout: time.Hour, DefaultTimeout: true})
	other := rt.Zone(ZoneSpec{Service: "s", Method: "NoContext"})
	assert.Equal(t, 15*time.Millisecond, eligible.pol.Load().timeout)
	assert.Equal(t, time.Hour, own.pol.Load().timeout, "a timeout= of its own wins")
	assert.Zero(t, other.pol.Load().timeout, "only methods the generator marked take the default")

	var attempts atomic.Int32
	err = protectedCall(eligible, context.Background(), hang(&attempts))
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 15*time.Millisecond, te.Timeout)

	none := newTestRuntime(t, Config{})
	z := none.Zone(ZoneSpec{Service: "s", Method: "Eligible", DefaultTimeout: true})
	ctx := context.Background()
	assert.Equal(t, ctx, z.WithTimeout(ctx), "no default configured: no bound and no attempt context")
}

func TestFallbackOnAnswersOnlyTheNamedFailures(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{})
	full := &BulkheadFullError{Compartment: "database", Active: 1, Max: 1}
	open := &OpenError{Service: "s", Method: "M"}
	timeout := &TimeoutError{Service: "s", Method: "M", Timeout: time.Second, Err: context.DeadlineExceeded}
	deadline := &DeadlineError{Service: "s", Method: "M", Deadline: time.Second, Err: context.DeadlineExceeded}
	plain := errors.New("card declined")
	assert.Equal(t, FailureBulkhead, KindOf(full))
	assert.Equal(t, FailureOpen, KindOf(open))
	assert.Equal(t, FailureTimeout, KindOf(timeout))
	assert.Equal(t, FailureTimeout, KindOf(deadline))
	assert.Equal(t, FailureError, KindOf(plain))
	assert.Equal(t, []string{"open", "bulkhead", "timeout", "error"}, FailureKindNames())
	assert.Equal(t, "open,timeout", (FailureOpen | FailureTimeout).String())

	only := rt.Zone(ZoneSpec{Service: "s", Method: "OnlyFull", Fallback: "cached", FallbackOn: "bulkhead"})
	assert.True(t, only.Fallback(t.Context(), full), "the compartment-full rejection is answered")
	for _, err := range []error{open, timeout, deadline, plain} {
		assert.False(t, only.Fallback(t.Context(), err), "%v passes through", err)
	}
	all := rt.Zone(ZoneSpec{Service: "s", Method: "All", Fallback: "cached"})
	for _, err := range []error{full, open, timeout, deadline, plain} {
		assert.True(t, all.Fallback(t.Context(), err), "no fallback_on=: %v is answered", err)
	}

	k, err := ParseFailureKinds(" open, timeout ,open")
	require.NoError(t, err)
	assert.Equal(t, FailureOpen|FailureTimeout, k)
	_, err = rt.NewZone(ZoneSpec{Service: "s", Method: "Bad", Fallback: "cached", FallbackOn: "bulkhead,opne"})
	assert.EqualError(t, err, `baldur: s.Bad: fallback_on: unknown failure kind "opne"; want a comma-separated list of open, bulkhead, timeout, error`)

	rt.setMode(modeDryRun, true)
	assert.False(t, only.Fallback(t.Context(), plain))
	assert.Empty(t, rt.WouldHave(), "a failure fallback_on= leaves out is not a would-have fallback")
	assert.False(t, only.Fallback(t.Context(), full))
	assert.Len(t, rt.WouldHave(), 1)
}
