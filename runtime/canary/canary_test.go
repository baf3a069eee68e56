package canary_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	hold     = time.Minute
	deadline = 10 * time.Minute
)

var charge = canary.Scope{Kind: canary.ScopeMethod, Service: "payments", Method: "Charge"}

// harness is one process: a controller on a memory store and a fake clock,
// with gates the test sets.
type harness struct {
	clock    *clock.Fake
	st       store.Store
	eng      *fakeEngine
	c        *canary.Controller
	killed   atomic.Bool
	level    atomic.Int32
	govBlock atomic.Pointer[string] // a check name that blocks
	govFail  atomic.Bool            // a check could not be evaluated
	chaos    *fakeChaos
	open     canary.Options // the options with every gate reader present
}

func newHarness(t *testing.T, mod func(*canary.Options)) *harness {
	t.Helper()
	h := &harness{clock: clock.NewFake(t0), eng: newFakeEngine(), chaos: &fakeChaos{active: map[string]bool{}}}
	h.st = store.NewMemoryWith(store.MemoryOptions{Clock: h.clock})
	t.Cleanup(func() { _ = h.st.Close() })
	cfg := canary.DefaultConfig()
	cfg.Hold, cfg.StageDeadline = hold, deadline
	opts := canary.Options{Store: h.st, Overrides: h.eng, Config: cfg, Clock: h.clock, Logger: quietLogger(), Node: "a",
		Gates: canary.Gates{
			KillSwitchEngaged: h.killed.Load,
			Emergency:         func() emergency.Level { return emergency.Level(h.level.Load()) },
			Governance:        h.governance,
			Chaos:             h.chaos,
			Services:          func() []string { return []string{"payments", "ledger"} },
		}}
	h.open = opts
	if mod != nil {
		mod(&opts)
	}
	c, err := canary.New(opts)
	require.NoError(t, err)
	h.c = c
	t.Cleanup(c.Close)
	return h
}

func (h *harness) governance(_ context.Context, a governance.Action) governance.Decision {
	d := governance.Decision{Action: a.Name, Service: a.Service, Allowed: true}
	if b := h.govBlock.Load(); b != nil {
		d.Allowed, d.BlockedBy, d.Reason = false, governance.Check(*b), "declared"
	}
	if h.govFail.Load() {
		d.Failsafe = true
		d.Checks = []governance.CheckResult{{Check: governance.CheckErrorBudget, Outcome: governance.Failsafe}}
	}
	return d
}

func (h *harness) start(t *testing.T, directive string) canary.Rollout {
	t.Helper()
	r, err := h.c.Start(context.Background(), canary.Request{Scope: charge, Directive: directive, Who: "ops", Reason: "tune"})
	require.NoError(t, err)
	return r
}

func (h *harness) get(t *testing.T, id string) canary.Rollout {
	t.Helper()
	r, err := h.c.Get(context.Background(), id)
	require.NoError(t, err)
	return r
}

// healthy feeds a stage's worth of calls, the canary as good as the
// baseline, and publishes them.
func (h *harness) healthy(t *testing.T, s canary.Scope) {
	t.Helper()
	h.eng.feed(s, 400, 1, 10*time.Millisecond, 4000, 10, 10*time.Millisecond)
	require.NoError(t, h.c.Sync(context.Background()))
}

func TestRolloutPromotesThroughEveryStage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	r := h.start(t, "retry=5 timeout=2s")
	assert.Equal(t, []string{canary.TypeRetry, canary.TypeTimeout}, r.Types)
	frac, ok := h.eng.Staged(r)
	require.True(t, ok, "the first stage is staged in this process at once")
	assert.InDelta(t, 0.01, frac, 1e-9)

	for i, want := range []float64{10, 50, 100} {
		h.healthy(t, r.Scope)
		require.NoError(t, h.c.Step(ctx))
		got := h.get(t, r.ID)
		assert.Equal(t, i, got.Stage, "a passing canary is held for the stage's window")
		assert.Equal(t, canary.VerdictWait, got.Verdict.Outcome)
		assert.Contains(t, got.Verdict.Reason, "holding until")
		assert.EqualValues(t, 400, got.Canary.Calls, "the cohort figures are the stage's")

		h.clock.Advance(hold)
		require.NoError(t, h.c.Step(ctx))
		got = h.get(t, r.ID)
		require.Equal(t, i+1, got.Stage, "promoted after the hold: %+v", got.Verdict)
		frac, _ := h.eng.Staged(r)
		assert.InDelta(t, want/100, frac, 1e-9, "the new stage's fraction is staged")
		assert.Equal(t, "promoted", got.History[i].Outcome)
	}
	// 100 %: no baseline cohort any more; judged against the last one.
	h.eng.feed(r.Scope, 400, 1, 10*time.Millisecond, 0, 0, 0)
	require.NoError(t, h.c.Sync(ctx))
	h.clock.Advance(hold)
	require.NoError(t, h.c.Step(ctx))
	got := h.get(t, r.ID)
	assert.Equal(t, canary.StateCompleted, got.State, "%+v", got.Verdict)
	assert.Equal(t, []string{"method payments.Charge: retry=5 timeout=2s"}, h.eng.commits(), "a plain override now")
	_, staged := h.eng.Staged(r)
	assert.False(t, staged, "the canary is cleared once the plain override serves every call")
	assert.Len(t, got.History, 4)
	assert.EqualValues(t, 3, h.c.Stats().Promoted)
	assert.EqualValues(t, 1, h.c.Stats().Completed)
}

