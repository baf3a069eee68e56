package modecheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("service down")

// The operator modes, as the admin API and the README spell them.
const (
	live     = "LIVE"
	dryRun   = "DRY_RUN"
	disabled = "DISABLED"
)

// slowTimeout is Slow's timeout= (svc.go).
const slowTimeout = 20 * time.Millisecond

// fake is the inner Service: scripted errors per method, call counts, and
// what Slow saw of its context.
type fake struct {
	clk *clock.Fake

	mu       sync.Mutex
	script   map[string][]error
	calls    map[string]int
	deadline []time.Duration // Slow: time left to its context's deadline; -1 without one
	onShip   func()          // run by Ship before it answers

	entered chan struct{} // Limited: the first call holds its slot until release
	release chan struct{}
	hold    *hold // Adaptive: the next call is held (shape_test.go)
	hedged  *hold // Hedged: the first attempt is held (hedge_test.go)
}

func (f *fake) next(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	s := f.script[method]
	if len(s) == 0 {
		return nil
	}
	f.script[method] = s[1:]
	return s[0]
}

func (f *fake) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fake) fail(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[method] = errs
}

func (f *fake) Plain(context.Context) error { return f.next("Plain") }
func (f *fake) Flaky(context.Context) error { return f.next("Flaky") }

// Slow waits to be cut when its context has a deadline within a second
// (timeout= at work); otherwise it takes three timeouts on the runtime's
// clock and answers.
func (f *fake) Slow(ctx context.Context) error {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	f.mu.Lock()
	f.deadline = append(f.deadline, left)
	f.mu.Unlock()
	if err := f.next("Slow"); err != nil {
		return err
	}
	if left >= 0 && left < time.Second {
		<-ctx.Done()
		return ctx.Err()
	}
	f.clk.Advance(3 * slowTimeout)
	return nil
}

func (f *fake) Quote(context.Context, string) (int64, error) {
	if err := f.next("Quote"); err != nil {
		return 0, err
	}
	return 100, nil
}

func (f *fake) Limited(context.Context) error {
	if err := f.next("Limited"); err != nil {
		return err
	}
	if f.count("Limited") == 1 {
		close(f.entered)
		<-f.release
	}
	return nil
}

func (f *fake) Charge(context.Context, string) error { return f.next("Charge") }

func (f *fake) Ship(context.Context, string) error {
	f.mu.Lock()
	hook := f.onShip
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return f.next("Ship")
}

// env is one runtime in one mode with the wrapper under test.
type env struct {
	rt      *runtime.Runtime
	clk     *clock.Fake
	inner   *fake
	svc     *ProtectedService
	batches chan dlq.BatchReport
	logs    *logBuffer
	parked  string // the entry parked while LIVE, for the rows that need one
}

// logBuffer keeps the runtime's log lines for assertions on events.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		clk:     clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)),
		batches: make(chan dlq.BatchReport, 16),
		logs:    &logBuffer{},
	}
	e.inner = &fake{clk: e.clk, script: map[string][]error{}, calls: map[string]int{},
		entered: make(chan struct{}), release: make(chan struct{})}
	rt, err := runtime.New(context.Background(), runtime.Config{
		Clock:    e.clk,
		Logger:   slog.New(slog.NewTextHandler(e.logs, nil)),
		StateDir: t.TempDir(),
		Breaker:  runtime.BreakerConfig{FailureThreshold: 100, RecoveryTimeout: time.Minute},
		DLQ: dlq.Options{ReplayRate: -1, ReplayConcurrency: 1,
			OnBatch: func(r dlq.BatchReport) { e.batches <- r }},
	})
	require.NoError(t, err)
	e.rt = rt
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	e.svc = NewProtectedService(e.inner, rt)
	return e
}

// switchMode switches the runtime's persisted control, as an operator does.
func (e *env) switchMode(mode string) error {
	ctx := context.Background()
	switch mode {
	case dryRun:
		_, err := e.rt.Control().StartDryRun(ctx, "modes-test", "the modes table")
		return err
	case disabled:
		_, err := e.rt.Control().Disable(ctx, "modes-test", "the modes table")
		return err
	}
	return nil
}

// setMode is switchMode, checked.
func (e *env) setMode(t *testing.T, mode string) {
	t.Helper()
	require.NoError(t, e.switchMode(mode))
	require.Equal(t, mode == dryRun, e.rt.DryRun())
	require.Equal(t, mode != disabled, e.rt.Enabled())
}

