package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/schedule"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeLeader is a Leadership the test switches by hand.
type fakeLeader struct {
	mu     sync.Mutex
	tok    leader.Token
	term   context.Context
	end    context.CancelFunc
	leader bool
}

func (f *fakeLeader) Leadership() (context.Context, leader.Token, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.term, f.tok, f.leader
}

func (f *fakeLeader) win(tok leader.Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.term, f.end = context.WithCancel(context.Background())
	f.tok, f.leader = tok, true
}

func (f *fakeLeader) lose() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leader = false
	if f.end != nil {
		f.end()
	}
}

type fixture struct {
	clock *clock.Fake
	sched *schedule.Scheduler
	runs  chan schedule.Run
	logs  *logtest.Buffer
}

func newFixture(t *testing.T, opts schedule.Options) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(t0), runs: make(chan schedule.Run, 64), logs: &logtest.Buffer{}}
	opts.Clock = f.clock
	opts.Tick = time.Hour
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.OnRun = func(r schedule.Run) { f.runs <- r }
	f.sched = schedule.New(opts)
	t.Cleanup(func() { require.NoError(t, f.sched.Close(context.Background())) })
	return f
}

func (f *fixture) status(t *testing.T, name string) schedule.TaskStatus {
	t.Helper()
	for _, s := range f.sched.Status() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no task %q", name)
	return schedule.TaskStatus{}
}

func (f *fixture) noRun(t *testing.T) {
	t.Helper()
	select {
	case r := <-f.runs:
		t.Fatalf("unexpected run %+v", r)
	default:
	}
}

func TestAnIntervalTaskRunsEveryIntervalAndShowsItsStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	calls := 0
	require.NoError(t, f.sched.Schedule("gc", "10s", func(context.Context) error { calls++; return nil },
		schedule.TaskOptions{Scope: schedule.EveryNode}))
	assert.Equal(t, t0.Add(10*time.Second), f.status(t, "gc").NextRun)

	f.clock.Advance(9 * time.Second)
	f.noRun(t)
	f.clock.Advance(time.Second)
	r := await.Recv(t, f.runs, "the first run")
	assert.Equal(t, schedule.OutcomeOK, r.Outcome)
	assert.Equal(t, t0.Add(10*time.Second), r.Start)
	f.clock.Advance(10 * time.Second)
	await.Recv(t, f.runs, "the second run")

	s := f.status(t, "gc")
	assert.Equal(t, int64(2), s.Runs)
	assert.Equal(t, schedule.OutcomeOK, s.LastOutcome)
	assert.Equal(t, t0.Add(20*time.Second), s.LastRun)
	assert.Equal(t, t0.Add(30*time.Second), s.NextRun)
	assert.Equal(t, "every_node", s.Scope)
	assert.Equal(t, 2, calls)
}

func TestACronTaskRunsAtTheTimesItsExpressionNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	require.NoError(t, f.sched.Schedule("report", "CRON_TZ=UTC 0 3 * * *", func(context.Context) error { return nil },
		schedule.TaskOptions{Scope: schedule.EveryNode}))
	next := time.Date(2026, 1, 3, 3, 0, 0, 0, time.UTC)
	assert.Equal(t, next, f.status(t, "report").NextRun.UTC())
	f.clock.Set(next)
	r := await.Recv(t, f.runs, "the daily run")
	assert.Equal(t, next, r.Start.UTC())
	assert.Equal(t, next.Add(24*time.Hour), f.status(t, "report").NextRun.UTC())
}

func TestJitterDelaysEachRunWithoutDriftingThePlan(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{Jitter: func(max time.Duration) time.Duration {
		require.Equal(t, 5*time.Second, max)
		return 3 * time.Second
	}})
	require.NoError(t, f.sched.Schedule("sweep", "1m", func(context.Context) error { return nil },
		schedule.TaskOptions{Scope: schedule.EveryNode, Jitter: 5 * time.Second}))
	for i := 1; i <= 3; i++ {
		planned := t0.Add(time.Duration(i) * time.Minute)
		f.clock.Set(planned.Add(3*time.Second - time.Millisecond))
		f.noRun(t)
		f.clock.Set(planned.Add(3 * time.Second))
		r := await.Recv(t, f.runs, "a jittered run")
		assert.Equal(t, planned.Add(3*time.Second), r.Start, "run %d: the plan is every minute, the jitter on top", i)
	}
}

