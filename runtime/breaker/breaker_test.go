package breaker_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// rig is a breaker on a Fake clock that records its transitions.
type rig struct {
	*breaker.Breaker
	clk *clock.Fake
	mu  sync.Mutex
	trs []breaker.Transition
}

func newRig(t *testing.T, s breaker.Settings) *rig {
	t.Helper()
	r := &rig{clk: clock.NewFake(t0)}
	if s.Name == "" {
		s.Name = "payments"
	}
	s.Clock = r.clk
	s.OnStateChange = func(tr breaker.Transition) {
		r.mu.Lock()
		r.trs = append(r.trs, tr)
		r.mu.Unlock()
	}
	r.Breaker = breaker.New(s)
	t.Cleanup(func() {
		r.Close()
		assert.Zero(t, r.clk.Pending(), "Close leaves no timer armed")
	})
	return r
}

// edges returns the recorded transitions as "FROM>TO" strings.
func (r *rig) edges() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.trs))
	for _, tr := range r.trs {
		out = append(out, tr.From.String()+">"+tr.To.String())
	}
	return out
}

func (r *rig) lastTransition() breaker.Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.trs) == 0 {
		return breaker.Transition{}
	}
	return r.trs[len(r.trs)-1]
}

func (r *rig) succeed(t *testing.T, n int) {
	t.Helper()
	for range n {
		tk, ok := r.Allow()
		require.True(t, ok, "Allow in %s", r.State())
		r.Success(tk)
	}
}

func (r *rig) fail(t *testing.T, n int) {
	t.Helper()
	for range n {
		tk, ok := r.Allow()
		require.True(t, ok, "Allow in %s", r.State())
		r.Failure(tk)
	}
}

// openRig returns a rig that has just opened (threshold 1).
func openRig(t *testing.T, s breaker.Settings) *rig {
	t.Helper()
	s.FailureThreshold = 1
	r := newRig(t, s)
	r.fail(t, 1)
	require.Equal(t, breaker.Open, r.State())
	return r
}

// halfOpenRig returns a rig that has just gone HALF_OPEN.
func halfOpenRig(t *testing.T, s breaker.Settings) *rig {
	t.Helper()
	r := openRig(t, s)
	r.clk.Advance(r.Limits().RecoveryTimeout)
	require.Equal(t, breaker.HalfOpen, r.State())
	return r
}

func TestDefaults(t *testing.T) {
	b := breaker.New(breaker.Settings{})
	defer b.Close()
	assert.Equal(t, breaker.Limits{
		FailureThreshold: 5, MinimumCalls: 5, Window: 60 * time.Second,
		RecoveryTimeout: 60 * time.Second, HalfOpenMaxCalls: 3, HalfOpenMaxWait: 60 * time.Second,
	}, b.Limits())
	assert.Equal(t, breaker.Closed, b.State())

	b2 := breaker.New(breaker.Settings{FailureThreshold: 2, RecoveryTimeout: 7 * time.Second, MinimumCalls: -1})
	defer b2.Close()
	assert.Equal(t, 7*time.Second, b2.Limits().HalfOpenMaxWait, "HalfOpenMaxWait defaults to RecoveryTimeout")
	assert.Equal(t, 2, b2.Limits().MinimumCalls, "MinimumCalls defaults to FailureThreshold")
}

func TestStateString(t *testing.T) {
	for s, want := range map[breaker.State]string{
		breaker.Closed: "CLOSED", breaker.Open: "OPEN", breaker.HalfOpen: "HALF_OPEN",
		breaker.ForcedOpen: "FORCED_OPEN", breaker.ForcedClosed: "FORCED_CLOSED", breaker.State(9): "State(9)",
	} {
		assert.Equal(t, want, s.String())
	}
}

func TestOpensAtThresholdAndNotBefore(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 3})
	tk, ok := r.Allow()
	require.True(t, ok)
	assert.False(t, tk.Probe())
	r.Ignore(tk)
	r.fail(t, 2)
	r.succeed(t, 10) // successes do not reset failures: the window counts, it is not consecutive
	assert.Equal(t, breaker.Closed, r.State())
	assert.Equal(t, 2, r.Snapshot().Failures)

	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State())
	tr := r.lastTransition()
	assert.Equal(t, breaker.Transition{Name: "payments", From: breaker.Closed, To: breaker.Open, At: t0,
		Reason: "3 failures in 1m0s"}, tr)

	_, ok = r.Allow()
	assert.False(t, ok, "OPEN rejects")
}

