package runtime

import (
	"context"
	"errors"
	"log/slog"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The attempt context handed to a method with timeout= must behave as the one
// context.WithTimeout gives, cancel included (Zone.Timed plays cancel).

func timeoutZone(t testing.TB, timeout time.Duration) *Zone {
	t.Helper()
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt.Zone(ZoneSpec{Service: "svc", Method: "M", Breaker: true, Timeout: timeout})
}

// waitDone fails the test instead of hanging when ch is not closed in time.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not done after 5s", what)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

type ctxKey string

func TestAttemptContextRunningThenCancelledWhenTheAttemptEnds(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, time.Hour)
	parent := context.WithValue(context.Background(), ctxKey("k"), "v")
	before := time.Now()
	actx := z.WithTimeout(parent)

	d, ok := actx.Deadline()
	require.True(t, ok)
	assert.WithinRange(t, d, before.Add(time.Hour), time.Now().Add(time.Hour))
	assert.NoError(t, actx.Err())
	assert.NoError(t, context.Cause(actx))
	assert.Equal(t, "v", actx.Value(ctxKey("k")))
	assert.Nil(t, actx.Value(ctxKey("other")))
	done := actx.Done()
	assert.False(t, isClosed(done))
	assert.True(t, done == actx.Done(), "Done returns the same channel every time")
	assert.Contains(t, actx.(interface{ String() string }).String(), "WithDeadline(")

	require.NoError(t, z.Timed(parent, actx, nil))
	assert.True(t, isClosed(done), "ending the attempt closes Done at once, as cancel does")
	assert.Equal(t, context.Canceled, actx.Err())
	assert.Equal(t, context.Canceled, context.Cause(actx))
	assert.Equal(t, "v", actx.Value(ctxKey("k")), "values outlive the attempt")
	d2, _ := actx.Deadline()
	assert.Equal(t, d, d2)
}

func TestAttemptContextEndedBeforeDoneWasAskedHasAClosedDone(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, time.Hour)
	actx := z.WithTimeout(context.Background())
	require.NoError(t, z.Timed(context.Background(), actx, nil))
	assert.True(t, isClosed(actx.Done()))
	assert.Equal(t, context.Canceled, actx.Err())
}

func TestAttemptContextExpiresAtItsDeadline(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, 20*time.Millisecond)
	actx := z.WithTimeout(context.Background())
	waitDone(t, actx.Done(), "attempt past its 20ms timeout")
	assert.ErrorIs(t, actx.Err(), context.DeadlineExceeded)
	assert.ErrorIs(t, context.Cause(actx), context.DeadlineExceeded)
	d, _ := actx.Deadline()
	assert.False(t, time.Now().Before(d), "Done closed before the deadline")

	inner := errors.New("read tcp: i/o timeout")
	err := z.Timed(context.Background(), actx, inner)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.ErrorIs(t, err, inner)
	assert.Equal(t, 20*time.Millisecond, te.Timeout)
	assert.ErrorIs(t, actx.Err(), context.DeadlineExceeded, "ending an expired attempt keeps its error")
}

// An attempt nobody waits on needs no timer: Err reads the clock.
func TestAttemptContextErrSeesTheDeadlineWithoutDone(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, 5*time.Millisecond)
	actx := z.WithTimeout(context.Background())
	d, _ := actx.Deadline()
	<-time.After(time.Until(d) + time.Millisecond)
	assert.ErrorIs(t, actx.Err(), context.DeadlineExceeded)
	assert.True(t, isClosed(actx.Done()), "Err and Done agree")
	assert.ErrorIs(t, z.Timed(context.Background(), actx, errors.New("slow")), ErrTimeout)

	// The same, found only at the end: the method returned an error late.
	actx = z.WithTimeout(context.Background())
	d, _ = actx.Deadline()
	<-time.After(time.Until(d) + time.Millisecond)
	assert.ErrorIs(t, z.Timed(context.Background(), actx, errors.New("slow")), ErrTimeout)
	// A success is a success even when it came late.
	actx = z.WithTimeout(context.Background())
	d, _ = actx.Deadline()
	<-time.After(time.Until(d) + time.Millisecond)
	assert.NoError(t, z.Timed(context.Background(), actx, nil))
}

func TestAttemptContextFollowsTheCallersCancellation(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, time.Hour)
	cause := errors.New("client went away")
	parent, cancel := context.WithCancelCause(context.Background())
	actx := z.WithTimeout(parent)
	done := actx.Done()
	cancel(cause)
	waitDone(t, done, "attempt after its caller's cancellation")
	assert.Equal(t, context.Canceled, actx.Err())
	assert.Equal(t, cause, context.Cause(actx))
	err := errors.New("aborted")
	assert.Equal(t, err, z.Timed(parent, actx, err), "the caller's cancellation is not a timeout")
	assert.Equal(t, cause, context.Cause(actx))

	// Without Done: Err looks at the caller.
	parent, cancel = context.WithCancelCause(context.Background())
	actx = z.WithTimeout(parent)
	cancel(cause)
	assert.Equal(t, context.Canceled, actx.Err())
	assert.Equal(t, cause, context.Cause(actx))

	// Already cancelled when the attempt starts.
	actx = z.WithTimeout(parent)
	assert.True(t, isClosed(actx.Done()))
	assert.Equal(t, context.Canceled, actx.Err())
}

