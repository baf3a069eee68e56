package modecheck

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
)

// The load-shaping methods of the inner Service.

func (f *fake) Metered(context.Context) error  { return f.next("Metered") }
func (f *fake) Shed(context.Context) error     { return f.next("Shed") }
func (f *fake) Budgeted(context.Context) error { return f.next("Budgeted") }

// Adaptive holds the first call made after holdNext until its release.
func (f *fake) Adaptive(context.Context) error {
	if err := f.next("Adaptive"); err != nil {
		return err
	}
	f.mu.Lock()
	h := f.hold
	f.hold = nil
	f.mu.Unlock()
	if h != nil {
		close(h.entered)
		<-h.release
	}
	return nil
}

type hold struct{ entered, release chan struct{} }

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

// shedCalls makes n calls of Shed against a service failing every one and
// returns how many the throttle shed.
func (e *env) shedCalls(t *testing.T, n int) int {
	t.Helper()
	e.inner.fail("Shed", repeat(errDown, n)...)
	shed := 0
	for range n {
		err := e.svc.Shed(context.Background())
		switch {
		case errors.Is(err, runtime.ErrThrottled):
			shed++
		default:
			require.ErrorIs(t, err, errDown)
		}
	}
	return shed
}

// queueBehindAHeldCall shrinks Adaptive's limit to 1 with failures (LIVE and
// dry-run: a failed call is a drop), holds one call in flight, and starts a
// second, which queues (LIVE, dry-run) or goes straight through (DISABLED).
// It lets the queue's 50ms pass and returns the second call's error; the
// held call is released when the test ends.
func (e *env) queueBehindAHeldCall(t *testing.T, mode string) error {
	t.Helper()
	ctx := context.Background()
	e.inner.fail("Adaptive", repeat(errDown, 30)...)
	for range 30 {
		require.ErrorIs(t, e.svc.Adaptive(ctx), errDown)
	}
	if mode != disabled {
		s := e.rt.Snapshot().Shaping
		require.Len(t, s, 6) // Adaptive, Budgeted, Cached, Hedged, Metered, Shed
		require.Equal(t, "Adaptive", s[0].Method)
		require.Equal(t, int64(1), s[0].ConcurrencyLimit, "30 failures shrink the limit to its floor")
	}
	h := &hold{entered: make(chan struct{}), release: make(chan struct{})}
	e.inner.mu.Lock()
	e.inner.hold = h
	e.inner.mu.Unlock()
	first := make(chan error, 1)
	go func() { first <- e.svc.Adaptive(ctx) }()
	await.Signal(t, h.entered, "the held Adaptive call")
	t.Cleanup(func() {
		close(h.release)
		assert.NoError(t, await.Recv(t, first, "the held Adaptive call's return"))
	})
	armed := e.clk.Pending()
	second := make(chan error, 1)
	go func() { second <- e.svc.Adaptive(ctx) }()
	if mode != disabled {
		end := time.Now().Add(await.Deadline)
		for e.clk.Pending() <= armed { // the second call's queue wait is armed
			require.True(t, time.Now().Before(end), "the second call never queued")
			time.Sleep(time.Millisecond)
		}
		e.clk.Advance(runtime.DefaultConcurrencyQueueWait)
	}
	return await.Recv(t, second, "the second Adaptive call")
}

func contains(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

// shapeRows are the load-shaping rows of TestPoliciesInEachMode.
func shapeRows() []struct {
	policy string
	parked bool
	cells  map[string]cell
} {
	ctx := context.Background()
	return []struct {
		policy string
		parked bool
		cells  map[string]cell
	}{
		{"rate", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Metered(ctx))
				err := e.svc.Metered(ctx)
				require.ErrorIs(t, err, runtime.ErrRateLimited)
				var rl *runtime.RateLimitedError
				require.ErrorAs(t, err, &rl)
				assert.Equal(t, time.Hour, rl.RetryAfter)
				assert.Equal(t, 1, e.inner.count("Metered"), "the refused call never reached the service")
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Metered(ctx))
				require.NoError(t, e.svc.Metered(ctx))
				assert.Equal(t, 2, e.inner.count("Metered"))
				assert.Equal(t, []string{"Metered:rate:reject"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Metered(ctx))
				require.NoError(t, e.svc.Metered(ctx))
				assert.Equal(t, 2, e.inner.count("Metered"), "the rate is not consulted")
			},
		}},
		{"throttle", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				shed := e.shedCalls(t, 40)
				assert.Positive(t, shed, "every call fails: the throttle sheds")
				assert.Equal(t, 40, e.inner.count("Shed")+shed)
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				assert.Zero(t, e.shedCalls(t, 40))
				assert.Equal(t, 40, e.inner.count("Shed"))
				assert.True(t, contains(e.wouldHave(), "Shed:throttle:reject"), "%v", e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				assert.Zero(t, e.shedCalls(t, 40))
				assert.Equal(t, 40, e.inner.count("Shed"))
			},
		}},
		{"adaptive concurrency", false, map[string]cell{
			live: func(t *testing.T, e *env, mode string) {
				err := e.queueBehindAHeldCall(t, mode)
				require.ErrorIs(t, err, runtime.ErrConcurrencyLimited)
				var cl *runtime.ConcurrencyLimitedError
				require.ErrorAs(t, err, &cl)
				assert.Equal(t, runtime.ConcurrencyLimitedError{Limit: 1, InFlight: 1, Waited: runtime.DefaultConcurrencyQueueWait}, *cl)
				assert.Equal(t, 31, e.inner.count("Adaptive"))
			},
			dryRun: func(t *testing.T, e *env, mode string) {
				require.NoError(t, e.queueBehindAHeldCall(t, mode))
				assert.Equal(t, 32, e.inner.count("Adaptive"))
				assert.Equal(t, []string{"Adaptive:concurrency:reject"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, mode string) {
				require.NoError(t, e.queueBehindAHeldCall(t, mode))
				assert.Equal(t, 32, e.inner.count("Adaptive"))
			},
		}},
		{"retry budget", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				// 80 calls failing every attempt: 160 retries wanted; the
				// budget allows 20% of 80 plus its floor of 100.
				e.inner.fail("Budgeted", repeat(errDown, 300)...)
				for range 80 {
					require.ErrorIs(t, e.svc.Budgeted(ctx), errDown, "the caller gets the last error")
				}
				n := e.inner.count("Budgeted")
				assert.LessOrEqual(t, n, 80+16+100+1)
				assert.GreaterOrEqual(t, n, 80+100)
				assert.Positive(t, e.rt.Snapshot().Shaping[1].BudgetExhausted)
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Budgeted", repeat(errDown, 105)...)
				for range 105 {
					require.ErrorIs(t, e.svc.Budgeted(ctx), errDown)
				}
				assert.Equal(t, 105, e.inner.count("Budgeted"), "one attempt each")
				assert.True(t, contains(e.wouldHave(), "Budgeted:retry_budget:reject"), "%v", e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Budgeted", repeat(errDown, 5)...)
				for range 5 {
					require.ErrorIs(t, e.svc.Budgeted(ctx), errDown)
				}
				assert.Equal(t, 5, e.inner.count("Budgeted"), "one attempt each")
			},
		}},
	}
}
