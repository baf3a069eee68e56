package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/schedule"
	"github.com/baldur-go/baldur/runtime/store"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

func TestConfigFromEnvReadsTheLeaderVariables(t *testing.T) {
	t.Parallel()
	cfg, err := configFromLookup(vars(EnvLeaderRedisURL, "redis://127.0.0.1:7000/2", EnvLeaderLease, "30s"))
	require.NoError(t, err)
	assert.Equal(t, "redis://127.0.0.1:7000/2", cfg.Leader.RedisURL)
	assert.Equal(t, 30*time.Second, cfg.Leader.Lease)

	_, err = configFromLookup(vars(EnvLeaderRedisURL, "http://nope", EnvLeaderLease, "soon"))
	require.Error(t, err)
	assert.ErrorContains(t, err, EnvLeaderRedisURL)
	assert.ErrorContains(t, err, `BALDUR_LEADER_LEASE="soon"`)
}

func TestAProcessOnItsOwnStoreLeadsAndRunsLeaderOnlyTasksWithAToken(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := clock.NewFake(start)
	st := store.NewMemoryWith(store.MemoryOptions{Clock: c})
	t.Cleanup(func() { _ = st.Close() })
	rt, err := New(context.Background(), Config{Store: st, Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })

	s := rt.Leader().Status()
	assert.True(t, s.Leader, "alone on its store, the process leads")
	assert.Equal(t, "always", s.Mode)

	tokens := make(chan leader.Token, 4)
	require.NoError(t, rt.Schedule("fleet.task", "1m", func(ctx context.Context) error {
		tok, _ := leader.TokenFrom(ctx)
		select {
		case tokens <- tok:
		default:
		}
		return nil
	}, schedule.TaskOptions{}))
	c.Advance(time.Minute)
	assert.Equal(t, s.Token, await.Recv(t, tokens, "the leader-only run"))

	c.Advance(9 * time.Minute) // to the DLQ's GC interval
	var retention schedule.TaskStatus
	for _, st := range rt.Scheduler().Status() {
		if st.Name == DLQRetentionTask {
			retention = st
		}
	}
	assert.Equal(t, "leader", retention.Scope, "DLQ retention runs on the leader")
	assert.Equal(t, start.Add(20*time.Minute), retention.NextRun)
	assert.Equal(t, start.Add(10*time.Minute), retention.LastRun, "it ran once, on the leader")
	assert.Equal(t, s.Token, retention.LastToken)

	names := []string{}
	for _, l := range rt.Watchdog().Status() {
		names = append(names, l.Name)
	}
	assert.Equal(t, []string{LoopLeaderRenewal, LoopScheduler}, names)
	ok, _ := rt.Watchdog().Health()
	assert.True(t, ok)
}

func TestTwoRuntimesOnRedisElectOneLeaderAndHandOverOnClose(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	open := func() *Runtime {
		rt, err := New(context.Background(), Config{RedisURL: srv.URL(), StateDir: t.TempDir(),
			Leader: LeaderConfig{Lease: 600 * time.Millisecond}})
		require.NoError(t, err)
		return rt
	}
	a := open()
	b := open()
	t.Cleanup(func() { _ = b.Close() })
	require.True(t, a.Leader().IsLeader(), "the first runtime leads")
	assert.False(t, b.Leader().IsLeader())
	assert.Equal(t, "elect", b.Leader().Status().Mode)
	assert.Equal(t, a.Leader().Status().ID, b.Leader().Status().Holder)

	tok := a.Leader().Status().Token
	require.NoError(t, a.Close())
	waitFor(t, "b leads after a closed", b.Leader().IsLeader)
	assert.Greater(t, b.Leader().Status().Token, tok)
}

