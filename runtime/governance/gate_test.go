package governance_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// inputs are the gate's inputs, set by the test.
type inputs struct {
	mu       sync.Mutex
	enabled  bool
	killErr  error
	level    emergency.Level
	levelErr error
}

func (in *inputs) kill(context.Context) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.enabled, in.killErr
}

func (in *inputs) emergency(context.Context) (emergency.Level, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.level, in.levelErr
}

func (in *inputs) set(fn func(in *inputs)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	fn(in)
}

type rig struct {
	g        *governance.Gate
	in       *inputs
	clock    *clock.Fake
	store    store.Store
	ledger   *governance.Ledger
	logs     *logtest.Buffer
	mu       sync.Mutex
	failures []governance.Failure
}

func newRig(t *testing.T, mod func(*governance.Options)) *rig {
	t.Helper()
	mem := store.NewMemory()
	t.Cleanup(func() { mem.Close() })
	r := &rig{in: &inputs{enabled: true}, clock: clock.NewFake(t0), store: mem, logs: &logtest.Buffer{}}
	r.ledger = &governance.Ledger{Store: mem}
	opts := governance.Options{Store: mem, KillSwitch: governance.KillSwitchFunc(r.in.kill),
		Emergency: governance.LevelFunc(r.in.emergency), Clock: r.clock, Node: "test",
		Objectives: governance.Objectives{"PAYMENTS": {Target: 0.999, Window: 30 * 24 * time.Hour}},
		OnFailsafe: func(f governance.Failure) { r.mu.Lock(); r.failures = append(r.failures, f); r.mu.Unlock() },
		Logger:     slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&opts)
	}
	g, err := governance.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, g.Close()) })
	r.g = g
	return r
}

func (r *rig) events(event string) []map[string]any { return r.logs.Records(event) }

var replay = governance.Action{Name: "dlq.auto_replay", Service: "payments"}

func outcomes(d governance.Decision) map[governance.Check]governance.Outcome {
	out := map[governance.Check]governance.Outcome{}
	for _, c := range d.Checks {
		out[c.Check] = c.Outcome
	}
	return out
}

// Every check failing at once: the gate names the first in the fixed order,
// and as each is fixed the next one names itself.
func TestChecksRunInTheFixedOrderAndTheFirstFailingBlocks(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	r.in.set(func(in *inputs) { in.enabled, in.level = false, emergency.Critical })
	require.NoError(t, r.ledger.Add(ctx, "payments", t0, 1000, 50))
	_, err := r.g.DeclareStrict(ctx, "alice", "release freeze", time.Hour)
	require.NoError(t, err)

	want := []struct {
		check governance.Check
		fix   func()
	}{
		{governance.CheckKillSwitch, func() { r.in.set(func(in *inputs) { in.enabled = true }) }},
		{governance.CheckEmergency, func() { r.in.set(func(in *inputs) { in.level = emergency.Elevated }) }},
		{governance.CheckErrorBudget, func() { require.NoError(t, r.ledger.Add(ctx, "payments", t0, 1_000_000, 0)) }},
		{governance.CheckStrict, func() { _, err := r.g.EndStrict(ctx, "alice", "freeze over"); require.NoError(t, err) }},
	}
	for _, w := range want {
		d := r.g.Check(ctx, replay)
		require.False(t, d.Allowed, "blocked by %s", w.check)
		assert.Equal(t, w.check, d.BlockedBy)
		err := d.Err()
		require.ErrorIs(t, err, governance.ErrBlocked)
		var be *governance.BlockedError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, w.check, be.Check)
		assert.Contains(t, err.Error(), "dlq.auto_replay blocked by governance check "+string(w.check))
		var order []governance.Check
		for _, c := range d.Checks {
			order = append(order, c.Check)
		}
		assert.Equal(t, governance.Order, order, "every check is shown, in order")
		w.fix()
	}
	d := r.g.Check(ctx, replay)
	assert.True(t, d.Allowed, "%+v", d)
	assert.NoError(t, d.Err())
	assert.Len(t, r.events("governance.action_blocked"), 4)
	assert.Contains(t, d.Checks[1].Detail, "emergency level ELEVATED is below HIGH")
}

