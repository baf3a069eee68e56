package emergency_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeSource is the runtime's sample, set by the test.
type fakeSource struct {
	mu  sync.Mutex
	s   emergency.Sample
	err error
}

func (f *fakeSource) Sample(context.Context) (emergency.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s, f.err
}

// calls adds calls, of which failures failed.
func (f *fakeSource) calls(calls, failures uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s.Calls += calls
	f.s.Failures += failures
}

func (f *fakeSource) set(fn func(s *emergency.Sample)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.s)
}

func (f *fakeSource) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// fakeHost is the machine's CPU and load, set by the test.
type fakeHost struct {
	mu  sync.Mutex
	r   emergency.HostReading
	err error
}

func (h *fakeHost) Read() (emergency.HostReading, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.r, h.err
}

func (h *fakeHost) set(cpu, load float64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.r, h.err = emergency.HostReading{CPU: cpu, Load: load}, err
}

// target records the levels applied.
type target struct {
	mu      sync.Mutex
	levels  []emergency.Level
	changed chan emergency.Level
}

func (t *target) SetEmergencyLevel(l emergency.Level) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.levels = append(t.levels, l)
	select {
	case t.changed <- l:
	default:
	}
}

func (t *target) last() emergency.Level {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.levels[len(t.levels)-1]
}

type rig struct {
	e      *emergency.Emergency
	clock  *clock.Fake
	source *fakeSource
	host   *fakeHost
	target *target
	logs   *logtest.Buffer
}

// newRig builds an Emergency on a memory store with a fake clock, fake
// signals (calm: no calls, 10 % cpu, load 0.1) and no background
// evaluation: the test calls Tick.
func newRig(t *testing.T, mod func(*emergency.Options)) *rig {
	t.Helper()
	r := &rig{clock: clock.NewFake(t0), source: &fakeSource{}, host: &fakeHost{}, target: &target{changed: make(chan emergency.Level, 64)}, logs: &logtest.Buffer{}}
	r.host.set(0.10, 0.1, nil)
	opts := emergency.Options{Clock: r.clock, Source: r.source, Host: r.host, Target: r.target,
		EvalInterval: -1, PollInterval: -1, Node: "test",
		Logger: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&opts)
	}
	e, err := emergency.New(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	r.e = e
	return r
}

func (r *rig) tick(t *testing.T) {
	t.Helper()
	require.NoError(t, r.e.Tick(context.Background()))
}

func (r *rig) events(event string) []map[string]any { return r.logs.Records(event) }

func TestLevelsParseAndPrint(t *testing.T) {
	t.Parallel()
	for i, l := range emergency.Levels {
		assert.Equal(t, emergency.Level(i), l)
		got, err := emergency.ParseLevel(strings.ToLower(l.String()))
		require.NoError(t, err)
		assert.Equal(t, l, got)
		b, err := json.Marshal(l)
		require.NoError(t, err)
		assert.Equal(t, `"`+l.String()+`"`, string(b))
	}
	assert.True(t, emergency.Normal < emergency.Elevated && emergency.Elevated < emergency.High && emergency.High < emergency.Critical)
	_, err := emergency.ParseLevel("SEVERE")
	assert.ErrorContains(t, err, `emergency level "SEVERE": want NORMAL, ELEVATED, HIGH or CRITICAL`)
	_, err = json.Marshal(emergency.Level(7))
	assert.Error(t, err)
}

func TestStartsNormalAndAppliesIt(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	assert.Equal(t, emergency.Normal, r.e.Level())
	assert.Equal(t, emergency.Normal, r.target.last())
	st := r.e.Status()
	assert.Equal(t, "memory", st.Backend)
	assert.True(t, st.Auto)
	assert.Empty(t, st.StateError)
}