func TestATaskNeverOverlapsWithItself(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	started, release := make(chan struct{}, 8), make(chan struct{})
	require.NoError(t, f.sched.Schedule("slow", "1s", func(context.Context) error {
		started <- struct{}{}
		await.Hold(release)
		return nil
	}, schedule.TaskOptions{Scope: schedule.EveryNode}))

	f.clock.Advance(time.Second)
	await.Signal(t, started, "the first run")
	for range 3 {
		f.clock.Advance(time.Second)
		r := await.Recv(t, f.runs, "a skipped run")
		assert.Equal(t, schedule.OutcomeSkipped, r.Outcome)
		assert.Equal(t, schedule.SkipRunning, r.Reason)
	}
	s := f.status(t, "slow")
	assert.True(t, s.Running)
	assert.Equal(t, int64(3), s.Skips)
	assert.Len(t, started, 0, "no second run started")

	close(release)
	r := await.Recv(t, f.runs, "the slow run's end")
	assert.Equal(t, schedule.OutcomeOK, r.Outcome)
	f.clock.Advance(time.Second)
	await.Signal(t, started, "the next run once the first ended")
	assert.Len(t, f.logs.Lines("schedule.run_skipped", "previous run still running"), 3)
}

func TestAPanicIsCaughtReportedAndTheTaskRunsAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	n := 0
	require.NoError(t, f.sched.Schedule("boom", "1s", func(context.Context) error {
		n++
		if n == 1 {
			panic("kaboom")
		}
		return errors.New("plain failure")
	}, schedule.TaskOptions{Scope: schedule.EveryNode}))

	f.clock.Advance(time.Second)
	r := await.Recv(t, f.runs, "the panicking run")
	assert.Equal(t, schedule.OutcomePanicked, r.Outcome)
	var pe *schedule.PanicError
	require.ErrorAs(t, r.Err, &pe)
	assert.Equal(t, "kaboom", pe.Value)
	assert.Len(t, f.logs.Lines("schedule.run_panicked", "kaboom", "schedule_test.go"), 1, "logged with its stack")

	f.clock.Advance(time.Second)
	r = await.Recv(t, f.runs, "the run after the panic")
	assert.Equal(t, schedule.OutcomeFailed, r.Outcome)
	s := f.status(t, "boom")
	assert.Equal(t, int64(2), s.Failures)
	assert.Equal(t, "plain failure", s.LastError)
	assert.Len(t, f.logs.Lines("schedule.run_failed", "plain failure"), 1)
}

func TestALeaderOnlyTaskRunsOnTheLeaderWithItsTokenAndStopsWhenTheTermEnds(t *testing.T) {
	t.Parallel()
	lead := &fakeLeader{}
	f := newFixture(t, schedule.Options{Leader: lead})
	got := make(chan leader.Token, 4)
	ended := make(chan error, 4)
	require.NoError(t, f.sched.Schedule("retention", "1m", func(ctx context.Context) error {
		tok, _ := leader.TokenFrom(ctx)
		got <- tok
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}, schedule.TaskOptions{}))

	f.clock.Advance(time.Minute)
	r := await.Recv(t, f.runs, "the follower's skip")
	assert.Equal(t, schedule.SkipNotLeader, r.Reason)

	lead.win(42)
	f.clock.Advance(time.Minute)
	assert.Equal(t, leader.Token(42), await.Recv(t, got, "the leader's run"))
	assert.Equal(t, leader.Token(42), f.status(t, "retention").LastToken)
	lead.lose()
	assert.ErrorIs(t, await.Recv(t, ended, "the run's context when the term ends"), context.Canceled)
	r = await.Recv(t, f.runs, "the cancelled run's outcome")
	assert.Equal(t, schedule.OutcomeCancelled, r.Outcome)
	assert.Zero(t, f.status(t, "retention").Failures, "a term's end is no failure of the task")
}

func TestATimeoutBoundsARun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	require.NoError(t, f.sched.Schedule("bounded", "1s", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, schedule.TaskOptions{Scope: schedule.EveryNode, Timeout: time.Millisecond}))
	f.clock.Advance(time.Second)
	r := await.Recv(t, f.runs, "the bounded run")
	assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
}