func TestAttemptContextCauseIsItsOwnWhenTheCallerIsCancelledLater(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, time.Hour)
	parent, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	actx := z.WithTimeout(parent)
	_ = actx.Done()
	require.NoError(t, z.Timed(parent, actx, nil))
	cancel(errors.New("later"))
	assert.Equal(t, context.Canceled, actx.Err())
	assert.Equal(t, context.Canceled, context.Cause(actx), "a cause set after the attempt ended is not the attempt's")
}

func TestAttemptContextTakesTheCallersEarlierDeadline(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, time.Hour)
	parent, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	pd, _ := parent.Deadline()
	actx := z.WithTimeout(parent)
	d, ok := actx.Deadline()
	require.True(t, ok)
	assert.Equal(t, pd, d)
	waitDone(t, actx.Done(), "attempt at its caller's deadline")
	assert.ErrorIs(t, actx.Err(), context.DeadlineExceeded)
	err := errors.New("slow")
	assert.Equal(t, err, z.Timed(parent, actx, err), "the caller's deadline is not the attempt's timeout")
}

// Contexts derived from the attempt are cancelled with it, synchronously,
// through the AfterFunc protocol: no goroutine per derived context.
func TestAttemptContextDerivedContextsNeedNoGoroutine(t *testing.T) {
	z := timeoutZone(t, time.Hour)
	actx := z.WithTimeout(context.Background())
	g0 := goruntime.NumGoroutine()
	const n = 200
	children := make([]context.Context, 0, 4*n)
	for i := 0; i < n; i++ {
		c1, cancel1 := context.WithCancel(actx)
		defer cancel1()
		c2, cancel2 := context.WithTimeout(actx, time.Hour)
		defer cancel2()
		c3, cancel3 := context.WithCancelCause(actx)
		defer cancel3(nil)
		c4, cancel4 := context.WithCancel(c1) // a grandchild: the standard library's own tree
		defer cancel4()
		children = append(children, c1, c2, c3, c4)
	}
	assert.Less(t, goruntime.NumGoroutine()-g0, 10, "derived contexts started goroutines")
	// Behind a context.WithValue the standard library no longer sees the
	// AfterFunc method and starts its goroutine per child; it ends with the
	// attempt (goleak checks), and the child is cancelled all the same.
	wrapped, cancelW := context.WithCancel(context.WithValue(actx, ctxKey("k"), 1))
	defer cancelW()
	for _, c := range children {
		require.NoError(t, c.Err())
	}
	require.NoError(t, z.Timed(context.Background(), actx, nil))
	for i, c := range children {
		require.True(t, isClosed(c.Done()), "child %d not cancelled when the attempt ended", i)
		require.Equal(t, context.Canceled, c.Err())
		require.Equal(t, context.Canceled, context.Cause(c))
	}
	waitDone(t, wrapped.Done(), "child behind a WithValue")
	// Derived after the end: born cancelled.
	late, cancel := context.WithCancel(actx)
	defer cancel()
	assert.True(t, isClosed(late.Done()))
}

func TestAttemptContextDerivedContextsExpireWithIt(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, 20*time.Millisecond)
	actx := z.WithTimeout(context.Background())
	child, cancel := context.WithCancel(actx)
	defer cancel()
	grandchild, cancel2 := context.WithTimeout(child, time.Hour)
	defer cancel2()
	waitDone(t, grandchild.Done(), "grandchild of an expiring attempt")
	assert.ErrorIs(t, grandchild.Err(), context.DeadlineExceeded)
	assert.ErrorIs(t, context.Cause(grandchild), context.DeadlineExceeded)
	// A child cancelled on its own leaves the attempt running.
	actx2 := z.WithTimeout(context.Background())
	c, cc := context.WithCancel(actx2)
	cc()
	assert.Error(t, c.Err())
	assert.NoError(t, actx2.Err())
	require.NoError(t, z.Timed(context.Background(), actx2, nil))
}