func TestDeclareNeedsAReasonAndRaisesAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	_, err := r.e.Declare(ctx, "alice", emergency.High, "")
	require.ErrorIs(t, err, control.ErrReasonRequired)
	_, err = r.e.Declare(ctx, "alice", emergency.High, "\u200b")
	require.ErrorIs(t, err, control.ErrReasonRequired)
	_, err = r.e.Declare(ctx, "alice", emergency.Normal, "calm")
	require.ErrorContains(t, err, "NORMAL is reached by a release")
	assert.Equal(t, emergency.Normal, r.e.Level())

	s, err := r.e.Declare(ctx, "alice", emergency.High, "payments and ledger down")
	require.NoError(t, err)
	assert.Equal(t, emergency.High, s.Level)
	assert.Equal(t, emergency.High, r.e.Level(), "in force at once")
	assert.Equal(t, emergency.High, r.target.last())
	st := r.e.Status()
	assert.Equal(t, emergency.SourceOperator, st.Source)
	assert.Equal(t, emergency.High, st.Floor)
	assert.Equal(t, "alice", st.ChangedBy)
	assert.Equal(t, "payments and ledger down", st.Reason)
	require.Len(t, st.History, 1)
	assert.Equal(t, emergency.ActionDeclare, st.History[0].Action)
	assert.Len(t, r.events("emergency.level_declared"), 1)
	assert.Len(t, r.events("emergency.level_raised"), 1)

	_, err = r.e.Declare(ctx, "bob", emergency.Elevated, "less bad")
	require.ErrorIs(t, err, emergency.ErrWouldLower)
	assert.Equal(t, emergency.High, r.e.Level())
}

func TestSignalsRaiseTheLevelToWhatTheyDemand(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.tick(t) // first sample: no interval yet
	r.source.calls(100, 5)
	r.tick(t)
	assert.Equal(t, emergency.Normal, r.e.Level(), "5 % errors demand nothing")

	r.source.calls(100, 30)
	r.tick(t)
	assert.Equal(t, emergency.High, r.e.Level(), "30 % errors ≥ 25 %")
	st := r.e.Status()
	assert.Equal(t, emergency.SourceAuto, st.Source)
	assert.Contains(t, st.Reason, "error rate 30.0% ≥ 25% over 100 calls (HIGH)")

	r.source.set(func(s *emergency.Sample) { s.Breakers, s.BreakersOpen = 8, 7 })
	r.source.calls(10, 10) // below MinCalls: the error rate demands nothing
	r.tick(t)
	assert.Equal(t, emergency.Critical, r.e.Level(), "7 of 8 breakers open ≥ 75 %")
	assert.Contains(t, r.e.Status().Reason, "breakers open 87.5% ≥ 75% (CRITICAL)")
}

func TestThresholdsDemand(t *testing.T) {
	t.Parallel()
	thr := emergency.DefaultThresholds()
	for _, tc := range []struct {
		name string
		r    emergency.Reading
		want emergency.Level
	}{
		{"calm", emergency.Reading{Calls: 100, ErrorRate: 0.01, CPU: 0.2, Load: 0.5}, emergency.Normal},
		{"errors elevated", emergency.Reading{Calls: 100, ErrorRate: 0.10}, emergency.Elevated},
		{"errors below the call floor", emergency.Reading{Calls: 19, ErrorRate: 1}, emergency.Normal},
		{"one breaker of two open", emergency.Reading{Breakers: 2, BreakersOpen: 0.5}, emergency.Normal},
		{"half of four breakers open", emergency.Reading{Breakers: 4, BreakersOpen: 0.5}, emergency.High},
		{"degraded 6m", emergency.Reading{Degraded: 6 * time.Minute}, emergency.High},
		{"degraded 20m", emergency.Reading{Degraded: 20 * time.Minute}, emergency.Critical},
		{"cpu 95 %", emergency.Reading{CPU: 0.95}, emergency.Elevated},
		{"cpu 100 % never demands CRITICAL", emergency.Reading{CPU: 1}, emergency.High},
		{"load 4.5 per cpu", emergency.Reading{Load: 4.5}, emergency.High},
		{"unreadable calls demand nothing", emergency.Reading{CallsError: "x", Calls: 100, ErrorRate: 1, Breakers: 9, BreakersOpen: 1}, emergency.Normal},
		{"unreadable host demands nothing", emergency.Reading{HostError: "x", CPU: 1, Load: 9}, emergency.Normal},
	} {
		got, why := thr.Demand(tc.r)
		assert.Equal(t, tc.want, got, tc.name)
		if tc.want > emergency.Normal {
			assert.NotEmpty(t, why, tc.name)
		}
	}
}