func TestMinimumCallsFloor(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 2, MinimumCalls: 5})
	r.fail(t, 2)
	assert.Equal(t, breaker.Closed, r.State(), "2 failures in 2 calls: under the floor")
	r.succeed(t, 2)
	s := r.Snapshot()
	assert.True(t, s.CallsCounted)
	assert.Equal(t, 4, s.Calls)
	assert.Equal(t, 2, s.Failures)

	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State(), "3 failures in 5 calls")
	assert.Equal(t, "3 failures in 5 calls in 1m0s", r.lastTransition().Reason)
}

func TestMinimumCallsNotCountedWhenImpliedByThreshold(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 3, MinimumCalls: 3})
	r.succeed(t, 4)
	s := r.Snapshot()
	assert.False(t, s.CallsCounted)
	assert.Zero(t, s.Calls)
	assert.Zero(t, r.clk.Pending(), "no bucket clock is armed when calls are not counted")
}

func TestCallsWindowForgetsOldCalls(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 2, MinimumCalls: 4, Window: 10 * time.Second})
	r.succeed(t, 3)
	r.clk.Advance(10 * time.Second)
	assert.Equal(t, 0, r.Snapshot().Calls, "the successes left the window")
	r.fail(t, 2)
	assert.Equal(t, breaker.Closed, r.State(), "2 failures in 2 calls")
	r.clk.Advance(5 * time.Second)
	r.succeed(t, 1)
	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State(), "3 failures in 4 calls")
}

func TestWindowForgetsOldFailures(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 3, Window: 60 * time.Second})
	r.fail(t, 2)
	r.clk.Advance(60 * time.Second)
	assert.Zero(t, r.Snapshot().Failures)
	r.fail(t, 2)
	assert.Equal(t, breaker.Closed, r.State(), "only 2 failures in the window")
	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State())
}

func TestWindowKeepsFailuresInsideIt(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 3, Window: 60 * time.Second})
	r.fail(t, 1)
	r.clk.Advance(30 * time.Second)
	r.fail(t, 1)
	r.clk.Advance(29 * time.Second) // 59s after the first failure: still in its 10-bucket window
	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State())
}

func TestRecoveryTimeoutMovesToHalfOpen(t *testing.T) {
	r := openRig(t, breaker.Settings{RecoveryTimeout: 30 * time.Second})
	r.clk.Advance(30*time.Second - time.Nanosecond)
	assert.Equal(t, breaker.Open, r.State())
	r.clk.Advance(time.Nanosecond)
	assert.Equal(t, breaker.HalfOpen, r.State())
	s := r.Snapshot()
	assert.Equal(t, t0, s.OpenedAt)
	assert.Equal(t, t0.Add(30*time.Second), s.HalfOpenAt)
	assert.Equal(t, "recovery timeout elapsed", r.lastTransition().Reason)
}

func TestHalfOpenLimitsProbes(t *testing.T) {
	r := halfOpenRig(t, breaker.Settings{HalfOpenMaxCalls: 2})
	p1, ok := r.Allow()
	require.True(t, ok)
	assert.True(t, p1.Probe())
	p2, ok := r.Allow()
	require.True(t, ok)
	_, ok = r.Allow()
	assert.False(t, ok, "both probe slots are taken")
	assert.Equal(t, 2, r.Snapshot().HalfOpenAdmitted)

	r.Ignore(p2)
	p3, ok := r.Allow()
	assert.True(t, ok, "Ignore gave the slot back")
	r.Success(p1)
	r.Success(p3)
	assert.Equal(t, breaker.Closed, r.State())
}

func TestAllProbesSucceedCloses(t *testing.T) {
	r := halfOpenRig(t, breaker.Settings{HalfOpenMaxCalls: 3})
	var probes []breaker.Ticket
	for range 3 {
		p, ok := r.Allow()
		require.True(t, ok)
		probes = append(probes, p)
	}
	r.Success(probes[0])
	r.Success(probes[1])
	assert.Equal(t, breaker.HalfOpen, r.State())
	assert.Equal(t, 2, r.Snapshot().HalfOpenSucceeded)
	r.Success(probes[2])
	assert.Equal(t, breaker.Closed, r.State())
	assert.Equal(t, "3 half-open probes succeeded", r.lastTransition().Reason)

	// Counts start afresh: the failure that opened the breaker is gone.
	assert.Zero(t, r.Snapshot().Failures)
	assert.Zero(t, r.clk.Pending(), "no timer left once CLOSED")
}