func TestCloseCancelsRunningTasksAndWaitsForThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	started := make(chan struct{})
	require.NoError(t, f.sched.Schedule("long", "1s", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return nil
	}, schedule.TaskOptions{Scope: schedule.EveryNode}))
	f.clock.Advance(time.Second)
	await.Signal(t, started, "the run")
	require.NoError(t, f.sched.Close(context.Background()))
	assert.False(t, f.status(t, "long").Running)
	assert.Equal(t, 0, f.clock.Pending(), "no timer left behind")
	assert.ErrorIs(t, f.sched.Schedule("late", "1s", func(context.Context) error { return nil }, schedule.TaskOptions{}),
		schedule.ErrClosed)
}

func TestRestartNeverRunsATaskTwiceForOnePlan(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	require.NoError(t, f.sched.Schedule("t", "1s", func(context.Context) error { return nil },
		schedule.TaskOptions{Scope: schedule.EveryNode}))
	f.sched.Restart() // nothing is due: nothing changes
	f.clock.Advance(time.Second)
	await.Recv(t, f.runs, "the run")
	f.noRun(t)
	assert.Equal(t, int64(1), f.status(t, "t").Runs, "re-arming never runs a task twice for one plan")
}

func TestBadTasksAreRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	ok := func(context.Context) error { return nil }
	require.NoError(t, f.sched.Schedule("a", "1h", ok, schedule.TaskOptions{}))
	for _, tc := range []struct {
		name, spec string
		fn         schedule.Func
		opts       schedule.TaskOptions
		want       string
	}{
		{"Bad Name", "1h", ok, schedule.TaskOptions{}, `task name "Bad Name": want [a-z0-9_.-]+`},
		{"b", "61 * * * *", ok, schedule.TaskOptions{}, `task "b": spec "61 * * * *": want a Go duration`},
		{"b", "-1s", ok, schedule.TaskOptions{}, `interval -1s: want a positive duration`},
		{"b", "1h", nil, schedule.TaskOptions{}, `task "b": nil function`},
		{"b", "1h", ok, schedule.TaskOptions{Jitter: -1}, `negative jitter`},
		{"a", "1h", ok, schedule.TaskOptions{}, `a task of that name exists: "a"`},
	} {
		assert.ErrorContains(t, f.sched.Schedule(tc.name, tc.spec, tc.fn, tc.opts), tc.want)
	}
}

func TestTheSchedulerBeatsEveryTick(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	beats := make(chan struct{}, 8)
	s := schedule.New(schedule.Options{Clock: c, Tick: time.Second, Beat: func() { beats <- struct{}{} }})
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	c.Advance(time.Second)
	await.Signal(t, beats, "a beat")
	c.Advance(time.Second)
	await.Signal(t, beats, "the next beat")
}

// The elector is what the runtime gives the scheduler.
var _ schedule.Leadership = (*leader.Elector)(nil)

func TestALeaderOnlyTaskFollowsARealElector(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	st := store.NewMemoryWith(store.MemoryOptions{Clock: c})
	t.Cleanup(func() { _ = st.Close() })
	elect := func(id string) *leader.Elector {
		e, err := leader.New(st, leader.Options{ID: id, Lease: 3 * time.Second, Renew: time.Second, Clock: c})
		require.NoError(t, err)
		require.NoError(t, e.Start(context.Background()))
		t.Cleanup(func() { _ = e.Stop(context.Background()) })
		return e
	}
	a, b := elect("a"), elect("b")
	runs := make(chan string, 8)
	for _, node := range []struct {
		name string
		e    *leader.Elector
	}{{"a", a}, {"b", b}} {
		s := schedule.New(schedule.Options{Clock: c, Leader: node.e, Tick: time.Hour, OnRun: func(r schedule.Run) {
			if r.Outcome == schedule.OutcomeOK {
				runs <- node.name
			}
		}})
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		require.NoError(t, s.Schedule("fleet", "10s", func(ctx context.Context) error {
			tok, ok := leader.TokenFrom(ctx)
			if !ok {
				return errors.New("no token in the context")
			}
			res, err := st.Atomic(ctx, store.Txn{Conds: []store.Cond{node.e.Fence(tok)},
				Ops: []store.Op{store.IncrOp(node.e.Key("runs"), 1, 0)}})
			if err == nil && !res.Applied {
				err = errors.New("fenced write refused")
			}
			return err
		}, schedule.TaskOptions{}))
	}
	c.Advance(10 * time.Second)
	assert.Equal(t, "a", await.Recv(t, runs, "the leader's run"))
	require.NoError(t, a.Stop(context.Background()))
	c.Advance(10 * time.Second)
	assert.Equal(t, "b", await.Recv(t, runs, "the new leader's run"))
	assert.Len(t, runs, 0, "one run per period across the fleet")
}