func TestBadCohortRollsBack(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		canaryFails uint64
		canaryLat   time.Duration
		want        string
	}{
		"error rate": {canaryFails: 40, canaryLat: 10 * time.Millisecond, want: "error rate"},
		"p99":        {canaryFails: 1, canaryLat: 40 * time.Millisecond, want: "p99"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			r := h.start(t, "timeout=50ms")
			h.eng.feed(r.Scope, 400, tc.canaryFails, tc.canaryLat, 4000, 10, 10*time.Millisecond)
			require.NoError(t, h.c.Sync(context.Background()))
			require.NoError(t, h.c.Step(context.Background()), "rolled back before the hold ends: a bad cohort does not wait")
			got := h.get(t, r.ID)
			assert.Equal(t, canary.StateRolledBack, got.State)
			assert.Contains(t, got.EndReason, "bad cohort")
			assert.Contains(t, got.EndReason, tc.want)
			assert.Equal(t, canary.VerdictFail, got.Verdict.Outcome)
			_, staged := h.eng.Staged(r)
			assert.False(t, staged, "the canary is cleared")
			assert.Empty(t, h.eng.commits())
		})
	}
}

func TestTooFewCallsWaits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r := h.start(t, "retry=3")
	h.eng.feed(r.Scope, 50, 20, time.Millisecond, 5000, 0, time.Millisecond)
	require.NoError(t, h.c.Sync(context.Background()))
	h.clock.Advance(hold)
	require.NoError(t, h.c.Step(context.Background()))
	got := h.get(t, r.ID)
	assert.Equal(t, canary.StateRunning, got.State, "50 canary calls are not judged, however bad")
	assert.Equal(t, 0, got.Stage)
	assert.Contains(t, got.Verdict.Reason, "50 of 100 canary calls")
}

func TestWatchdogRollsBackAStalledRollout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	r := h.start(t, "bulkhead=4")
	h.level.Store(int32(emergency.High)) // every promotion is refused from now on
	h.healthy(t, r.Scope)
	h.clock.Advance(hold)
	require.NoError(t, h.c.Step(ctx))
	got := h.get(t, r.ID)
	require.Equal(t, canary.StateRunning, got.State)
	assert.Contains(t, got.Blocked, "emergency", "the status names the gate that refused the promotion")

	h.clock.Advance(deadline - hold - time.Second)
	require.NoError(t, h.c.Watchdog(ctx))
	assert.Equal(t, canary.StateRunning, h.get(t, r.ID).State, "not before the deadline")
	h.clock.Advance(time.Second)
	require.NoError(t, h.c.Watchdog(ctx))
	got = h.get(t, r.ID)
	assert.Equal(t, canary.StateRolledBack, got.State)
	assert.Contains(t, got.EndReason, "watchdog")
	assert.Contains(t, got.EndReason, "blocked by emergency")
	_, staged := h.eng.Staged(r)
	assert.False(t, staged)
	assert.EqualValues(t, 1, h.c.Stats().Watchdog)
}