func TestFailedProbeReopens(t *testing.T) {
	r := halfOpenRig(t, breaker.Settings{HalfOpenMaxCalls: 3, RecoveryTimeout: 10 * time.Second})
	p1, _ := r.Allow()
	p2, _ := r.Allow()
	r.Success(p1)
	r.clk.Advance(time.Second)
	r.Failure(p2)
	assert.Equal(t, breaker.Open, r.State())
	assert.Equal(t, "half-open probe failed", r.lastTransition().Reason)
	assert.Equal(t, t0.Add(11*time.Second), r.Snapshot().OpenedAt)

	r.clk.Advance(10*time.Second - time.Nanosecond)
	assert.Equal(t, breaker.Open, r.State(), "a fresh recovery timeout runs from the re-opening")
	r.clk.Advance(time.Nanosecond)
	assert.Equal(t, breaker.HalfOpen, r.State())
}

func TestHungProbeIsCappedByHalfOpenMaxWait(t *testing.T) {
	r := halfOpenRig(t, breaker.Settings{HalfOpenMaxCalls: 1, RecoveryTimeout: 10 * time.Second, HalfOpenMaxWait: 5 * time.Second})
	hung, ok := r.Allow()
	require.True(t, ok)
	r.clk.Advance(5*time.Second - time.Nanosecond)
	assert.Equal(t, breaker.HalfOpen, r.State())
	r.clk.Advance(time.Nanosecond)
	assert.Equal(t, breaker.Open, r.State())
	assert.Equal(t, "half-open not concluded within 5s", r.lastTransition().Reason)

	r.clk.Advance(10 * time.Second)
	require.Equal(t, breaker.HalfOpen, r.State())
	r.Success(hung) // the hung probe finally returns, in a later HALF_OPEN
	assert.Equal(t, breaker.HalfOpen, r.State(), "a probe of an earlier HALF_OPEN does not close it")
	assert.Zero(t, r.Snapshot().HalfOpenSucceeded)
}

func TestHalfOpenWaitCapAlsoFiresWithoutProbes(t *testing.T) {
	r := halfOpenRig(t, breaker.Settings{HalfOpenMaxWait: time.Second})
	r.clk.Advance(time.Second)
	assert.Equal(t, breaker.Open, r.State())
}

func TestStaleTicketsAreIgnored(t *testing.T) {
	t.Run("success from CLOSED does not count as a probe", func(t *testing.T) {
		r := newRig(t, breaker.Settings{FailureThreshold: 1, HalfOpenMaxCalls: 1})
		slow, ok := r.Allow()
		require.True(t, ok)
		r.fail(t, 1)
		r.clk.Advance(r.Limits().RecoveryTimeout)
		require.Equal(t, breaker.HalfOpen, r.State())
		r.Success(slow)
		r.Failure(slow)
		assert.Equal(t, breaker.HalfOpen, r.State())
		assert.Zero(t, r.Snapshot().HalfOpenSucceeded)
	})
	t.Run("failure from CLOSED does not re-open a force-closed breaker", func(t *testing.T) {
		r := newRig(t, breaker.Settings{FailureThreshold: 1})
		slow, _ := r.Allow()
		r.ForceClose("maintenance")
		r.Failure(slow)
		assert.Equal(t, breaker.ForcedClosed, r.State())
		r.Auto("done")
		r.Failure(slow)
		assert.Equal(t, breaker.Closed, r.State(), "nor a breaker that went back to auto")
		assert.Zero(t, r.Snapshot().Failures)
	})
	t.Run("failure from an earlier CLOSED period is not counted", func(t *testing.T) {
		r := newRig(t, breaker.Settings{FailureThreshold: 2})
		slow, _ := r.Allow()
		r.Reset("operator")
		r.Failure(slow)
		r.fail(t, 1)
		assert.Equal(t, breaker.Closed, r.State())
		assert.Equal(t, 1, r.Snapshot().Failures)
	})
	t.Run("probe of an earlier HALF_OPEN", func(t *testing.T) {
		r := halfOpenRig(t, breaker.Settings{HalfOpenMaxCalls: 2})
		old, _ := r.Allow()
		r.fail(t, 1) // the other probe fails: OPEN
		r.clk.Advance(r.Limits().RecoveryTimeout)
		require.Equal(t, breaker.HalfOpen, r.State())
		r.Failure(old)
		assert.Equal(t, breaker.HalfOpen, r.State(), "an old probe failure does not re-open")
		r.Ignore(old)
		r.Success(old)
		s := r.Snapshot()
		assert.Zero(t, s.HalfOpenAdmitted)
		assert.Zero(t, s.HalfOpenSucceeded)
	})
	t.Run("zero ticket", func(t *testing.T) {
		r := newRig(t, breaker.Settings{FailureThreshold: 1})
		r.Failure(breaker.Ticket{})
		r.Success(breaker.Ticket{})
		r.Ignore(breaker.Ticket{})
		assert.Equal(t, breaker.Closed, r.State())
		assert.Zero(t, r.Snapshot().Failures)
	})
}