func TestARemovedTaskRunsNoMoreAndItsNameIsFreeAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, schedule.Options{})
	ok := func(context.Context) error { return nil }
	require.NoError(t, f.sched.Schedule("t", "1s", ok, schedule.TaskOptions{Scope: schedule.EveryNode}))
	assert.True(t, f.sched.Remove("t"))
	assert.False(t, f.sched.Remove("t"))
	f.clock.Advance(time.Second)
	f.noRun(t)
	assert.Empty(t, f.sched.Status())
	require.NoError(t, f.sched.Schedule("t", "1s", ok, schedule.TaskOptions{Scope: schedule.EveryNode}))
}

func TestRunNowRunsATaskAtOnceAndRefusesWithTheReason(t *testing.T) {
	t.Parallel()
	lead := &fakeLeader{}
	f := newFixture(t, schedule.Options{Leader: lead})
	var blocked atomic.Bool
	gateErr := errors.New("emergency level HIGH blocks automated actions")
	tokens := make(chan leader.Token, 4)
	require.NoError(t, f.sched.Schedule("retention", "1h", func(ctx context.Context) error {
		tok, _ := leader.TokenFrom(ctx)
		tokens <- tok
		return nil
	}, schedule.TaskOptions{Gate: func(context.Context) error {
		if blocked.Load() {
			return gateErr
		}
		return nil
	}}))
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	require.NoError(t, f.sched.Schedule("report", "1h", func(ctx context.Context) error {
		started <- struct{}{}
		<-release
		return errors.New("no data")
	}, schedule.TaskOptions{Scope: schedule.EveryNode}))

	_, err := f.sched.RunNow(context.Background(), "retention")
	require.ErrorIs(t, err, schedule.ErrNotLeader, "a leader-only task on a follower")
	_, err = f.sched.RunNow(context.Background(), "nope")
	require.ErrorIs(t, err, schedule.ErrUnknownTask)
	assert.Contains(t, err.Error(), "[report retention]", "the error lists the tasks")

	lead.win(7)
	r, err := f.sched.RunNow(context.Background(), "retention")
	require.NoError(t, err)
	assert.Equal(t, schedule.OutcomeOK, r.Outcome)
	assert.True(t, r.Manual)
	assert.Equal(t, leader.Token(7), await.Recv(t, tokens, "the run's token"))
	assert.True(t, (await.Recv(t, f.runs, "the manual run reported")).Manual)
	s := f.status(t, "retention")
	assert.Equal(t, int64(1), s.Runs)
	assert.Equal(t, t0.Add(time.Hour), s.NextRun, "the plan is not moved")

	blocked.Store(true)
	_, err = f.sched.RunNow(context.Background(), "retention")
	var be *schedule.BlockedError
	require.ErrorAs(t, err, &be)
	assert.ErrorIs(t, err, gateErr, "the refusal names the block")
	s = f.status(t, "retention")
	assert.Equal(t, int64(1), s.Runs)
	assert.Equal(t, t0, s.LastRun, "a refused run did not happen")
	assert.False(t, s.Running)
	f.noRun(t)

	done := make(chan error, 1)
	go func() {
		r, err := f.sched.RunNow(context.Background(), "report")
		if err == nil && r.Outcome != schedule.OutcomeFailed {
			err = fmt.Errorf("outcome %s", r.Outcome)
		}
		done <- err
	}()
	await.Recv(t, started, "the long run starts")
	_, err = f.sched.RunNow(context.Background(), "report")
	require.ErrorIs(t, err, schedule.ErrRunning, "no overlap with itself")
	close(release)
	require.NoError(t, await.Recv(t, done, "the long run ends"))
	assert.Equal(t, int64(1), f.status(t, "report").Failures)
}