// wouldHave lists the dry-run decisions as method:policy:decision.
func (e *env) wouldHave() []string {
	var got []string
	for _, d := range e.rt.WouldHave() {
		got = append(got, d.Method+":"+d.Policy+":"+d.Outcome)
	}
	return got
}

func (e *env) forceOpen(t *testing.T) {
	t.Helper()
	b, ok := e.rt.Breaker("modes")
	require.True(t, ok)
	b.ForceOpen("modes test")
}

// park makes Ship fail once in LIVE, so that one entry is pending.
func (e *env) park(t *testing.T, parcel string) string {
	t.Helper()
	e.inner.fail("Ship", errDown)
	require.ErrorIs(t, e.svc.Ship(context.Background(), parcel), errDown)
	l, err := e.rt.DLQ().List(context.Background(), dlq.Filter{Domain: "modes", State: dlq.StatePending}, dlq.Page{})
	require.NoError(t, err)
	for _, en := range l.Entries {
		if strings.Contains(string(en.Args), parcel) {
			return en.ID
		}
	}
	t.Fatalf("no pending entry for parcel %s", parcel)
	return ""
}

func (e *env) pending(t *testing.T) int {
	t.Helper()
	l, err := e.rt.DLQ().List(context.Background(), dlq.Filter{Domain: "modes", State: dlq.StatePending}, dlq.Page{})
	require.NoError(t, err)
	return len(l.Entries)
}

// awaitBatch waits for the dead-letter queue to report a batch.
func (e *env) awaitBatch(t *testing.T) dlq.BatchReport {
	t.Helper()
	select {
	case r := <-e.batches:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no dead-letter batch was reported within 5s")
		return dlq.BatchReport{}
	}
}

// cell is one policy in one mode: what the README's table promises.
type cell func(t *testing.T, e *env, mode string)