func TestEmergencyLevelBlocksAtTheConfiguredLevel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		blockAt emergency.Level
		off     bool
		level   emergency.Level
		blocked bool
	}{
		{emergency.Normal, false, emergency.Elevated, false}, // zero: HIGH
		{emergency.Normal, false, emergency.High, true},
		{emergency.Elevated, false, emergency.Elevated, true},
		{emergency.Critical, false, emergency.High, false},
		{emergency.Critical, true, emergency.Critical, false},
	} {
		r := newRig(t, func(o *governance.Options) { o.BlockAt, o.EmergencyOff = tc.blockAt, tc.off })
		r.in.set(func(in *inputs) { in.level = tc.level })
		d := r.g.Check(context.Background(), replay)
		assert.Equal(t, !tc.blocked, d.Allowed, "block at %s (off %t), level %s", tc.blockAt, tc.off, tc.level)
	}
}

// failingStore fails every Get: STRICT mode and Break Glass are unreadable.
type failingStore struct{ store.Store }

func (failingStore) Get(context.Context, string) ([]byte, error) {
	return nil, errors.New("dial tcp 10.0.0.9:6379: connection refused")
}

// A check that cannot be evaluated lets the action through and raises a
// FAILSAFE: logged at error, handed to OnFailsafe, marked on the decision.
func TestAnUnreadableCheckAllowsAndRaisesAFailsafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		check governance.Check
		setup func(r *rig)
		mod   func(o *governance.Options)
	}{
		{"kill switch", governance.CheckKillSwitch,
			func(r *rig) {
				r.in.set(func(in *inputs) { in.enabled, in.killErr = true, errors.New("control store down") })
			}, nil},
		{"emergency", governance.CheckEmergency,
			func(r *rig) {
				r.in.set(func(in *inputs) { in.level, in.levelErr = emergency.Critical, errors.New("no state") })
			}, nil},
		{"error budget", governance.CheckErrorBudget, nil, func(o *governance.Options) {
			o.Counts = countsFunc(func() (uint64, uint64, error) { return 0, 0, errors.New("ledger unreachable") })
		}},
		{"strict", governance.CheckStrict, nil, func(o *governance.Options) { o.Store = failingStore{o.Store} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.mod)
			if tc.setup != nil {
				tc.setup(r)
			}
			d := r.g.Check(context.Background(), replay)
			assert.True(t, d.Allowed, "fail-open: %+v", d)
			assert.True(t, d.Failsafe)
			assert.Equal(t, governance.Failsafe, outcomes(d)[tc.check])
			r.mu.Lock()
			require.Len(t, r.failures, 1)
			assert.Equal(t, tc.check, r.failures[0].Check)
			assert.Equal(t, "dlq.auto_replay", r.failures[0].Action)
			r.mu.Unlock()
			ev := r.events("governance.failsafe_raised")
			require.Len(t, ev, 1)
			assert.Equal(t, "ERROR", ev[0]["level"])
			assert.Equal(t, string(tc.check), ev[0]["check"])
		})
	}
}

type countsFunc func() (uint64, uint64, error)

func (f countsFunc) Window(context.Context, string, time.Time, time.Duration) (uint64, uint64, error) {
	return f()
}

// A DISABLED kill switch blocks even when the switch's store is also
// unreadable: what this process knows is enough to refuse.
func TestKillSwitchKnownDisabledBlocksEvenWithAnError(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.in.set(func(in *inputs) { in.enabled, in.killErr = false, errors.New("stale") })
	d := r.g.Check(context.Background(), replay)
	assert.True(t, d.Allowed, "an error means the switch cannot say: fail-open")
	// The adapter decides: a switch it knows is off is reported without an error.
	r.in.set(func(in *inputs) { in.killErr = nil })
	assert.False(t, r.g.Check(context.Background(), replay).Allowed)
}