// A release steps down one level per stabilisation window, each step through
// the gate, and ends at its target.
func TestReleaseStepsDownOneLevelPerStabilisationWindow(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *emergency.Options) { o.Stabilisation = 5 * time.Minute })
	ctx := context.Background()
	r.tick(t) // prime the error rate
	_, err := r.e.Declare(ctx, "alice", emergency.Critical, "fleet on fire")
	require.NoError(t, err)

	r.clock.Advance(time.Minute)
	r.source.calls(100, 0)
	_, err = r.e.Release(ctx, "alice", emergency.Normal, "fixed")
	require.NoError(t, err)
	assert.Equal(t, emergency.Critical, r.e.Level(), "4 minutes of the window left")
	assert.Contains(t, r.e.Status().RecoveryHeld, "stabilising until")
	assert.Equal(t, t0.Add(5*time.Minute), r.e.Status().NextStepAt)

	r.clock.Advance(4*time.Minute - time.Second)
	r.source.calls(100, 0)
	r.tick(t)
	assert.Equal(t, emergency.Critical, r.e.Level(), "one second of the window left")

	want := []emergency.Level{emergency.High, emergency.Elevated, emergency.Normal}
	r.clock.Advance(time.Second)
	for i, w := range want {
		r.source.calls(100, 0)
		r.tick(t)
		assert.Equal(t, w, r.e.Level(), "step %d", i+1)
		r.source.calls(100, 0)
		r.tick(t)
		assert.Equal(t, w, r.e.Level(), "one step per window, step %d", i+1)
		r.clock.Advance(5 * time.Minute)
	}
	st := r.e.Status()
	assert.Nil(t, st.Recovery, "the recovery ended at its target")
	var steps int
	for _, c := range st.History {
		if c.Action == emergency.ActionStepDown {
			steps++
			assert.Contains(t, c.Reason, "gate passed")
		}
	}
	assert.Equal(t, 3, steps)
	assert.Equal(t, []emergency.Level{emergency.Normal, emergency.Critical, emergency.High, emergency.Elevated, emergency.Normal}, r.target.levels)
}

// With the error rate or CPU/load unreadable, no level ever drops.
func TestRecoveryGateHoldsWhenMetricsAreUnreadable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		break_ func(r *rig)
		want   string
	}{
		{"host unreadable", func(r *rig) { r.host.set(0, 0, errors.New("open /proc/stat: permission denied")) },
			"cpu and load unreadable: open /proc/stat: permission denied"},
		{"calls unreadable", func(r *rig) { r.source.fail(errors.New("runtime closed")) },
			"error rate unreadable: runtime closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, func(o *emergency.Options) { o.Stabilisation = time.Minute })
			ctx := context.Background()
			r.tick(t)
			_, err := r.e.Declare(ctx, "alice", emergency.High, "incident")
			require.NoError(t, err)
			tc.break_(r)
			_, err = r.e.Release(ctx, "alice", emergency.Normal, "looks fixed")
			require.NoError(t, err)
			for range 10 {
				r.clock.Advance(time.Hour)
				r.source.calls(100, 0)
				r.tick(t)
				assert.Equal(t, emergency.High, r.e.Level())
			}
			st := r.e.Status()
			assert.Contains(t, st.RecoveryHeld, tc.want)
			require.NotNil(t, st.Recovery, "the recovery is held, not abandoned")
			held := r.events("emergency.recovery_held")
			require.Len(t, held, 1, "logged once while the reason stays")
			assert.Contains(t, held[0]["why"], tc.want)
		})
	}
}