func TestForcedStates(t *testing.T) {
	r := newRig(t, breaker.Settings{FailureThreshold: 1})
	r.ForceOpen("incident 42")
	_, ok := r.Allow()
	assert.False(t, ok)
	r.clk.Advance(24 * time.Hour)
	assert.Equal(t, breaker.ForcedOpen, r.State(), "timers do not move a forced breaker")
	r.ForceOpen("again") // no-op: already forced open

	r.ForceClose("bypass")
	for range 10 {
		tk, ok := r.Allow()
		require.True(t, ok)
		r.Failure(tk)
	}
	assert.Equal(t, breaker.ForcedClosed, r.State(), "forced states ignore outcomes")

	r.Auto("back to normal")
	assert.Equal(t, breaker.Closed, r.State())
	r.Auto("no-op on an automatic breaker")
	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State())
	r.Auto("still a no-op")
	assert.Equal(t, breaker.Open, r.State())

	r.Reset("operator reset")
	assert.Equal(t, breaker.Closed, r.State())
	assert.Zero(t, r.clk.Pending(), "reset stopped the recovery timer")
	r.ForceOpen("x")
	r.Reset("reset leaves forced states too")
	assert.Equal(t, breaker.Closed, r.State())
	r.Reset("reset of a closed breaker is not a transition")

	assert.Equal(t, []string{
		"CLOSED>FORCED_OPEN", "FORCED_OPEN>FORCED_CLOSED", "FORCED_CLOSED>CLOSED", "CLOSED>OPEN",
		"OPEN>CLOSED", "CLOSED>FORCED_OPEN", "FORCED_OPEN>CLOSED",
	}, r.edges())
	assert.Equal(t, "reset leaves forced states too", r.lastTransition().Reason)
}