func TestStrictModeEndsByItself(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	_, err := r.g.DeclareStrict(ctx, "alice", "", time.Hour)
	require.ErrorIs(t, err, control.ErrReasonRequired)
	_, err = r.g.DeclareStrict(ctx, "alice", "freeze", 25*time.Hour)
	require.ErrorContains(t, err, "at most 24h0m0s")
	_, err = r.g.DeclareStrict(ctx, "alice", "change freeze for the migration", 30*time.Minute)
	require.NoError(t, err)

	d := r.g.Check(ctx, replay)
	require.False(t, d.Allowed)
	assert.Equal(t, governance.CheckStrict, d.BlockedBy)
	assert.Contains(t, d.Reason, "STRICT mode until 2026-03-01T12:30:00Z (by alice: change freeze for the migration)")
	st := r.g.Status(ctx)
	require.NotNil(t, st.Strict)
	assert.Equal(t, governance.CheckStrict, st.BlockedBy)

	r.clock.Advance(30*time.Minute - time.Nanosecond)
	assert.False(t, r.g.Check(ctx, replay).Allowed, "a nanosecond left")
	r.clock.Advance(time.Nanosecond)
	assert.True(t, r.g.Check(ctx, replay).Allowed, "expired by itself")
	assert.Nil(t, r.g.Status(ctx).Strict)
	_, err = r.g.EndStrict(ctx, "alice", "")
	assert.ErrorIs(t, err, governance.ErrNotActive)
}

func TestBreakGlassBypassesUntilItExpiresAndIsFlaggedForReview(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	r.in.set(func(in *inputs) { in.level = emergency.Critical })
	_, err := r.g.DeclareStrict(ctx, "alice", "freeze", 4*time.Hour)
	require.NoError(t, err)
	require.NoError(t, r.ledger.Add(ctx, "payments", t0, 100, 100))
	require.False(t, r.g.Check(ctx, replay).Allowed)

	_, err = r.g.OpenBreakGlass(ctx, "root", "replay the stuck refunds", "", time.Hour)
	require.ErrorIs(t, err, control.ErrConfirmationRequired)
	_, err = r.g.OpenBreakGlass(ctx, "root", "", control.Confirmation, time.Hour)
	require.ErrorIs(t, err, control.ErrReasonRequired)
	_, err = r.g.OpenBreakGlass(ctx, "root", "x", control.Confirmation, 5*time.Hour)
	require.ErrorContains(t, err, "at most 4h0m0s")
	_, err = r.g.OpenBreakGlass(ctx, "root", "replay the stuck refunds", control.Confirmation, time.Hour)
	require.NoError(t, err)

	d := r.g.Check(ctx, replay)
	assert.True(t, d.Allowed)
	assert.True(t, d.BreakGlass)
	got := outcomes(d)
	assert.Equal(t, governance.Bypassed, got[governance.CheckEmergency])
	assert.Equal(t, governance.Bypassed, got[governance.CheckErrorBudget])
	assert.Equal(t, governance.Bypassed, got[governance.CheckStrict])
	used := r.events("governance.break_glass_used")
	require.Len(t, used, 1)
	assert.Equal(t, "root", used[0]["who"])

	st := r.g.Status(ctx)
	require.NotNil(t, st.BreakGlass)
	require.Len(t, st.Reviews, 1)
	assert.True(t, st.Reviews[0].Review)
	assert.Equal(t, governance.ActionBreakGlassOpen, st.Reviews[0].Action)

	// Break Glass never overrides the kill switch.
	r.in.set(func(in *inputs) { in.enabled = false })
	d = r.g.Check(ctx, replay)
	assert.False(t, d.Allowed)
	assert.Equal(t, governance.CheckKillSwitch, d.BlockedBy)
	r.in.set(func(in *inputs) { in.enabled = true })

	r.clock.Advance(time.Hour)
	d = r.g.Check(ctx, replay)
	assert.False(t, d.Allowed, "expired by itself")
	assert.Equal(t, governance.CheckEmergency, d.BlockedBy)
	st = r.g.Status(ctx)
	assert.Nil(t, st.BreakGlass)
	assert.Len(t, st.Reviews, 1, "the review flag outlives the grant")
}