func TestTheElectionRunsOnItsOwnRedisWhenOneIsConfigured(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rt, err := New(context.Background(), Config{StateDir: t.TempDir(), Leader: LeaderConfig{RedisURL: srv.URL()}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	assert.True(t, rt.Leader().IsLeader())
	assert.Equal(t, "elect", rt.Leader().Status().Mode, "an election Redis makes a fleet even on the embedded store")
	n, err := redistest.Client(t, srv.Addr()).Exists(context.Background(), "baldur:leader:{fleet}").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the lease lives in the election's Redis")
}

// waitFor polls cond every 10ms until it holds, or fails the test after
// await.Deadline: the watchdog runs on the real clock here, which no test
// can move.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(await.Deadline)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, await.Deadline)
		}
		<-tick.C
	}
}

func TestAFrozenDLQLoopIsReportedRestartedAndRecovers(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	rt, err := New(context.Background(), Config{Store: st, DLQ: dlq.Options{SweepInterval: 50 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	loop := func() watchdog.LoopStatus {
		for _, l := range rt.Watchdog().Status() {
			if l.Name == LoopDLQ {
				return l
			}
		}
		t.Fatalf("the DLQ loop is not watched: %+v", rt.Watchdog().Status())
		return watchdog.LoopStatus{}
	}
	assert.Equal(t, 50*time.Millisecond, loop().Period)
	names := []string{}
	for _, l := range rt.Watchdog().Status() {
		names = append(names, l.Name)
	}
	assert.ElementsMatch(t, []string{LoopLeaderRenewal, LoopScheduler, LoopDLQ, LoopControlWatcher, LoopBreakerSync,
		LoopBreakerPublish, LoopNotifyGuards, LoopAuditSeal, LoopPolicyWatcher}, names, "no PostgreSQL: no audit_drain loop")

	release := rt.Watchdog().Freeze(LoopDLQ) // the loop hangs at its next tick
	defer release()
	waitFor(t, "the watchdog restarts the frozen loop", func() bool { return loop().Restarts >= 1 })
	waitFor(t, "the restarted loop beats again", func() bool { return loop().State == watchdog.StateOK })
	ok, _ := rt.Watchdog().Health()
	assert.True(t, ok)
}

func TestAnAutomatedTaskAsksTheGovernanceGateBeforeEachRun(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st := store.NewMemoryWith(store.MemoryOptions{Clock: c})
	t.Cleanup(func() { _ = st.Close() })
	rt, err := New(context.Background(), Config{Store: st, Clock: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	ctx := context.Background()

	ran := make(chan struct{}, 4)
	require.NoError(t, rt.Schedule("auto.task", "1m", func(context.Context) error {
		ran <- struct{}{}
		return nil
	}, schedule.TaskOptions{Automated: true}))
	status := func() schedule.TaskStatus {
		for _, s := range rt.Scheduler().Status() {
			if s.Name == "auto.task" {
				return s
			}
		}
		t.Fatal("auto.task is not scheduled")
		return schedule.TaskStatus{}
	}

	_, err = rt.Governance().DeclareStrict(ctx, "alice", "release freeze", time.Hour)
	require.NoError(t, err)
	c.Advance(time.Minute)
	require.Eventually(t, func() bool { return status().Skips == 1 }, 10*time.Second, 5*time.Millisecond,
		"the run under STRICT mode is skipped")
	s := status()
	assert.Contains(t, s.LastSkip, "blocked: ")
	assert.Contains(t, s.LastSkip, "strict", "the reason names the check that refused")
	assert.True(t, s.LastRun.IsZero(), "a blocked run is not a run")
	assert.False(t, await.Hold(ran), "the task did not run")

	_, err = rt.Governance().EndStrict(ctx, "alice", "freeze over")
	require.NoError(t, err)
	c.Advance(time.Minute)
	await.Signal(t, ran, "the run once the gate allows it")
}

// The breaker sync loops, frozen through the watchdog's test hook, are
// restarted (a fresh run once the stuck one returned) and beat again; the
// restarted adopting loop still takes the fleet's breaker states.
func TestFrozenBreakerSyncLoopsAreRestartedAndWorkAgain(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	cfg := Config{Store: st}
	cfg.syncBeat = 30 * time.Millisecond
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	freezeUntilRestarted(t, rt, LoopBreakerSync, LoopBreakerPublish)

	other, err := New(context.Background(), Config{Store: st})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	z := rt.Zone(ZoneSpec{Service: "pay", Method: "Charge", Breaker: true})
	_ = other.Zone(ZoneSpec{Service: "pay", Method: "Charge", Breaker: true})
	ob, ok := other.Breaker("pay")
	require.True(t, ok)
	ob.ForceOpen("test")
	waitFor(t, "the restarted sync loop adopts the fleet's state", func() bool { return z.breaker.State() == breaker.ForcedOpen })
}

// The notifier's guards loop and the audit trail's sealing loop, frozen as
// if a store call hung, are restarted by the watchdog and work again: an
// alert raised after the restart is guarded (counted), a record is sealed.
func TestFrozenNotifierAndAuditLoopsAreRestartedAndWorkAgain(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	cfg := Config{Store: st}
	cfg.loopBeat = 30 * time.Millisecond
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	require.NotNil(t, rt.Audit(), "the audit trail is on by default")
	freezeUntilRestarted(t, rt, LoopNotifyGuards, LoopAuditSeal)

	ctx := context.Background()
	handled := func() (n uint64) {
		for _, c := range rt.Notifier().Counts() {
			n += c.N
		}
		return n
	}
	before := handled()
	rt.Notify(ctx, notify.Alert{Key: "restart-check", Title: "after the restart"})
	waitFor(t, "the restarted guards loop handles an alert", func() bool { return handled() > before })

	require.NoError(t, rt.Audit().Record(ctx, audit.Record{Action: "test.after_restart", Actor: audit.Actor{Key: "test"}}))
	waitFor(t, "the restarted sealing loop seals the record", func() bool { return rt.Audit().Stats().Backlog == 0 })
}

// The policy watcher, frozen as if a store call hung, is restarted by the
// watchdog, beats again, and adopts the fleet's overrides again.
func TestFrozenPolicyWatcherIsRestartedAndAdoptsChangesAgain(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	cfg := Config{Store: st}
	cfg.loopBeat = 30 * time.Millisecond
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	z := rt.Zone(ZoneSpec{Service: "pay", Method: "Charge", Breaker: true, Attempts: 2})
	freezeUntilRestarted(t, rt, LoopPolicyWatcher)

	other, err := New(context.Background(), Config{Store: st})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	other.Zone(ZoneSpec{Service: "pay", Method: "Charge", Breaker: true, Attempts: 2})
	_, err = other.Policy().Set(context.Background(), "pay", "retry=5", "ops", "after the restart")
	require.NoError(t, err)
	waitFor(t, "the restarted watcher adopts the override", func() bool { return z.pol.Load().attempts == 5 })
}

// freezeUntilRestarted freezes each named loop of rt as if a store call
// hung, and waits for the watchdog to restart it and for the fresh run to
// beat again; the loops stay frozen-hooked until the test ends.
func freezeUntilRestarted(t *testing.T, rt *Runtime, names ...string) {
	t.Helper()
	for _, name := range names {
		t.Cleanup(rt.Watchdog().Freeze(name))
		waitFor(t, "the watchdog restarts "+name, func() bool { return watchedLoop(t, rt, name).Restarts >= 1 })
		waitFor(t, "the restarted "+name+" beats again", func() bool { return watchedLoop(t, rt, name).State == watchdog.StateOK })
	}
}

// watchedLoop is the watchdog's status of one of rt's loops.
func watchedLoop(t *testing.T, rt *Runtime, name string) watchdog.LoopStatus {
	t.Helper()
	for _, l := range rt.Watchdog().Status() {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("loop %s is not watched: %+v", name, rt.Watchdog().Status())
	return watchdog.LoopStatus{}
}
