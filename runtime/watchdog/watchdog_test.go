package watchdog_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	clock  *clock.Fake
	dog    *watchdog.Watchdog
	events chan watchdog.Event
	logs   *logtest.Buffer
}

func newFixture(t *testing.T, opts watchdog.Options) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(t0), events: make(chan watchdog.Event, 64), logs: &logtest.Buffer{}}
	opts.Clock = f.clock
	opts.Check = time.Second
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	opts.OnEvent = func(e watchdog.Event) { f.events <- e }
	f.dog = watchdog.New(opts)
	t.Cleanup(f.dog.Close)
	return f
}

func (f *fixture) next(t *testing.T, kind string) watchdog.Event {
	t.Helper()
	e := await.Recv(t, f.events, "a watchdog event")
	require.Equal(t, kind, e.Kind, "event %+v", e)
	return e
}

func (f *fixture) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-f.events:
		t.Fatalf("unexpected event %+v", e)
	default:
	}
}

// A loop run by the watchdog, frozen through the test hook, is reported,
// restarted with a fresh context, and recovers once the fresh run beats.
func TestAFrozenLoopIsReportedRestartedAndRecovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, watchdog.Options{})
	kick := make(chan struct{})
	beaten := make(chan int, 8)
	var runs atomic.Int32
	require.NoError(t, f.dog.Go("breaker_sync", time.Second, func(ctx context.Context, hb *watchdog.Heartbeat) {
		run := int(runs.Add(1))
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				hb.Beat()
				beaten <- run
			}
		}
	}))
	for range 2 { // a healthy loop beating every period is left alone
		f.clock.Advance(time.Second)
		kick <- struct{}{}
		assert.Equal(t, 1, await.Recv(t, beaten, "a beat"))
	}
	f.none(t)

	f.dog.Freeze("breaker_sync")
	kick <- struct{}{} // the loop now hangs in Beat
	f.clock.Advance(3 * time.Second)
	f.none(t) // silent for exactly N periods: not yet
	ok, _ := f.dog.Health()
	assert.True(t, ok)
	f.clock.Advance(time.Second)
	stalled := f.next(t, watchdog.KindStalled)
	assert.Equal(t, "breaker_sync", stalled.Loop)
	assert.Equal(t, 4*time.Second, stalled.Silent)
	assert.Equal(t, 1, f.next(t, watchdog.KindRestarted).Restarts)
	ok, detail := f.dog.Health()
	assert.False(t, ok)
	assert.Equal(t, "breaker_sync stalled", detail)
	assert.Equal(t, 1, await.Recv(t, beaten, "the frozen run, released by the restart"))

	kick <- struct{}{}
	assert.Equal(t, 2, await.Recv(t, beaten, "the fresh run's beat"))
	f.clock.Advance(time.Second)
	f.next(t, watchdog.KindRecovered)
	ok, _ = f.dog.Health()
	assert.True(t, ok)
	assert.Len(t, f.logs.Lines("watchdog.loop_stalled", "loop=breaker_sync"), 1)
	assert.Len(t, f.logs.Lines("watchdog.loop_restarted", "loop=breaker_sync", "restarts=1"), 1)
	assert.Len(t, f.logs.Lines("watchdog.loop_recovered", "loop=breaker_sync"), 1)
	s := f.dog.Status()
	require.Len(t, s, 1)
	assert.Equal(t, watchdog.StateOK, s[0].State)
	assert.Equal(t, 1, s[0].Restarts)
}

func TestRestartsAreBoundedAndThenTheLoopStaysFailedUntilItBeats(t *testing.T) {
	t.Parallel()
	f := newFixture(t, watchdog.Options{Multiplier: 2, MaxRestarts: 2})
	var restarts atomic.Int32
	hb, err := f.dog.Register("dlq_replay", time.Second, func() { restarts.Add(1) })
	require.NoError(t, err)

	f.clock.Advance(3 * time.Second)
	f.next(t, watchdog.KindStalled)
	f.next(t, watchdog.KindRestarted)
	f.clock.Advance(3 * time.Second)
	f.next(t, watchdog.KindRestarted)
	f.clock.Advance(3 * time.Second)
	f.next(t, watchdog.KindExhausted)
	assert.Equal(t, int32(2), restarts.Load())
	f.clock.Advance(time.Hour - 10*time.Second)
	f.none(t) // failed: reported once, no restart storm
	ok, detail := f.dog.Health()
	assert.False(t, ok)
	assert.Equal(t, "dlq_replay failed", detail)
	assert.Len(t, f.logs.Lines("watchdog.restarts_exhausted", "loop=dlq_replay"), 1)

	hb.Beat()
	f.clock.Advance(time.Second)
	f.next(t, watchdog.KindRecovered)
	assert.Equal(t, int32(2), restarts.Load())
}

func TestRestartsSpentLongAgoDoNotCount(t *testing.T) {
	t.Parallel()
	f := newFixture(t, watchdog.Options{Multiplier: 1, MaxRestarts: 1, RestartWindow: time.Minute})
	var restarts atomic.Int32
	hb, err := f.dog.Register("scheduler", time.Second, func() { restarts.Add(1) })
	require.NoError(t, err)
	f.clock.Advance(2 * time.Second)
	f.next(t, watchdog.KindStalled)
	f.next(t, watchdog.KindRestarted)
	for range 60 { // healthy for a minute
		hb.Beat()
		f.clock.Advance(time.Second)
	}
	f.next(t, watchdog.KindRecovered)
	f.clock.Advance(2 * time.Second)
	f.next(t, watchdog.KindStalled)
	f.next(t, watchdog.KindRestarted)
	assert.Equal(t, int32(2), restarts.Load())
}

func TestALoopWithoutARestartIsReportedFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, watchdog.Options{})
	_, err := f.dog.Register("control_watcher", time.Second, nil)
	require.NoError(t, err)
	f.clock.Advance(4 * time.Second)
	f.next(t, watchdog.KindStalled)
	f.next(t, watchdog.KindExhausted)
}

func TestAStoppedLoopIsNoLongerWatched(t *testing.T) {
	t.Parallel()
	f := newFixture(t, watchdog.Options{})
	hb, err := f.dog.Register("once", time.Second, nil)
	require.NoError(t, err)
	hb.Stop()
	f.clock.Advance(time.Minute)
	f.none(t)
	assert.Empty(t, f.dog.Status())
}

func TestBadRegistrationsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, watchdog.Options{})
	_, err := f.dog.Register("x", 0, nil)
	assert.ErrorContains(t, err, `loop "x": period 0s: want a positive duration`)
	_, err = f.dog.Register("x", time.Second, nil)
	require.NoError(t, err)
	_, err = f.dog.Register("x", time.Second, nil)
	assert.ErrorContains(t, err, `loop "x" is watched already`)
}

func TestCloseStopsTheRunsItStarted(t *testing.T) {
	t.Parallel()
	dog := watchdog.New(watchdog.Options{Clock: clock.NewFake(t0)})
	ended := make(chan struct{})
	require.NoError(t, dog.Go("l", time.Second, func(ctx context.Context, _ *watchdog.Heartbeat) {
		<-ctx.Done()
		close(ended)
	}))
	await.Done(t, dog.Close, "Close")
	await.Signal(t, ended, "the run's end")
}

func TestABeatDoesNotAllocate(t *testing.T) {
	dog := watchdog.New(watchdog.Options{})
	t.Cleanup(dog.Close)
	hb, err := dog.Register("hot", time.Second, nil)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, hb.Beat))
}