func TestApplyMostRestrictiveWins(t *testing.T) {
	remoteOpened := t0.Add(-20 * time.Second)

	t.Run("closed adopts a remote open and recovers from its openedAt", func(t *testing.T) {
		r := newRig(t, breaker.Settings{RecoveryTimeout: 60 * time.Second})
		assert.True(t, r.Apply(breaker.Open, remoteOpened, "fleet: payments open on node-2"))
		assert.Equal(t, breaker.Open, r.State())
		assert.Equal(t, remoteOpened, r.Snapshot().OpenedAt)
		assert.Equal(t, "fleet: payments open on node-2", r.lastTransition().Reason)
		r.clk.Advance(40*time.Second - time.Nanosecond)
		assert.Equal(t, breaker.Open, r.State())
		r.clk.Advance(time.Nanosecond)
		assert.Equal(t, breaker.HalfOpen, r.State(), "60s after the remote openedAt")
	})
	t.Run("less restrictive remote states change nothing", func(t *testing.T) {
		r := openRig(t, breaker.Settings{})
		assert.False(t, r.Apply(breaker.Closed, time.Time{}, "x"))
		assert.False(t, r.Apply(breaker.HalfOpen, time.Time{}, "x"))
		assert.False(t, r.Apply(breaker.Open, t0.Add(-time.Second), "older open"))
		assert.False(t, r.Apply(breaker.Open, t0, "same open"))
		assert.Equal(t, breaker.Open, r.State())
		assert.Equal(t, []string{"CLOSED>OPEN"}, r.edges())
	})
	t.Run("an equal remote state changes nothing, not even the counts", func(t *testing.T) {
		r := newRig(t, breaker.Settings{FailureThreshold: 5})
		r.fail(t, 4)
		r.clk.Advance(time.Second)
		assert.False(t, r.Apply(breaker.Closed, r.clk.Now(), "a peer is closed"))
		r.fail(t, 1)
		assert.Equal(t, breaker.Open, r.State(), "the fifth failure opens: the four before it still count")
	})
	t.Run("a later remote open moves openedAt without a transition", func(t *testing.T) {
		r := openRig(t, breaker.Settings{RecoveryTimeout: 60 * time.Second})
		r.clk.Advance(30 * time.Second)
		assert.True(t, r.Apply(breaker.Open, t0.Add(30*time.Second), "node-3 re-opened"))
		assert.Equal(t, t0.Add(30*time.Second), r.Snapshot().OpenedAt)
		r.clk.Advance(59 * time.Second)
		assert.Equal(t, breaker.Open, r.State(), "recovery now runs from the later openedAt")
		r.clk.Advance(time.Second)
		assert.Equal(t, breaker.HalfOpen, r.State())
		assert.Equal(t, []string{"CLOSED>OPEN", "OPEN>HALF_OPEN"}, r.edges())
	})
	t.Run("a remote open from the future is capped at one recovery timeout", func(t *testing.T) {
		r := newRig(t, breaker.Settings{RecoveryTimeout: 10 * time.Second})
		assert.True(t, r.Apply(breaker.Open, t0.Add(time.Hour), "skewed clock"))
		r.clk.Advance(10 * time.Second)
		assert.Equal(t, breaker.HalfOpen, r.State())
	})
	t.Run("half-open adopts a remote open; closed adopts a remote half-open", func(t *testing.T) {
		r := halfOpenRig(t, breaker.Settings{})
		probe, _ := r.Allow()
		assert.True(t, r.Apply(breaker.Open, time.Time{}, "probe failed elsewhere"))
		assert.Equal(t, breaker.Open, r.State())
		r.Success(probe)
		assert.Equal(t, breaker.Open, r.State())

		c := newRig(t, breaker.Settings{})
		assert.True(t, c.Apply(breaker.HalfOpen, time.Time{}, "fleet probing"))
		assert.Equal(t, breaker.HalfOpen, c.State())
		_, ok := c.Allow()
		assert.True(t, ok, "this node probes too")
	})
	t.Run("old news is not adopted", func(t *testing.T) {
		r := halfOpenRig(t, breaker.Settings{RecoveryTimeout: 10 * time.Second}) // opened t0, half-open t0+10s
		assert.False(t, r.Apply(breaker.Open, t0, "a peer still reports the episode we recover from"))
		assert.Equal(t, breaker.HalfOpen, r.State())
		r.succeed(t, 3)
		require.Equal(t, breaker.Closed, r.State())
		assert.False(t, r.Apply(breaker.Open, t0, "same episode, after we closed"))
		assert.False(t, r.Apply(breaker.HalfOpen, t0, "a peer still probing that episode"))
		assert.Equal(t, breaker.Closed, r.State())
		r.clk.Advance(time.Second)
		assert.True(t, r.Apply(breaker.Open, r.clk.Now(), "a new episode"))
		assert.Equal(t, breaker.Open, r.State())
	})
	t.Run("forced states are orders", func(t *testing.T) {
		r := newRig(t, breaker.Settings{})
		assert.True(t, r.Apply(breaker.ForcedOpen, time.Time{}, "operator on node-1"))
		assert.Equal(t, breaker.ForcedOpen, r.State())
		assert.False(t, r.Apply(breaker.ForcedOpen, time.Time{}, "again"))
		assert.False(t, r.Apply(breaker.Open, t0, "automatic states do not override an order"))
		assert.True(t, r.Apply(breaker.ForcedClosed, time.Time{}, "operator changed mind"))
		assert.Equal(t, breaker.ForcedClosed, r.State())
		assert.False(t, r.Apply(breaker.State(42), time.Time{}, "unknown"))
	})
}