func TestErrorBudgetFromTheLedgerOverTheWindow(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	// 99.9 % of 10 000 calls allows 10 failures.
	require.NoError(t, r.ledger.Add(ctx, "payments", t0, 6000, 4))
	require.NoError(t, r.ledger.Add(ctx, "payments", t0.AddDate(0, 0, -29), 4000, 5))
	d := r.g.Check(ctx, replay)
	assert.True(t, d.Allowed)
	assert.Contains(t, d.Checks[2].Detail, "payments 10% left")

	require.NoError(t, r.ledger.Add(ctx, "payments", t0, 0, 1))
	d = r.g.Check(ctx, replay)
	assert.False(t, d.Allowed)
	assert.Equal(t, "error budget of payments exhausted: 10 failures of 10000 calls against 10.0 allowed by 99.9%/30d", d.Reason)

	// A day out of the window no longer counts: 29 days later the window
	// runs from t0 to today, and the bucket 29 days before t0 is out.
	r.clock.Advance(29 * 24 * time.Hour)
	calls, failures, err := r.ledger.Window(ctx, "payments", r.clock.Now(), 30*24*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, [2]uint64{6000, 5}, [2]uint64{calls, failures}, "the bucket 29 days before t0 fell out")
	assert.True(t, r.g.Check(ctx, replay).Allowed, "5 failures of 6 000 calls are within 6")

	// A service without an objective has no budget check; one without calls has its whole budget.
	d = r.g.Check(ctx, governance.Action{Name: "x", Service: "ledger"})
	assert.Equal(t, governance.Off, outcomes(d)[governance.CheckErrorBudget])
}

func TestEmptyServiceChecksEveryObjective(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *governance.Options) {
		o.Objectives = governance.Objectives{
			"PAYMENTS":  {Target: 0.99, Window: 24 * time.Hour},
			"LEDGER_V2": {Target: 0.99, Window: 24 * time.Hour},
		}
		o.Services = func() []string { return []string{"payments", "ledger-v2", "search"} }
	})
	ctx := context.Background()
	require.NoError(t, r.ledger.Add(ctx, "ledger-v2", t0, 100, 2))
	d := r.g.Check(ctx, governance.Action{Name: "sweep"})
	assert.False(t, d.Allowed)
	assert.Contains(t, d.Reason, "error budget of ledger-v2 exhausted")
	st := r.g.Status(ctx)
	assert.Equal(t, []governance.ObjectiveOf{{Service: "ledger-v2", Objective: "99%/1d"}, {Service: "payments", Objective: "99%/1d"}}, st.Objectives)
}

func TestParseObjective(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]governance.Objective{
		"99.9%":     {Target: 0.999, Window: 30 * 24 * time.Hour},
		"99.9":      {Target: 0.999, Window: 30 * 24 * time.Hour},
		" 99.5%/7d": {Target: 0.995, Window: 7 * 24 * time.Hour},
	} {
		got, err := governance.ParseObjective(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want.Target, got.Target, 1e-12, in)
		assert.Equal(t, want.Window, got.Window, in)
	}
	for _, bad := range []string{"", "100%", "0", "-1", "abc", "99%/0d", "99%/7h", "99%/400d", "NaN"} {
		_, err := governance.ParseObjective(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "BALDUR_SLO_PAYMENTS_V2", governance.EnvName("payments-v2"))
}