func TestEachGateBlocksAndNamesItself(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		gate string
		set  func(*harness)
		mod  func(*canary.Options)
		want string
	}{
		{gate: canary.GateKillSwitch, set: func(h *harness) { h.killed.Store(true) }, want: "engaged"},
		{gate: canary.GateKillSwitch, mod: func(o *canary.Options) { o.Gates.KillSwitchEngaged = nil }, want: "cannot be read"},
		{gate: canary.GateEmergency, set: func(h *harness) { h.level.Store(int32(emergency.Elevated)) }, want: "ELEVATED"},
		{gate: canary.GateEmergency, mod: func(o *canary.Options) { o.Gates.Emergency = nil }, want: "cannot be read"},
		{gate: canary.GateGovernance, set: func(h *harness) { s := "strict"; h.govBlock.Store(&s) }, want: "strict"},
		{gate: canary.GateGovernance, set: func(h *harness) { h.govFail.Store(true) }, want: "cannot run"},
		{gate: canary.GateGovernance, mod: func(o *canary.Options) { o.Gates.Governance = nil }, want: "cannot run"},
		{gate: canary.GateChaos, set: func(h *harness) { h.chaos.active["payments"] = true }, want: "payments"},
	} {
		t.Run(tc.gate+" "+tc.want, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.mod)
			ctx := context.Background()
			// A rollout started while the gates are open (by a controller
			// with every reader), to be refused its promotion.
			opener, err := canary.New(h.open)
			require.NoError(t, err)
			r, err := opener.Start(ctx, canary.Request{Scope: charge, Directive: "retry=2", Who: "ops"})
			require.NoError(t, err)
			require.NoError(t, h.c.Sync(ctx), "this process adopts the stage")
			if tc.set != nil {
				tc.set(h)
			}
			_, err = h.c.Start(ctx, canary.Request{Scope: charge, Directive: "timeout=1s", Who: "ops"})
			var blk *canary.BlockedError
			require.ErrorAs(t, err, &blk, "the start is refused")
			assert.Equal(t, tc.gate, blk.Gate)
			assert.Contains(t, blk.Reason, tc.want)
			list, err := h.c.List(ctx)
			require.NoError(t, err)
			assert.Len(t, list, 1, "nothing was started")

			h.healthy(t, r.Scope)
			h.clock.Advance(hold)
			require.NoError(t, h.c.Step(ctx))
			got := h.get(t, r.ID)
			assert.Equal(t, 0, got.Stage, "the promotion is refused")
			assert.Contains(t, got.Blocked, tc.gate+": ")
		})
	}
}

func TestBypassPassesEveryGateButTheKillSwitch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	h.level.Store(int32(emergency.Critical))
	h.chaos.active["payments"] = true
	r, err := h.c.Start(ctx, canary.Request{Scope: charge, Directive: "retry=2", Who: "ops", Bypass: "incident 7: the fix is the override"})
	require.NoError(t, err)
	assert.True(t, r.Review, "a bypass is flagged for review")
	assert.Equal(t, "incident 7: the fix is the override", r.Bypass)

	_, err = h.c.Start(ctx, canary.Request{Scope: charge, Directive: "timeout=1s", Who: "ops", Bypass: "  "})
	var in *canary.InputError
	require.ErrorAs(t, err, &in, "a bypass needs a written reason")
	assert.Equal(t, "bypass", in.Field)

	h.killed.Store(true)
	_, err = h.c.Start(ctx, canary.Request{Scope: charge, Directive: "timeout=1s", Who: "ops", Bypass: "still"})
	var blk *canary.BlockedError
	require.ErrorAs(t, err, &blk)
	assert.Equal(t, canary.GateKillSwitch, blk.Gate, "never past the kill switch")
}

func TestBadInputIsRefusedNamingWhatAndWhy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	first := h.start(t, "retry=5")
	for _, tc := range []struct {
		req         canary.Request
		field, want string
	}{
		{canary.Request{Scope: charge, Directive: "timeout=1s", Stages: []float64{0, 50, 100}}, "stages", "stage 1 is 0 %"},
		{canary.Request{Scope: charge, Directive: "timeout=1s", Stages: []float64{10, 150}}, "stages", "stage 2 is 150 %"},
		{canary.Request{Scope: charge, Directive: "timeout=1s", Stages: []float64{-1, 100}}, "stages", "above 0 %"},
		{canary.Request{Scope: charge, Directive: "timeout=1s", Stages: []float64{50, 20, 100}}, "stages", "does not rise"},
		{canary.Request{Scope: charge, Directive: "timeout=1s", Stages: []float64{10, 50}}, "stages", "must be 100 %"},
		{canary.Request{Scope: charge, Directive: "retry=2 timeout=1s"}, "scope", "rollout " + first.ID + " already changes retry"},
		{canary.Request{Scope: charge, Directive: "retry"}, "directive", `"retry": want key=value`},
		{canary.Request{Scope: charge, Directive: "speed=11"}, "directive", `key "speed"`},
		{canary.Request{Scope: charge, Directive: ""}, "directive", "empty"},
		{canary.Request{Scope: canary.Scope{Kind: "zone"}, Directive: "retry=1"}, "scope", `kind "zone"`},
		{canary.Request{Scope: canary.Scope{Kind: canary.ScopeMethod, Service: "payments"}, Directive: "retry=1"}, "scope", "a service and a method"},
		{canary.Request{Scope: charge, Directive: "timeout=1s", Hold: deadline}, "hold", "below the stage deadline"},
	} {
		_, err := h.c.Start(ctx, tc.req)
		var in *canary.InputError
		require.ErrorAs(t, err, &in, "%+v", tc.req)
		assert.Equal(t, tc.field, in.Field, "%+v", tc.req)
		assert.Contains(t, in.Error(), tc.want)
	}
	list, err := h.c.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1, "nothing changed")
	assert.Equal(t, first, list[0])
	// Another config type on the same scope is a rollout of its own, staged
	// beside the first; a third that shares a type with it is refused.
	second, err := h.c.Start(ctx, canary.Request{Scope: charge, Directive: "bulkhead=3"})
	require.NoError(t, err)
	for _, r := range []canary.Rollout{first, second} {
		_, staged := h.eng.Staged(r)
		assert.True(t, staged, "rollout %s (%s) is staged", r.ID, r.Directive)
	}
	_, err = h.c.Start(ctx, canary.Request{Scope: charge, Directive: "timeout=1s bulkhead=4"})
	var in *canary.InputError
	require.ErrorAs(t, err, &in)
	assert.Contains(t, in.Reason, "rollout "+second.ID+" already changes bulkhead")
	// Another scope is another rollout.
	_, err = h.c.Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "payments"}, Directive: "retry=1"})
	require.NoError(t, err)
}