// TestPoliciesInEachMode checks the README's table "Policies in each mode",
// one subtest per cell.
func TestPoliciesInEachMode(t *testing.T) {
	ctx := context.Background()
	rows := []struct {
		policy string
		parked bool // one entry is parked while LIVE, before the mode is set
		cells  map[string]cell
	}{
		{"breaker", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				e.forceOpen(t)
				require.ErrorIs(t, e.svc.Plain(ctx), runtime.ErrOpen)
				assert.Zero(t, e.inner.count("Plain"), "the open breaker rejects without calling the service")
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				e.forceOpen(t)
				require.NoError(t, e.svc.Plain(ctx))
				assert.Equal(t, 1, e.inner.count("Plain"))
				assert.Equal(t, []string{"Plain:breaker:reject"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				e.forceOpen(t)
				require.NoError(t, e.svc.Plain(ctx))
				assert.Equal(t, 1, e.inner.count("Plain"), "the breaker is not consulted")
			},
		}},
		{"retry", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Flaky", errDown, errDown)
				require.NoError(t, e.svc.Flaky(ctx))
				assert.Equal(t, 3, e.inner.count("Flaky"))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Flaky", errDown, errDown)
				require.ErrorIs(t, e.svc.Flaky(ctx), errDown)
				assert.Equal(t, 1, e.inner.count("Flaky"), "no second attempt")
				assert.Equal(t, []string{"Flaky:retry:retry"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Flaky", errDown, errDown)
				require.ErrorIs(t, e.svc.Flaky(ctx), errDown)
				assert.Equal(t, 1, e.inner.count("Flaky"))
			},
		}},
		{"timeout", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				err := e.svc.Slow(ctx)
				require.ErrorIs(t, err, runtime.ErrTimeout)
				require.ErrorIs(t, err, context.DeadlineExceeded, "the attempt was cut")
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Slow(ctx), "the attempt ran three timeouts long and answered")
				// A caller's own deadline still applies, and the attempt is timed all the same.
				cctx, cancel := context.WithTimeout(ctx, time.Hour)
				defer cancel()
				require.NoError(t, e.svc.Slow(cctx))
				e.inner.mu.Lock()
				left := append([]time.Duration(nil), e.inner.deadline...)
				e.inner.mu.Unlock()
				require.Len(t, left, 2)
				assert.Equal(t, time.Duration(-1), left[0], "no bound from timeout= on the attempt's context")
				assert.InDelta(t, time.Hour, left[1], float64(time.Minute), "the caller's deadline is the attempt's")
				assert.Equal(t, []string{"Slow:timeout:timeout", "Slow:timeout:timeout"}, e.wouldHave())
				assert.Contains(t, e.rt.WouldHave()[0].Reason, "over timeout=20ms")
			},
			disabled: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Slow(ctx))
				e.inner.mu.Lock()
				defer e.inner.mu.Unlock()
				assert.Equal(t, []time.Duration{-1}, e.inner.deadline, "the caller's context, untouched")
			},
		}},
		{"fallback", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Quote", errDown)
				v, err := e.svc.Quote(ctx, "sku")
				require.NoError(t, err)
				assert.EqualValues(t, -1, v, "the fallback answered")
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Quote", errDown)
				_, err := e.svc.Quote(ctx, "sku")
				require.ErrorIs(t, err, errDown)
				assert.Equal(t, []string{"Quote:fallback:fallback"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Quote", errDown)
				_, err := e.svc.Quote(ctx, "sku")
				require.ErrorIs(t, err, errDown)
			},
		}},
		{"bulkhead", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				second := e.holdTheSlot(t)
				require.ErrorIs(t, second(), runtime.ErrBulkheadFull)
				assert.Equal(t, 1, e.inner.count("Limited"))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				second := e.holdTheSlot(t)
				require.NoError(t, second())
				assert.Equal(t, 2, e.inner.count("Limited"))
				assert.Equal(t, []string{"Limited:bulkhead:reject"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				second := e.holdTheSlot(t)
				require.NoError(t, second())
				assert.Equal(t, 2, e.inner.count("Limited"))
			},
		}},
		{"idempotency", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Charge(ctx, "o-1"))
				require.ErrorIs(t, e.svc.Charge(ctx, "o-1"), runtime.ErrDuplicate)
				assert.Equal(t, 1, e.inner.count("Charge"))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Charge(ctx, "o-1"))
				require.NoError(t, e.svc.Charge(ctx, "o-1"), "the duplicate goes through")
				assert.Equal(t, 2, e.inner.count("Charge"))
				assert.Equal(t, []string{"Charge:idempotency:block"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				require.NoError(t, e.svc.Charge(ctx, "o-1"))
				require.NoError(t, e.svc.Charge(ctx, "o-1"))
				assert.Equal(t, 2, e.inner.count("Charge"))
			},
		}},
		{"dlq park", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Ship", errDown)
				require.ErrorIs(t, e.svc.Ship(ctx, "p-1"), errDown)
				assert.Equal(t, 1, e.pending(t))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Ship", errDown)
				require.ErrorIs(t, e.svc.Ship(ctx, "p-1"), errDown)
				assert.Zero(t, e.pending(t), "nothing parked")
				assert.Equal(t, []string{"Ship:dlq:park"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				e.inner.fail("Ship", errDown)
				require.ErrorIs(t, e.svc.Ship(ctx, "p-1"), errDown)
				assert.Zero(t, e.pending(t))
			},
		}},
		{"dlq sweep on breaker close", true, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				e.closeTheBreaker(t)
				r := e.awaitBatch(t)
				assert.True(t, r.Automatic)
				assert.Equal(t, 1, r.Outcomes[dlq.OutcomeResolved])
				assert.Equal(t, 2, e.inner.count("Ship"), "the parked call ran again")
				assert.Zero(t, e.pending(t))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				e.closeTheBreaker(t)
				assert.Equal(t, []string{":dlq:sweep"}, e.wouldHave())
				e.assertNoSweep(t)
			},
			disabled: func(t *testing.T, e *env, _ string) {
				e.closeTheBreaker(t)
				assert.Contains(t, e.logs.String(), "dlq.sweep_held")
				e.assertNoSweep(t)
			},
		}},
		{"dlq manual replay", true, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				code, _ := e.replayByAPI(t, e.parked, false)
				assert.Equal(t, http.StatusOK, code)
				assert.Equal(t, 2, e.inner.count("Ship"))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				code, _ := e.replayByAPI(t, e.parked, false)
				assert.Equal(t, http.StatusOK, code, "an operator's replay is an action, not a policy: it runs")
				assert.Equal(t, 2, e.inner.count("Ship"))
			},
			disabled: func(t *testing.T, e *env, _ string) {
				id := e.parked
				code, body := e.replayByAPI(t, id, false)
				assert.Equal(t, http.StatusConflict, code, body)
				assert.Contains(t, body, `"gate": "kill_switch"`)
				assert.Equal(t, 1, e.inner.count("Ship"), "held")
				code, body = e.replayByAPI(t, id, true)
				assert.Equal(t, http.StatusOK, code, body)
				assert.Equal(t, 2, e.inner.count("Ship"), "overridden: the call runs, as every call does, untouched")
			},
		}},
	}
	rows = append(rows, shapeRows()...)
	rows = append(rows, hedgeRows()...)
	rows = append(rows, cacheRows()...)
	for _, row := range rows {
		for _, mode := range []string{live, dryRun, disabled} {
			t.Run(row.policy+"/"+mode, func(t *testing.T) {
				t.Parallel()
				run, ok := row.cells[mode]
				require.True(t, ok, "the table has no %s cell for %s", mode, row.policy)
				e := newEnv(t)
				if row.parked {
					e.parked = e.park(t, "p-1")
				}
				e.setMode(t, mode)
				run(t, e, mode)
				if mode != dryRun {
					assert.Empty(t, e.rt.WouldHave(), "only dry-run records would-have decisions")
				}
			})
		}
	}
}