func TestObjectivesFromEnvNameEveryBadVariable(t *testing.T) {
	t.Parallel()
	environ := []string{"BALDUR_SLO_PAYMENTS=99.9%", "BALDUR_SLO_LEDGER=150%", "BALDUR_SLO_=99", "HOME=/root"}
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, _ := cutEq(kv)
		vars[k] = v
	}
	r := env.New(env.Map(vars))
	obj := governance.ObjectivesFromEnv(r, environ)
	o, ok := obj.For("payments")
	require.True(t, ok)
	assert.InDelta(t, 0.999, o.Target, 1e-12)
	err := r.Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `BALDUR_SLO_LEDGER="150%": want a percentage between 0 and 100`)
	assert.Contains(t, err.Error(), "BALDUR_SLO_: want BALDUR_SLO_<SERVICE>")
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func cutEq(kv string) (string, string, bool) {
	for i := range kv {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func TestStatusShowsEachCheckWithoutActing(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	r.in.set(func(in *inputs) { in.level = emergency.High })
	st := r.g.Status(ctx)
	require.Len(t, st.Checks, 4)
	assert.Equal(t, governance.CheckEmergency, st.BlockedBy)
	assert.Equal(t, "HIGH", st.BlockAt)
	assert.Empty(t, r.events("governance.action_blocked"), "status is not an action")
}

// Two gates on two connections to one private Redis: STRICT mode and Break
// Glass declared through one are in force in the other.
func TestStrictAndBreakGlassAreFleetWide(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	clk := clock.NewFake(t0)
	var gates []*governance.Gate
	for i := range 2 {
		st, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Prefix: "govtest:"})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		g, err := governance.New(governance.Options{Store: st, Clock: clk, Node: []string{"a", "b"}[i], Logger: quiet(),
			Emergency: governance.LevelFunc(func(context.Context) (emergency.Level, error) { return emergency.High, nil })})
		require.NoError(t, err)
		gates = append(gates, g)
	}
	assert.Equal(t, governance.CheckEmergency, gates[1].Check(ctx, replay).BlockedBy)
	_, err := gates[0].OpenBreakGlass(ctx, "root", "drain the DLQ", control.Confirmation, time.Hour)
	require.NoError(t, err)
	assert.True(t, gates[1].Check(ctx, replay).Allowed, "Break Glass opened on a reaches b")
	_, err = gates[1].DeclareStrict(ctx, "alice", "freeze", time.Hour)
	require.NoError(t, err)
	_, err = gates[0].CloseBreakGlass(ctx, "root", "done")
	require.NoError(t, err)
	d := gates[0].Check(ctx, replay)
	assert.Equal(t, governance.CheckEmergency, d.BlockedBy)
	assert.Equal(t, governance.Block, outcomes(d)[governance.CheckStrict], "STRICT declared on b holds on a")
	assert.Len(t, gates[0].Status(ctx).Reviews, 1)
}

// degradedStore is a store that says it serves from its local copy.
type degradedStore struct{ store.Store }

func (degradedStore) Mode() store.Mode { return store.ModeDegraded }

// While the store is DEGRADED the fleet's STRICT mode and ledger are not
// visible: the checks that need them are FAILSAFE (allowed, raised), and a
// change is refused rather than written where the fleet cannot see it.
func TestDegradedStoreMakesStrictAndBudgetFailsafe(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *governance.Options) { o.Store = degradedStore{o.Store}; o.Counts = nil })
	d := r.g.Check(context.Background(), replay)
	assert.True(t, d.Allowed)
	assert.Equal(t, governance.Failsafe, outcomes(d)[governance.CheckStrict])
	assert.Equal(t, governance.Failsafe, outcomes(d)[governance.CheckErrorBudget])
	assert.Contains(t, d.Checks[3].Detail, "DEGRADED")
	_, err := r.g.DeclareStrict(context.Background(), "alice", "freeze", time.Hour)
	assert.ErrorContains(t, err, "DEGRADED")
}