func TestOnStateChangeSequence(t *testing.T) {
	r := newRig(t, breaker.Settings{Name: "ledger", FailureThreshold: 2, RecoveryTimeout: 10 * time.Second, HalfOpenMaxCalls: 1})
	r.fail(t, 2)                               // CLOSED > OPEN at t0
	r.clk.Advance(10 * time.Second)            // OPEN > HALF_OPEN at t0+10s
	r.fail(t, 1)                               // HALF_OPEN > OPEN at t0+10s
	r.clk.Advance(10 * time.Second)            // OPEN > HALF_OPEN at t0+20s
	r.succeed(t, 1)                            // HALF_OPEN > CLOSED
	r.ForceOpen("incident")                    // CLOSED > FORCED_OPEN
	r.Auto("resolved")                         // FORCED_OPEN > CLOSED
	r.Apply(breaker.Open, time.Time{}, "peer") // CLOSED > OPEN

	r.mu.Lock()
	got := append([]breaker.Transition(nil), r.trs...)
	r.mu.Unlock()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	want := []breaker.Transition{
		{Name: "ledger", From: breaker.Closed, To: breaker.Open, At: at(0), Reason: "2 failures in 1m0s"},
		{Name: "ledger", From: breaker.Open, To: breaker.HalfOpen, At: at(10), Reason: "recovery timeout elapsed"},
		{Name: "ledger", From: breaker.HalfOpen, To: breaker.Open, At: at(10), Reason: "half-open probe failed"},
		{Name: "ledger", From: breaker.Open, To: breaker.HalfOpen, At: at(20), Reason: "recovery timeout elapsed"},
		{Name: "ledger", From: breaker.HalfOpen, To: breaker.Closed, At: at(20), Reason: "1 half-open probes succeeded"},
		{Name: "ledger", From: breaker.Closed, To: breaker.ForcedOpen, At: at(20), Reason: "incident"},
		{Name: "ledger", From: breaker.ForcedOpen, To: breaker.Closed, At: at(20), Reason: "resolved"},
		{Name: "ledger", From: breaker.Closed, To: breaker.Open, At: at(20), Reason: "peer"},
	}
	assert.Equal(t, want, got)
	assert.Equal(t, want[len(want)-1], r.Snapshot().LastTransition)
}

func TestOnStateChangeMayCallBackIntoTheBreaker(t *testing.T) {
	var got []string
	var b *breaker.Breaker
	b = breaker.New(breaker.Settings{
		FailureThreshold: 1,
		Clock:            clock.NewFake(t0),
		OnStateChange: func(tr breaker.Transition) {
			got = append(got, tr.To.String()+" seen as "+b.Snapshot().State.String())
			if tr.To == breaker.Open {
				b.ForceOpen("escalate") // a transition from inside the hook is delivered after this one
			}
		},
	})
	defer b.Close()
	tk, _ := b.Allow()
	b.Failure(tk)
	assert.Equal(t, []string{"OPEN seen as OPEN", "FORCED_OPEN seen as FORCED_OPEN"}, got)
}

func TestPanickingHookDoesNotStopLaterDeliveries(t *testing.T) {
	calls := 0
	b := breaker.New(breaker.Settings{Clock: clock.NewFake(t0), OnStateChange: func(breaker.Transition) {
		calls++
		if calls == 1 {
			panic("boom")
		}
	}})
	defer b.Close()
	assert.Panics(t, func() { b.ForceOpen("x") })
	b.ForceClose("y")
	assert.Equal(t, 2, calls)
	assert.Equal(t, breaker.ForcedClosed, b.State())
}

func TestSnapshot(t *testing.T) {
	r := newRig(t, breaker.Settings{Name: "inventory", FailureThreshold: 3, MinimumCalls: 10})
	r.succeed(t, 4)
	r.fail(t, 2)
	s := r.Snapshot()
	assert.Equal(t, breaker.Snapshot{
		Name: "inventory", State: breaker.Closed, Failures: 2, Calls: 6, CallsCounted: true,
		Limits: breaker.Limits{FailureThreshold: 3, MinimumCalls: 10, Window: time.Minute,
			RecoveryTimeout: time.Minute, HalfOpenMaxCalls: 3, HalfOpenMaxWait: time.Minute},
	}, s)
}

func TestCloseStopsTimers(t *testing.T) {
	for name, r := range map[string]*rig{
		"open":           openRig(t, breaker.Settings{}),
		"half-open":      halfOpenRig(t, breaker.Settings{}),
		"counting calls": newRig(t, breaker.Settings{MinimumCalls: 100}),
	} {
		assert.NotZero(t, r.clk.Pending(), name)
		before := r.State()
		r.Close()
		assert.Zero(t, r.clk.Pending(), name)
		r.clk.Advance(time.Hour)
		assert.Equal(t, before, r.State(), "%s: a closed breaker no longer moves by time", name)
	}
}