// holdTheSlot starts a Limited call that holds the bulkhead's one slot and
// returns the second call; the first is released when the test ends.
func (e *env) holdTheSlot(t *testing.T) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- e.svc.Limited(context.Background()) }()
	select {
	case <-e.inner.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first Limited call never reached the service")
	}
	t.Cleanup(func() {
		close(e.inner.release)
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("the first Limited call did not return after its release")
		}
	})
	return func() error { return e.svc.Limited(context.Background()) }
}

// closeTheBreaker opens and resets the service's breaker, which triggers the
// automatic sweep of its domain in LIVE.
func (e *env) closeTheBreaker(t *testing.T) {
	t.Helper()
	e.forceOpen(t)
	b, _ := e.rt.Breaker("modes")
	b.Reset("modes test")
}

// assertNoSweep checks that the breaker's closing replayed nothing: no batch
// ran until the runtime closed (Close waits for running sweeps), and the
// entry is still pending.
func (e *env) assertNoSweep(t *testing.T) {
	t.Helper()
	assert.Equal(t, 1, e.pending(t), "the parked entry stays pending")
	require.NoError(t, e.rt.Close())
	select {
	case r := <-e.batches:
		t.Errorf("a sweep ran: %+v", r)
	default:
	}
	assert.Equal(t, 1, e.inner.count("Ship"), "the parked call did not run again")
}

// replayByAPI replays one entry through the admin API as an operator.
func (e *env) replayByAPI(t *testing.T, id string, override bool) (int, string) {
	t.Helper()
	const key = "operator-key-0123456789"
	h, err := admin.New(admin.Options{Runtime: e.rt, Control: e.rt.Control(), Queue: e.rt.DLQ(), Port: "9090",
		Logger:   slog.New(slog.DiscardHandler),
		Security: admin.Security{Keys: []admin.Key{{Role: admin.RoleOperator, Secret: key}}}})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/api/baldur/dlq/"+id+"/replay/", strings.NewReader(fmt.Sprintf(`{"override":%v}`, override)))
	r.Host = "127.0.0.1:9090"
	r.Header.Set(admin.KeyHeader, key)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestKillSwitchAndDryRunStopASweepUnderWay flips the mode while an automatic
// sweep replays: the entry being replayed finishes, the rest stay pending.
func TestKillSwitchAndDryRunStopASweepUnderWay(t *testing.T) {
	for _, mode := range []string{dryRun, disabled} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for i := range 3 {
				e.park(t, fmt.Sprintf("p-%d", i))
			}
			var (
				once    sync.Once
				modeErr error
			)
			e.inner.mu.Lock()
			e.inner.onShip = func() { once.Do(func() { modeErr = e.switchMode(mode) }) }
			e.inner.mu.Unlock()
			e.closeTheBreaker(t)
			r := e.awaitBatch(t)
			require.NoError(t, modeErr, "switching to %s during the replay", mode)
			assert.Equal(t, 1, r.Replayed, "one replay was under way when the mode changed")
			assert.Contains(t, r.Stopped, "held")
			assert.Equal(t, 2, e.pending(t), "the rest stay pending")
		})
	}
}