// A gate that fails after the first step holds the level reached, and the
// recovery carries on once the readings are safe again.
func TestFailedRecheckMidRecoveryHoldsTheLevel(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *emergency.Options) { o.Stabilisation = time.Minute })
	ctx := context.Background()
	r.tick(t)
	_, err := r.e.Declare(ctx, "alice", emergency.Critical, "incident")
	require.NoError(t, err)
	r.clock.Advance(time.Minute)
	r.source.calls(100, 1)
	_, err = r.e.Release(ctx, "alice", emergency.Normal, "fixed")
	require.NoError(t, err)
	assert.Equal(t, emergency.High, r.e.Level(), "the first step was due at once")

	r.clock.Advance(time.Minute)
	r.source.calls(100, 8) // 8 %: demands nothing, but above the safe 5 %
	r.tick(t)
	assert.Equal(t, emergency.High, r.e.Level())
	assert.Contains(t, r.e.Status().RecoveryHeld, "error rate 8.0% ≥ safe 5.0%")

	r.clock.Advance(time.Minute)
	r.source.calls(100, 0)
	r.host.set(0.85, 0.2, nil)
	r.tick(t)
	assert.Equal(t, emergency.High, r.e.Level())
	assert.Contains(t, r.e.Status().RecoveryHeld, "cpu 85.0% ≥ safe 70.0%")

	r.host.set(0.30, 2.0, nil)
	r.source.calls(100, 0)
	r.tick(t)
	assert.Equal(t, emergency.High, r.e.Level())
	assert.Contains(t, r.e.Status().RecoveryHeld, "load 2.00 per cpu ≥ safe 1.5")

	r.host.set(0.30, 0.5, nil)
	r.source.calls(100, 0)
	r.tick(t)
	assert.Equal(t, emergency.Elevated, r.e.Level(), "safe again: the recovery goes on")
	assert.Empty(t, r.e.Status().RecoveryHeld)
}

func TestRaisedAutomaticallyRecoversAutomaticallyButNotBelowTheDeclaredFloor(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *emergency.Options) { o.Stabilisation = time.Minute })
	ctx := context.Background()
	r.tick(t)
	_, err := r.e.Declare(ctx, "alice", emergency.Elevated, "watching a deploy")
	require.NoError(t, err)
	r.source.calls(100, 60)
	r.tick(t)
	assert.Equal(t, emergency.Critical, r.e.Level())

	for range 5 {
		r.clock.Advance(time.Minute)
		r.source.calls(100, 0)
		r.tick(t)
	}
	assert.Equal(t, emergency.Elevated, r.e.Level(), "down to the operator's floor, no further")
	st := r.e.Status()
	assert.Nil(t, st.Recovery)
	var recovered bool
	for _, c := range st.History {
		recovered = recovered || c.Action == emergency.ActionRecover
	}
	assert.True(t, recovered, "the automatic recovery is in the history")
}

func TestManualModeNeitherRaisesNorRecovers(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *emergency.Options) { o.Manual = true })
	r.tick(t)
	r.source.calls(100, 100)
	r.tick(t)
	assert.Equal(t, emergency.Normal, r.e.Level())
	assert.False(t, r.e.Status().Auto)
}