func TestRealClockRecovery(t *testing.T) {
	changed := make(chan breaker.Transition, 8)
	b := breaker.New(breaker.Settings{
		FailureThreshold: 1, RecoveryTimeout: time.Millisecond, HalfOpenMaxWait: time.Hour,
		OnStateChange: func(tr breaker.Transition) { changed <- tr },
	})
	defer b.Close()
	tk, _ := b.Allow()
	b.Failure(tk)
	require.Equal(t, breaker.Open, (<-changed).To)
	select {
	case tr := <-changed:
		assert.Equal(t, breaker.HalfOpen, tr.To)
	case <-time.After(10 * time.Second):
		t.Fatal("the real recovery timer did not fire")
	}
}

func TestZeroAllocs(t *testing.T) {
	closed := breaker.New(breaker.Settings{})
	counting := breaker.New(breaker.Settings{MinimumCalls: 1000})
	open := breaker.New(breaker.Settings{})
	open.ForceOpen("x")
	defer closed.Close()
	defer counting.Close()
	defer open.Close()
	tripped := openRig(t, breaker.Settings{})
	full := halfOpenRig(t, breaker.Settings{HalfOpenMaxCalls: 1})
	full.Allow()

	for name, f := range map[string]func(){
		"closed Allow+Success": func() {
			tk, _ := closed.Allow()
			closed.Success(tk)
		},
		"closed Allow+Success counting calls": func() {
			tk, _ := counting.Allow()
			counting.Success(tk)
		},
		"open Allow":                func() { tripped.Allow() },
		"forced-open Allow":         func() { open.Allow() },
		"half-open full Allow":      func() { full.Allow() },
		"closed Allow+Ignore":       func() { tk, _ := closed.Allow(); closed.Ignore(tk) },
		"State":                     func() { _ = closed.State() },
		"stale Failure and Success": func() { open.Failure(breaker.Ticket{}); open.Success(breaker.Ticket{}) },
	} {
		assert.Zero(t, testing.AllocsPerRun(1000, f), name)
	}
}

// TestConcurrentHammering drives one breaker from many goroutines while another moves time, and
// checks the invariants that must hold at every instant and across the transition history.
func TestConcurrentHammering(t *testing.T) {
	const maxProbes = 3
	clk := clock.NewFake(t0)
	var mu sync.Mutex
	var trs []breaker.Transition
	b := breaker.New(breaker.Settings{
		FailureThreshold: 5, MinimumCalls: 8, Window: 10 * time.Second, RecoveryTimeout: time.Second,
		HalfOpenMaxCalls: maxProbes, HalfOpenMaxWait: 2 * time.Second, Clock: clk,
		OnStateChange: func(tr breaker.Transition) {
			mu.Lock()
			trs = append(trs, tr)
			mu.Unlock()
		},
	})

	var workers sync.WaitGroup
	var ops atomic.Int64
	stop := make(chan struct{})
	for g := range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if ops.Add(1)%64 == 0 {
					runtime.Gosched() // let the clock goroutine in: it waits for progress, not time
				}
				tk, ok := b.Allow()
				if !ok {
					continue
				}
				switch (i + g) % 5 {
				case 0, 1:
					b.Failure(tk)
				case 2:
					b.Ignore(tk)
				default:
					b.Success(tk)
				}
			}
		}()
	}
	var observer sync.WaitGroup
	observer.Add(1)
	go func() { // instantaneous invariants
		defer observer.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := b.Snapshot()
			if s.State == breaker.HalfOpen {
				assert.LessOrEqual(t, s.HalfOpenAdmitted, maxProbes)
				assert.LessOrEqual(t, s.HalfOpenSucceeded, s.HalfOpenAdmitted)
			}
			assert.GreaterOrEqual(t, s.Calls, s.Failures)
		}
	}()
	// Time, operators and remote opinions move while the workers run; each step waits for the
	// workers to make some progress so that every run interleaves about as much.
	for i := range 2000 {
		for seen := ops.Load(); ops.Load() < seen+500; {
			runtime.Gosched()
		}
		clk.Advance(50 * time.Millisecond)
		switch i % 50 {
		case 10:
			b.Apply(breaker.Open, clk.Now().Add(-500*time.Millisecond), "peer")
		case 45:
			b.ForceClose("operator")
			b.Auto("operator")
		}
	}
	close(stop)
	await.Wait(t, &workers, "the hammering workers, stopped")
	await.Wait(t, &observer, "the state observer, stopped")
	b.Close()

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, trs)
	t.Logf("%d operations, %d transitions", ops.Load(), len(trs))
	prev := breaker.Closed
	seen := map[breaker.State]bool{}
	for i, tr := range trs {
		require.Equal(t, prev, tr.From, "transition %d follows the previous one", i)
		assert.True(t, validEdge(tr.From, tr.To), "transition %d %s>%s", i, tr.From, tr.To)
		prev = tr.To
		seen[tr.To] = true
	}
	assert.Equal(t, prev, b.State(), "the last delivered transition is the final state")
	for _, s := range []breaker.State{breaker.Open, breaker.HalfOpen, breaker.Closed} {
		assert.True(t, seen[s], "the hammer reached %s", s)
	}
}

