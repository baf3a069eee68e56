package breaker_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/breaker"
)

// A lowered threshold opens the breaker at the next failure that reaches
// it; a raised one lets more failures through.
func TestSetLimitsMovesTheThreshold(t *testing.T) {
	t.Parallel()
	r := newRig(t, breaker.Settings{FailureThreshold: 5})
	r.fail(t, 2)
	l := r.SetLimits(3, 0)
	assert.Equal(t, 3, l.FailureThreshold)
	assert.Equal(t, 3, l.MinimumCalls, "without call counting MinimumCalls follows the threshold")
	assert.Equal(t, breaker.Closed, r.State(), "a new threshold is compared at the next failure")
	r.fail(t, 1)
	assert.Equal(t, breaker.Open, r.State(), "3 failures reach the lowered threshold")

	r2 := newRig(t, breaker.Settings{FailureThreshold: 2})
	r2.SetLimits(4, 0)
	r2.fail(t, 3)
	assert.Equal(t, breaker.Closed, r2.State(), "3 failures stay under the raised threshold")
	r2.fail(t, 1)
	assert.Equal(t, breaker.Open, r2.State())

	// Lowered below the failures already counted: the next failure opens it.
	r3 := newRig(t, breaker.Settings{FailureThreshold: 10})
	r3.fail(t, 4)
	r3.SetLimits(2, 0)
	assert.Equal(t, breaker.Closed, r3.State())
	r3.fail(t, 1)
	assert.Equal(t, breaker.Open, r3.State())
}

// A new recovery timeout arms the next OPEN period; the current one keeps
// its timer. HalfOpenMaxWait follows it when it followed the old one.
func TestSetLimitsRecoveryTakesEffectAtTheNextOpening(t *testing.T) {
	t.Parallel()
	r := openRig(t, breaker.Settings{RecoveryTimeout: 10 * time.Second})
	l := r.SetLimits(1, 30*time.Second)
	assert.Equal(t, 30*time.Second, l.RecoveryTimeout)
	assert.Equal(t, 30*time.Second, l.HalfOpenMaxWait, "the wait followed the recovery timeout")
	r.clk.Advance(10 * time.Second)
	assert.Equal(t, breaker.HalfOpen, r.State(), "the OPEN period armed before the change keeps its timer")
	tk, ok := r.Allow()
	require.True(t, ok)
	r.Failure(tk)
	require.Equal(t, breaker.Open, r.State())
	r.clk.Advance(29 * time.Second)
	assert.Equal(t, breaker.Open, r.State(), "the next OPEN period lasts the new timeout")
	r.clk.Advance(time.Second)
	assert.Equal(t, breaker.HalfOpen, r.State())

	own := newRig(t, breaker.Settings{RecoveryTimeout: 10 * time.Second, HalfOpenMaxWait: 3 * time.Second})
	assert.Equal(t, 3*time.Second, own.SetLimits(0, 20*time.Second).HalfOpenMaxWait, "a wait of its own stays")
	assert.Equal(t, breaker.Limits{FailureThreshold: 5, MinimumCalls: 5, Window: 60 * time.Second, RecoveryTimeout: 60 * time.Second,
		HalfOpenMaxCalls: 3, HalfOpenMaxWait: 3 * time.Second}, own.SetLimits(0, 0), "0 takes the defaults")

	counted := newRig(t, breaker.Settings{FailureThreshold: 2, MinimumCalls: 8})
	l = counted.SetLimits(4, 0)
	assert.Equal(t, 8, l.MinimumCalls, "with call counting MinimumCalls stays")
	assert.True(t, counted.Snapshot().CallsCounted)
}

// SetLimits while calls fail and succeed on other goroutines (run with
// -race): raised thresholds keep 800 failures from opening the breaker;
// lowered to 5 while the calls go on, it opens.
func TestSetLimitsUnderConcurrentCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t, breaker.Settings{FailureThreshold: 1000, RecoveryTimeout: time.Hour})
	work := func(wg *sync.WaitGroup, n int, stop <-chan struct{}) {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; n < 0 || i < n; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if tk, ok := r.Allow(); ok {
						r.Failure(tk)
					}
					if tk, ok := r.Allow(); ok {
						r.Success(tk)
					}
				}
			}()
		}
	}
	var wg sync.WaitGroup
	work(&wg, 200, nil)
	for i := 0; i < 200; i++ {
		th := 1000 + i%2*1000
		assert.Equal(t, th, r.SetLimits(th, time.Hour).FailureThreshold)
		got := r.Limits().FailureThreshold
		assert.True(t, got == 1000 || got == 2000, "threshold %d", got)
	}
	await.Wait(t, &wg, "800 failures")
	assert.Equal(t, breaker.Closed, r.State(), "800 failures stay under the raised thresholds")
	assert.Equal(t, 800, r.Snapshot().Failures, "the fake clock does not move: the window keeps every failure")

	r.SetLimits(900, time.Hour)
	stop := make(chan struct{})
	work(&wg, -1, stop)
	r.SetLimits(5, time.Hour) // 800 counted already: the next failure opens it
	deadline := time.After(await.Deadline)
	for r.State() != breaker.Open {
		select {
		case <-deadline:
			close(stop)
			t.Fatalf("the breaker did not open within %s of its threshold lowered to 5", await.Deadline)
		default:
			runtime.Gosched()
		}
	}
	close(stop)
	await.Wait(t, &wg, "the callers")
	assert.Equal(t, 5, r.Snapshot().Limits.FailureThreshold)
}
