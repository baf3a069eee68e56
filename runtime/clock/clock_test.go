package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestFakeAdvanceFiresDueCallbacksInDeadlineOrder(t *testing.T) {
	f := clock.NewFake(t0)
	var got []string
	var at []time.Time
	record := func(name string) func() {
		return func() { got = append(got, name); at = append(at, f.Now()) }
	}
	f.AfterFunc(3*time.Second, record("c"))
	f.AfterFunc(1*time.Second, record("a"))
	f.AfterFunc(2*time.Second, record("b1"))
	f.AfterFunc(2*time.Second, record("b2")) // same deadline: arming order
	f.AfterFunc(10*time.Second, record("late"))

	f.Advance(3 * time.Second)
	assert.Equal(t, []string{"a", "b1", "b2", "c"}, got)
	assert.Equal(t, []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}, at)
	assert.Equal(t, t0.Add(3*time.Second), f.Now())
	assert.Equal(t, 1, f.Pending())
	assert.Equal(t, []time.Time{t0.Add(10 * time.Second)}, f.Deadlines())
}

func TestFakeCallbackMayArmTimersThatFireInTheSameAdvance(t *testing.T) {
	f := clock.NewFake(t0)
	var fired []time.Time
	var tick func()
	tick = func() {
		fired = append(fired, f.Now())
		f.AfterFunc(time.Second, tick)
	}
	f.AfterFunc(time.Second, tick)
	f.Advance(3500 * time.Millisecond)
	assert.Equal(t, []time.Time{t0.Add(1 * time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}, fired)
	assert.Equal(t, 1, f.Pending())
}

func TestFakeStop(t *testing.T) {
	f := clock.NewFake(t0)
	ran := false
	tm := f.AfterFunc(time.Second, func() { ran = true })
	assert.True(t, tm.Stop())
	assert.False(t, tm.Stop(), "second Stop reports it was already stopped")
	f.Advance(time.Hour)
	assert.False(t, ran)

	tm = f.AfterFunc(time.Second, func() {})
	f.Advance(time.Second)
	assert.False(t, tm.Stop(), "Stop after the callback ran reports false")
	assert.Zero(t, f.Pending())
}

func TestFakeZeroDelayRunsOnNextAdvance(t *testing.T) {
	f := clock.NewFake(t0)
	ran := 0
	f.AfterFunc(0, func() { ran++ })
	f.AfterFunc(-time.Second, func() { ran++ })
	assert.Zero(t, ran, "AfterFunc never runs the callback itself")
	f.Advance(0)
	assert.Equal(t, 2, ran)
	assert.Equal(t, t0, f.Now(), "overdue callbacks do not move time backwards")
}

func TestFakeSetBackwardsRunsNothing(t *testing.T) {
	f := clock.NewFake(t0)
	ran := false
	f.AfterFunc(time.Second, func() { ran = true })
	f.Set(t0.Add(-time.Hour))
	assert.False(t, ran)
	assert.Equal(t, t0.Add(-time.Hour), f.Now())
	f.Set(t0.Add(time.Second))
	assert.True(t, ran)
}

func TestFakeIsSafeForConcurrentUse(t *testing.T) {
	f := clock.NewFake(t0)
	var mu sync.Mutex
	ran := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				before := f.Now()
				tm := f.AfterFunc(time.Millisecond, func() { mu.Lock(); ran++; mu.Unlock() })
				f.Advance(time.Millisecond)
				assert.False(t, f.Now().Before(before.Add(time.Millisecond)), "concurrent Advances never go back")
				tm.Stop()
				_ = f.Now()
			}
		}()
	}
	await.Wait(t, &wg, "the goroutines using the fake clock")
	assert.Equal(t, 800, ran, "every timer is run by some Advance since each Advance covers its deadline")
	assert.Zero(t, f.Pending())
}

func TestRealClock(t *testing.T) {
	c := clock.Real()
	before := time.Now()
	assert.False(t, c.Now().Before(before))

	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("real AfterFunc did not fire")
	}

	stopped := c.AfterFunc(time.Hour, func() { t.Error("stopped timer fired") })
	require.True(t, stopped.Stop())
}