func TestAttemptContextAfterFunc(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, time.Hour)
	actx := z.WithTimeout(context.Background())
	ran := make(chan struct{})
	context.AfterFunc(actx, func() { close(ran) })
	stopped := false
	stop := context.AfterFunc(actx, func() { stopped = true })
	require.True(t, stop(), "stop before the end stops f")
	require.False(t, stop(), "a second stop has nothing to stop")
	assert.False(t, isClosed(ran))
	require.NoError(t, z.Timed(context.Background(), actx, nil))
	waitDone(t, ran, "AfterFunc after the attempt ended")
	assert.False(t, stopped)

	// Registered after the end: runs at once.
	ran2 := make(chan struct{})
	stop = context.AfterFunc(actx, func() { close(ran2) })
	waitDone(t, ran2, "AfterFunc on an ended attempt")
	assert.False(t, stop())

	// Through the method directly, as propagateCancel calls it.
	actx = z.WithTimeout(context.Background())
	af := actx.(interface{ AfterFunc(func()) func() bool })
	calls := 0
	af.AfterFunc(func() { calls++ })
	require.NoError(t, z.Timed(context.Background(), actx, nil))
	assert.Equal(t, 1, calls, "registered functions run when the attempt ends, synchronously")
}

// Many attempts expiring, ending, deriving and waiting at once, for the race
// detector; every attempt must end in a consistent state.
func TestAttemptContextStress(t *testing.T) {
	t.Parallel()
	z := timeoutZone(t, 2*time.Millisecond)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				actx := z.WithTimeout(parent)
				switch i % 4 {
				case 0: // waits past the deadline
					select {
					case <-actx.Done():
					case <-time.After(5 * time.Second):
						t.Error("attempt did not expire")
						return
					}
				case 1: // derives, and ends from another goroutine meanwhile
					child, cc := context.WithCancel(actx)
					var inner sync.WaitGroup
					inner.Add(1)
					go func() { defer inner.Done(); _ = actx.Err(); <-child.Done() }()
					_ = z.Timed(parent, actx, nil)
					inner.Wait()
					cc()
				case 2: // asks for Done and ends at once
					_ = actx.Done()
				case 3: // never looks
				}
				err := z.Timed(parent, actx, errors.New("x"))
				if actx.Err() == nil || !isClosed(actx.Done()) {
					t.Error("ended attempt not cancelled")
					return
				}
				if errors.Is(err, ErrTimeout) && !errors.Is(actx.Err(), context.DeadlineExceeded) {
					t.Errorf("timeout reported for an attempt with Err %v", actx.Err())
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range z.deadlines {
		l := &z.deadlines[i]
		l.mu.Lock()
		assert.Nil(t, l.head, "ended attempts left in deadline list %d", i)
		l.mu.Unlock()
	}
}

func TestAttemptContextAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	z := timeoutZone(t, time.Hour)
	ctx := context.Background()
	attempt := func() {
		actx := z.WithTimeout(ctx)
		_ = actx.Err()
		_, _ = actx.Deadline()
		_ = z.Timed(ctx, actx, nil)
	}
	assert.Zero(t, testing.AllocsPerRun(1000, attempt), "an attempt that never asks for Done")
	// The figure behind that 0: one slab per attemptSlabSize attempts (per P),
	// with room for what the runtime's own goroutines allocate meanwhile.
	var m0, m1 goruntime.MemStats
	goruntime.ReadMemStats(&m0)
	const runs = 64 * attemptSlabSize
	for i := 0; i < runs; i++ {
		attempt()
	}
	goruntime.ReadMemStats(&m1)
	assert.LessOrEqual(t, m1.Mallocs-m0.Mallocs, uint64(2*runs/attemptSlabSize))

	withDone := func() {
		actx := z.WithTimeout(ctx)
		_ = actx.Done()
		_ = z.Timed(ctx, actx, nil)
	}
	assert.Equal(t, 1.0, testing.AllocsPerRun(1000, withDone), "an attempt that asks for Done: its channel")
}

// A context the method kept must stay its own: no slot is handed out twice,
// also from Ps beyond the slab cursors (GOMAXPROCS raised after start).
func TestAttemptContextsAreNeverReused(t *testing.T) {
	z := timeoutZone(t, time.Hour)
	prev := goruntime.GOMAXPROCS(0)
	defer goruntime.GOMAXPROCS(prev)
	goruntime.GOMAXPROCS(len(slabCursors) + 2)
	var mu sync.Mutex
	seen := map[context.Context]bool{}
	var kept []context.Context
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 4*attemptSlabSize; i++ {
				actx := z.WithTimeout(context.Background())
				mu.Lock()
				dup := seen[actx]
				seen[actx] = true
				kept = append(kept, actx)
				mu.Unlock()
				if dup {
					t.Error("an attempt context was handed out twice")
					return
				}
				_ = z.Timed(context.Background(), actx, nil)
				if i%9 == 0 {
					goruntime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	live := z.WithTimeout(context.Background())
	require.False(t, seen[live])
	for _, c := range kept {
		require.Equal(t, context.Canceled, c.Err(), "a kept context changed state")
	}
	require.NoError(t, live.Err())
	require.NoError(t, z.Timed(context.Background(), live, nil))
}