func TestAbortAndPanicRollback(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	a := h.start(t, "retry=5")
	b, err := h.c.Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "ledger"}, Directive: "timeout=1s"})
	require.NoError(t, err)
	c, err := h.c.Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeAll}, Directive: "bulkhead=8"})
	require.NoError(t, err)

	got, err := h.c.Abort(ctx, a.ID, "ops", "wrong value")
	require.NoError(t, err)
	assert.Equal(t, canary.StateAborted, got.State)
	_, err = h.c.Abort(ctx, a.ID, "ops", "")
	require.ErrorIs(t, err, canary.ErrNotActive)
	_, err = h.c.Abort(ctx, "nope", "ops", "")
	require.ErrorIs(t, err, canary.ErrNotFound)

	_, err = h.c.PanicRollback(ctx, "ops", "")
	var in *canary.InputError
	require.ErrorAs(t, err, &in, "the panic button needs a reason")
	out, err := h.c.PanicRollback(ctx, "ops", "checkout is burning")
	require.NoError(t, err)
	ids := []string{out[0].ID, out[1].ID}
	assert.ElementsMatch(t, []string{b.ID, c.ID}, ids)
	assert.Zero(t, h.eng.stagedCount(), "every canary is cleared")
	for _, id := range ids {
		assert.Contains(t, h.get(t, id).EndReason, "panic rollback by ops: checkout is burning")
	}
	out, err = h.c.PanicRollback(ctx, "ops", "again")
	require.NoError(t, err)
	assert.Empty(t, out, "nothing left to roll back")
}

func TestCommitFailureRetries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	r, err := h.c.Start(ctx, canary.Request{Scope: charge, Directive: "retry=4", Stages: []float64{100}})
	require.NoError(t, err)
	h.eng.mu.Lock()
	h.eng.commitErr = errors.New("store unreachable")
	h.eng.mu.Unlock()
	h.healthy(t, r.Scope)
	h.clock.Advance(hold)
	require.NoError(t, h.c.Step(ctx))
	got := h.get(t, r.ID)
	assert.Equal(t, canary.StateRunning, got.State)
	assert.Contains(t, got.Verdict.Reason, "committing the override failed")
	h.eng.mu.Lock()
	h.eng.commitErr = nil
	h.eng.mu.Unlock()
	require.NoError(t, h.c.Step(ctx))
	assert.Equal(t, canary.StateCompleted, h.get(t, r.ID).State)
}

func TestALostCanaryIsStagedAgainAfterItSettles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	r := h.start(t, "retry=3")
	require.NoError(t, h.eng.Unstage(ctx, r, "someone"))
	require.NoError(t, h.c.Step(ctx))
	_, staged := h.eng.stagedOn(charge)
	assert.False(t, staged, "a moment after the stage began its change may still be on its way: left alone")

	h.clock.Advance(10 * time.Second)
	require.NoError(t, h.c.Step(ctx))
	frac, staged := h.eng.stagedOn(charge)
	require.True(t, staged, "staged again")
	assert.InDelta(t, 0.01, frac, 1e-9)
	got := h.get(t, r.ID)
	assert.Equal(t, t0.Add(10*time.Second), got.StageStarted, "the stage starts over: its counters did")
	assert.Contains(t, got.Verdict.Reason, "staged again")
}