// validEdge lists the moves the hammer may cause (Reset is not used by it).
func validEdge(from, to breaker.State) bool {
	switch {
	case to.Forced():
		return from != to
	case from.Forced():
		return to == breaker.Closed // Auto
	}
	switch [2]breaker.State{from, to} {
	case [2]breaker.State{breaker.Closed, breaker.Open},
		[2]breaker.State{breaker.Open, breaker.HalfOpen},
		[2]breaker.State{breaker.HalfOpen, breaker.Open},
		[2]breaker.State{breaker.HalfOpen, breaker.Closed}:
		return true
	}
	return false
}

// TestConcurrentHammeringRealClock runs the breaker on real timers with tiny timeouts, so that timer
// callbacks race with callers, then checks Close leaves nothing running (goleak in TestMain).
func TestConcurrentHammeringRealClock(t *testing.T) {
	var recoveries atomic.Int64
	b := breaker.New(breaker.Settings{
		FailureThreshold: 2, MinimumCalls: 3, Window: time.Millisecond, RecoveryTimeout: 50 * time.Microsecond,
		HalfOpenMaxCalls: 2, HalfOpenMaxWait: 100 * time.Microsecond,
		OnStateChange: func(tr breaker.Transition) {
			if tr.To == breaker.HalfOpen {
				recoveries.Add(1)
			}
		},
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Run until the timers have moved the breaker a few times (bounded, in case they never do).
			for i := 0; i < 50_000_000 && recoveries.Load() < 20; i++ {
				if i%256 == 0 {
					runtime.Gosched() // busy goroutines would otherwise keep timers waiting for preemption
				}
				tk, ok := b.Allow()
				if !ok {
					continue
				}
				if (i+g)%3 == 0 {
					b.Failure(tk)
				} else {
					b.Success(tk)
				}
			}
		}()
	}
	await.Wait(t, &wg, "the hammering workers")
	b.Close()
	assert.GreaterOrEqual(t, recoveries.Load(), int64(20), "real timers moved OPEN to HALF_OPEN")
}

func TestRestrictionRanksStatesAndParseStateReadsString(t *testing.T) {
	t.Parallel()
	order := []breaker.State{breaker.ForcedOpen, breaker.Open, breaker.HalfOpen, breaker.Closed}
	for i := 0; i+1 < len(order); i++ {
		if order[i].Restriction() <= order[i+1].Restriction() {
			t.Errorf("%s ranks %d, not above %s (%d)", order[i], order[i].Restriction(), order[i+1], order[i+1].Restriction())
		}
	}
	if breaker.ForcedClosed.Restriction() != breaker.Closed.Restriction() {
		t.Errorf("FORCED_CLOSED ranks %d, CLOSED %d: both let every call through", breaker.ForcedClosed.Restriction(), breaker.Closed.Restriction())
	}
	for s := breaker.Closed; s <= breaker.ForcedClosed; s++ {
		if got, ok := breaker.ParseState(s.String()); !ok || got != s {
			t.Errorf("breaker.ParseState(%q) = %v, %v", s.String(), got, ok)
		}
	}
	if _, ok := breaker.ParseState("open"); ok {
		t.Error(`breaker.ParseState("open") accepted a name String never writes`)
	}
}
