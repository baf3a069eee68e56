package shape

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/clock"
)

func newThrottle(t *testing.T, s ThrottleSettings) *Throttle {
	t.Helper()
	th, err := NewThrottle(s)
	require.NoError(t, err)
	return th
}

// overload drives the throttle for d with demand calls a second against a
// dependency that accepts at most capacity a second and fails the rest, and
// returns how many calls were sent to it per second over the last quarter.
func overload(t *testing.T, c *clock.Fake, th *Throttle, demand, capacity int, d time.Duration) float64 {
	t.Helper()
	const tick = 100 * time.Millisecond
	ticks := int(d / tick)
	sentLate := 0
	for i := range ticks {
		accepted := 0
		for range demand / 10 {
			if !th.Allow() {
				continue
			}
			if i >= ticks*3/4 {
				sentLate++
			}
			if accepted < capacity/10 {
				accepted++
				th.Success()
			} else {
				th.Failure()
			}
		}
		c.Advance(tick)
	}
	return float64(sentLate) / (d / 4).Seconds()
}

func TestThrottleRejectsNothingWhileTheDependencyAccepts(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	th := newThrottle(t, ThrottleSettings{Clock: c})
	sent := overload(t, c, th, 100, 100, time.Minute)
	assert.InDelta(t, 100, sent, 0.01)
	assert.Zero(t, th.Rejected())
	assert.Zero(t, th.Probability())
}

func TestThrottleSendsKTimesWhatTheDependencyAccepts(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	th := newThrottle(t, ThrottleSettings{Clock: c}) // K = 2
	// Demand 200/s, the dependency accepts 40/s: the client sends about
	// K × 40 = 80/s and rejects the rest itself.
	sent := overload(t, c, th, 200, 40, 4*time.Minute)
	assert.InDelta(t, 80, sent, 12, "sent per second under overload")
	assert.Greater(t, th.Rejected(), uint64(0))
	assert.InDelta(t, 0.6, th.Probability(), 0.1)
}

func TestThrottleRecoversWhenTheDependencyDoes(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	th := newThrottle(t, ThrottleSettings{Clock: c, Window: 10 * time.Second})
	overload(t, c, th, 100, 0, 20*time.Second) // everything fails
	assert.Greater(t, th.Probability(), 0.9)
	// Its own rejections count as requests not accepted, so the share it
	// lets through doubles about once a window: a few windows.
	sent := overload(t, c, th, 100, 100, 2*time.Minute)
	assert.InDelta(t, 100, sent, 0.01, "all sent again a few windows after the failures")
	assert.Zero(t, th.Probability())
}

func TestNewThrottleRefuses(t *testing.T) {
	t.Parallel()
	_, err := NewThrottle(ThrottleSettings{K: 0.5})
	assert.ErrorContains(t, err, "below 1")
	_, err = NewThrottle(ThrottleSettings{Window: time.Millisecond})
	assert.ErrorContains(t, err, "under a second")
	th := newThrottle(t, ThrottleSettings{})
	assert.Equal(t, 2.0, th.K())
}

func TestThrottleQuietPathAllocatesNothing(t *testing.T) {
	th := newThrottle(t, ThrottleSettings{})
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		if th.Allow() {
			th.Success()
		}
	}))
}

func BenchmarkThrottleQuiet(b *testing.B) {
	th, err := NewThrottle(ThrottleSettings{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if th.Allow() {
			th.Success()
		}
	}
}