func TestForceReleaseNeedsConfirmationAndAReasonAndIsFlaggedForReview(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	ctx := context.Background()
	r.host.set(0, 0, errors.New("no /proc here")) // the gate could never pass
	_, err := r.e.Declare(ctx, "alice", emergency.Critical, "incident")
	require.NoError(t, err)

	_, err = r.e.ForceRelease(ctx, "root", emergency.Normal, "", "signals are wrong")
	require.ErrorIs(t, err, control.ErrConfirmationRequired)
	_, err = r.e.ForceRelease(ctx, "root", emergency.Normal, "confirm", "signals are wrong")
	require.ErrorIs(t, err, control.ErrConfirmationRequired)
	_, err = r.e.ForceRelease(ctx, "root", emergency.Normal, emergency.Confirmation, " ")
	require.ErrorIs(t, err, control.ErrReasonRequired)
	assert.Equal(t, emergency.Critical, r.e.Level())

	s, err := r.e.ForceRelease(ctx, "root", emergency.Normal, emergency.Confirmation, "the host reader is broken")
	require.NoError(t, err)
	assert.Equal(t, emergency.Normal, s.Level)
	assert.Equal(t, emergency.Normal, r.e.Level(), "no gate, no window")
	st := r.e.Status()
	require.Len(t, st.Reviews, 1)
	assert.Equal(t, emergency.ActionForceRelease, st.Reviews[0].Action)
	assert.Equal(t, emergency.Critical, st.Reviews[0].From)
	assert.Equal(t, "root", st.Reviews[0].Who)
	assert.True(t, st.Reviews[0].Review)
	ev := r.events("emergency.force_released")
	require.Len(t, ev, 1, "refused attempts change nothing and log nothing")
	assert.Equal(t, true, ev[0]["review_required"])
	assert.Equal(t, "CRITICAL", ev[0]["from"])

	_, err = r.e.ForceRelease(ctx, "root", emergency.Normal, emergency.Confirmation, "again")
	require.ErrorIs(t, err, emergency.ErrNotLower)
}

// unreachable is a store that fails every call while down is set.
type unreachable struct {
	store.Store
	mu   sync.Mutex
	down bool
}

func (u *unreachable) setDown(d bool) { u.mu.Lock(); u.down = d; u.mu.Unlock() }

func (u *unreachable) err() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.down {
		return store.ErrUnavailable
	}
	return nil
}

func (u *unreachable) Get(ctx context.Context, key string) ([]byte, error) {
	if err := u.err(); err != nil {
		return nil, err
	}
	return u.Store.Get(ctx, key)
}

func (u *unreachable) Atomic(ctx context.Context, txn store.Txn) (store.TxnResult, error) {
	if err := u.err(); err != nil {
		return store.TxnResult{}, err
	}
	return u.Store.Atomic(ctx, txn)
}

// With the store unreachable, a raise is in force here at once and reaches
// the fleet state when the store answers; nothing is lowered meanwhile.
func TestStoreUnreachableRaisesLocallyAndPublishesLater(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	t.Cleanup(func() { mem.Close() })
	st := &unreachable{Store: mem}
	r := newRig(t, func(o *emergency.Options) { o.Store = st; o.Stabilisation = time.Minute })
	ctx := context.Background()
	r.tick(t)
	st.setDown(true)
	_, err := r.e.Declare(ctx, "alice", emergency.High, "redis and payments down")
	require.ErrorIs(t, err, emergency.ErrUnavailable)
	assert.Equal(t, emergency.High, r.e.Level(), "in force here at once")
	status := r.e.Status()
	assert.True(t, status.PendingFleet)
	assert.Contains(t, status.StateError, "the fleet store is unreachable")
	assert.Len(t, r.events("emergency.state_unreadable"), 1)

	st.setDown(false)
	r.source.calls(100, 0)
	r.tick(t)
	raw, err := mem.Get(ctx, emergency.StateKey)
	require.NoError(t, err)
	s, err := emergency.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, emergency.High, s.Level, "the raise reached the fleet state")
	assert.False(t, r.e.Status().PendingFleet)
	assert.Empty(t, r.e.Status().StateError)
}

// A corrupt fleet state keeps the last known level (fail closed); a
// declaration overwrites it, after logging the bad bytes.
func TestCorruptStateKeepsTheLastKnownLevel(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	t.Cleanup(func() { mem.Close() })
	r := newRig(t, func(o *emergency.Options) { o.Store = mem })
	ctx := context.Background()
	_, err := r.e.Declare(ctx, "alice", emergency.High, "incident")
	require.NoError(t, err)
	require.NoError(t, mem.Set(ctx, emergency.StateKey, []byte(`{"schema":1,"level":"NORMAL","source":"weird"}`), 0))
	err = r.e.Refresh(ctx)
	require.ErrorIs(t, err, emergency.ErrCorrupt)
	assert.Equal(t, emergency.High, r.e.Level())

	_, err = r.e.Declare(ctx, "alice", emergency.Critical, "worse")
	require.NoError(t, err)
	assert.Len(t, r.events("emergency.state_corrupt"), 1)
	raw, err := mem.Get(ctx, emergency.StateKey)
	require.NoError(t, err)
	s, err := emergency.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, emergency.Critical, s.Level)
}

func TestProcHostReadsCPUAndLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(stat, load string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "loadavg"), []byte(load), 0o600))
	}
	h := &emergency.ProcHost{Root: dir, CPUs: 2}
	write("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n", "3.00 1.00 0.50 1/100 42\n")
	_, err := h.Read()
	require.ErrorIs(t, err, emergency.ErrFirstReading)
	// 300 more jiffies busy out of 400.
	write("cpu  300 0 200 800 100 0 0 0 0 0\n", "3.00 1.00 0.50 1/100 42\n")
	r, err := h.Read()
	require.NoError(t, err)
	assert.InDelta(t, 0.75, r.CPU, 1e-9)
	assert.InDelta(t, 1.5, r.Load, 1e-9)

	require.NoError(t, os.Remove(filepath.Join(dir, "loadavg")))
	_, err = h.Read()
	assert.ErrorContains(t, err, "load: open")
	write("intr 1 2 3\n", "1 1 1\n")
	_, err = h.Read()
	assert.ErrorContains(t, err, "does not start with a cpu line")

	// The real /proc, where there is one.
	if _, err := os.Stat("/proc/stat"); err == nil {
		real := &emergency.ProcHost{}
		_, _ = real.Read()
		r, err := real.Read()
		if err == nil { // two reads within one jiffy may see no movement
			assert.GreaterOrEqual(t, r.CPU, 0.0)
			assert.LessOrEqual(t, r.CPU, 1.0)
		}
	}
}

func TestSafeCheck(t *testing.T) {
	t.Parallel()
	s := emergency.DefaultSafe()
	assert.NoError(t, s.Check(emergency.Reading{Calls: 100, ErrorRate: 0.01, CPU: 0.5, Load: 1}))
	assert.NoError(t, s.Check(emergency.Reading{}), "no calls in the interval is no errors")
	err := s.Check(emergency.Reading{Calls: 100, ErrorRate: 0.2, CPU: 0.9, Load: 3})
	require.Error(t, err)
	assert.Equal(t, "error rate 20.0% ≥ safe 5.0%; cpu 90.0% ≥ safe 70.0%; load 3.00 per cpu ≥ safe 1.5", err.Error())
	err = s.Check(emergency.Reading{CallsError: "a", HostError: "b"})
	assert.EqualError(t, err, "error rate unreadable: a; cpu and load unreadable: b")
}

// The background evaluation runs on the clock: advancing a fake clock past
// EvalInterval evaluates the signals without a Tick.
func TestEvaluationRunsOnTheClock(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(o *emergency.Options) { o.EvalInterval = 10 * time.Second })
	r.source.set(func(s *emergency.Sample) { s.Breakers, s.BreakersOpen = 4, 4 })
	assert.Equal(t, emergency.Normal, await.Recv(t, r.target.changed, "the level applied at start"))
	r.clock.Advance(9 * time.Second)
	assert.Equal(t, emergency.Normal, r.e.Level(), "not evaluated before the interval")
	r.clock.Advance(time.Second)
	assert.Equal(t, emergency.Critical, await.Recv(t, r.target.changed, "the level raised by the evaluation on the clock"))
}

func TestLevelReadAllocatesNothing(t *testing.T) {
	r := newRig(t, nil)
	var sink emergency.Level
	allocs := testing.AllocsPerRun(1000, func() { sink = r.e.Level() })
	assert.Zero(t, allocs)
	_ = sink
}

func BenchmarkLevel(b *testing.B) {
	e, err := emergency.New(context.Background(), emergency.Options{EvalInterval: -1, PollInterval: -1, Logger: quietLogger()})
	require.NoError(b, err)
	defer e.Close()
	var sink emergency.Level
	b.ReportAllocs()
	for b.Loop() {
		sink = e.Level()
	}
	_ = sink
}
