package behaviour

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
)

func TestMain(m *testing.M) {
	if os.Getenv("BALDUR_FLEET_CHILD") != "" {
		fleetChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// fake is a programmable Pricer: each method pops the next scripted error
// (nil when the script is exhausted) and counts its calls.
type fake struct {
	mu         sync.Mutex
	script     []error
	calls      atomic.Int64
	block      chan struct{} // Limited and Slow wait on it (or on ctx) when non-nil
	slowCtxErr error
}

func (f *fake) next() error {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) == 0 {
		return nil
	}
	err := f.script[0]
	f.script = f.script[1:]
	return err
}

func (f *fake) Price(_ context.Context, symbol string) (Quote, error) {
	if err := f.next(); err != nil {
		return Quote{}, err
	}
	return Quote{Symbol: symbol, Cents: 4200}, nil
}

func (f *fake) Slow(ctx context.Context, symbol string) (Quote, error) {
	f.calls.Add(1)
	<-ctx.Done()
	f.mu.Lock()
	f.slowCtxErr = ctx.Err()
	f.mu.Unlock()
	return Quote{}, ctx.Err()
}

func (f *fake) Limited(ctx context.Context, _ string) error {
	f.calls.Add(1)
	select {
	case <-f.block:
	case <-ctx.Done():
	}
	return nil
}

func (f *fake) Hot(_ context.Context, n int) (int, error) { return n + 1, nil }

func (f *fake) Plain(context.Context) error { return f.next() }

func (f *fake) Count() int { return 42 }

var errDown = errors.New("pricer is down")

func newRuntime(t *testing.T, clk clock.Clock) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{
		Clock:     clk,
		Logger:    slog.New(slog.DiscardHandler),
		StateDir:  t.TempDir(),
		CallStats: true,
		Breaker: runtime.BreakerConfig{
			FailureThreshold: 5,
			RecoveryTimeout:  time.Minute,
			HalfOpenMaxCalls: 3,
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	return rt
}

func repeat(err error, n int) []error {
	s := make([]error, n)
	for i := range s {
		s[i] = err
	}
	return s
}

func breakerState(t *testing.T, rt *runtime.Runtime) breaker.State {
	t.Helper()
	b, ok := rt.Breaker("pricer")
	require.True(t, ok, "the pricer breaker exists once a wrapper is built")
	return b.State()
}

func TestBreakerOpensAtThresholdAndRejectsWithoutCallingInner(t *testing.T) {
	f := &fake{script: repeat(errDown, 5)}
	rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
	p := NewProtectedPricer(f, rt)
	ctx := context.Background()

	for i := range 4 {
		require.ErrorIs(t, p.Plain(ctx), errDown, "call %d", i+1)
		require.Equal(t, breaker.Closed, breakerState(t, rt), "still closed after %d failures", i+1)
	}
	require.ErrorIs(t, p.Plain(ctx), errDown)
	require.Equal(t, breaker.Open, breakerState(t, rt))

	err := p.Plain(ctx)
	require.ErrorIs(t, err, runtime.ErrOpen)
	var oe *runtime.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "pricer", oe.Service)
	assert.Equal(t, "Plain", oe.Method)
	assert.EqualValues(t, 5, f.calls.Load(), "the rejected call never reached the inner method")
}

func TestHalfOpenProbesCloseTheBreaker(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	f := &fake{script: repeat(errDown, 5)}
	rt := newRuntime(t, clk)
	p := NewProtectedPricer(f, rt)
	ctx := context.Background()
	for range 5 {
		_ = p.Plain(ctx)
	}
	require.Equal(t, breaker.Open, breakerState(t, rt))

	clk.Advance(time.Minute)
	require.Equal(t, breaker.HalfOpen, breakerState(t, rt))
	for i := range 3 {
		require.NoError(t, p.Plain(ctx), "probe %d", i+1)
	}
	require.Equal(t, breaker.Closed, breakerState(t, rt))
}

func TestOneFailedProbeReopens(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	f := &fake{script: repeat(errDown, 6)}
	rt := newRuntime(t, clk)
	p := NewProtectedPricer(f, rt)
	ctx := context.Background()
	for range 5 {
		_ = p.Plain(ctx)
	}
	clk.Advance(time.Minute)
	require.Equal(t, breaker.HalfOpen, breakerState(t, rt))
	require.ErrorIs(t, p.Plain(ctx), errDown)
	require.Equal(t, breaker.Open, breakerState(t, rt))
	require.ErrorIs(t, p.Plain(ctx), runtime.ErrOpen)
}

func TestRetryRecoversFromTransientFailures(t *testing.T) {
	f := &fake{script: []error{errDown, errDown}}
	p := NewProtectedPricer(f, newRuntime(t, nil))
	q, err := p.Price(context.Background(), "ACME")
	require.NoError(t, err)
	assert.Equal(t, Quote{Symbol: "ACME", Cents: 4200}, q)
	assert.EqualValues(t, 3, f.calls.Load())
}

func TestFallbackReceivesTheLastError(t *testing.T) {
	last := errors.New("third failure")
	f := &fake{script: []error{errDown, errDown, last}}
	p := NewProtectedPricer(f, newRuntime(t, nil))
	q, err := p.Price(context.Background(), "ACME")
	require.NoError(t, err, "the fallback answered")
	assert.Equal(t, int64(-1), q.Cents)
	assert.Same(t, last, q.FallbackFor)
	assert.EqualValues(t, 3, f.calls.Load())
}

func TestFallbackAnswersForAnOpenBreaker(t *testing.T) {
	f := &fake{script: repeat(errDown, 5)}
	rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
	p := NewProtectedPricer(f, rt)
	for range 5 {
		_ = p.Plain(context.Background())
	}
	q, err := p.Price(context.Background(), "ACME")
	require.NoError(t, err)
	require.ErrorIs(t, q.FallbackFor, runtime.ErrOpen)
}

func TestPermanentStopsRetries(t *testing.T) {
	perm := runtime.Permanent(errors.New("card declined"))
	f := &fake{script: []error{perm}}
	p := NewProtectedPricer(f, newRuntime(t, nil))
	q, _ := p.Price(context.Background(), "ACME")
	assert.EqualValues(t, 1, f.calls.Load(), "no second attempt after a permanent error")
	require.ErrorIs(t, q.FallbackFor, runtime.ErrPermanent)
}

func TestTimeoutCancelsTheAttempt(t *testing.T) {
	f := &fake{}
	p := NewProtectedPricer(f, newRuntime(t, nil))
	// The caller's own deadline only bounds the test if the 20ms timeout fails to.
	ctx, cancel := context.WithTimeout(context.Background(), await.Deadline)
	defer cancel()
	_, err := p.Slow(ctx, "ACME")
	require.ErrorIs(t, err, runtime.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var te *runtime.TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 20*time.Millisecond, te.Timeout)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.ErrorIs(t, f.slowCtxErr, context.DeadlineExceeded, "the inner method saw its context expire")
}

func TestCallerCancellationIsNotAFailure(t *testing.T) {
	f := &fake{}
	rt := newRuntime(t, nil)
	p := NewProtectedPricer(f, rt)
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Slow(ctx, "ACME")
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, runtime.ErrTimeout)
	}
	assert.Equal(t, breaker.Closed, breakerState(t, rt), "ten cancelled calls must not open the breaker")
}

func TestBulkheadRejectsTheThirdConcurrentCall(t *testing.T) {
	f := &fake{block: make(chan struct{})}
	release := sync.OnceFunc(func() { close(f.block) })
	t.Cleanup(release) // a failed assertion still lets the held calls return
	p := NewProtectedPricer(f, newRuntime(t, nil))
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.NoError(t, p.Limited(ctx, "ACME")) })
	}
	require.Eventually(t, func() bool { return f.calls.Load() == 2 }, 5*time.Second, time.Millisecond)

	// On another goroutine: a bulkhead that admits it would hold it until released.
	third := make(chan error, 1)
	go func() { third <- p.Limited(ctx, "ACME") }()
	err := await.Recv(t, third, "the third concurrent call (was it admitted?)")
	require.ErrorIs(t, err, runtime.ErrBulkheadFull)
	var be *runtime.BulkheadFullError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "pricer.Limited", be.Compartment)
	assert.EqualError(t, err, `bulkhead "pricer.Limited" is full (2/2 active)`)
	release()
	await.Wait(t, &wg, "the two admitted calls, released")
	require.NoError(t, p.Limited(ctx, "ACME"), "slots are released after the calls return")
}

type httpErr struct {
	code  int
	after time.Duration
}

func (e httpErr) Error() string             { return fmt.Sprintf("http %d", e.code) }
func (e httpErr) StatusCode() int           { return e.code }
func (e httpErr) RetryAfter() time.Duration { return e.after }

func TestHTTPStatusClassification(t *testing.T) {
	for _, tc := range []struct {
		code      int
		wantCalls int64 // Price has retry=3
		opens     bool  // after 5 such calls on Plain
	}{
		{code: 400, wantCalls: 1, opens: false},
		{code: 404, wantCalls: 1, opens: false},
		{code: 429, wantCalls: 3, opens: true},
		{code: 501, wantCalls: 1, opens: false},
		{code: 503, wantCalls: 3, opens: true},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			e := httpErr{code: tc.code}
			f := &fake{script: repeat(e, 3)}
			rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
			p := NewProtectedPricer(f, rt)
			_, _ = p.Price(context.Background(), "X")
			assert.Equal(t, tc.wantCalls, f.calls.Load(), "attempts")

			f2 := &fake{script: repeat(e, 5)}
			p2 := NewProtectedPricer(f2, newRuntime(t, clock.NewFake(time.Unix(0, 0))))
			for range 5 {
				_ = p2.Plain(context.Background())
			}
			err := p2.Plain(context.Background())
			assert.Equal(t, tc.opens, errors.Is(err, runtime.ErrOpen), "breaker open after five %d", tc.code)
		})
	}
}

func TestRetryAfterHintIsHonoured(t *testing.T) {
	f := &fake{script: []error{httpErr{code: 503, after: 30 * time.Millisecond}}}
	p := NewProtectedPricer(f, newRuntime(t, nil))
	start := time.Now()
	_, err := p.Price(context.Background(), "ACME")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond, "waited the server's hint, not the 1ms backoff")
}

func TestKillSwitchDelegatesUntouched(t *testing.T) {
	f := &fake{script: repeat(errDown, 5)}
	rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
	p := NewProtectedPricer(f, rt)
	for range 5 {
		_ = p.Plain(context.Background())
	}
	require.ErrorIs(t, p.Plain(context.Background()), runtime.ErrOpen)
	if _, err := rt.Control().Disable(context.Background(), "test", "incident"); err != nil {
		t.Fatal(err)
	}
	require.NoError(t, p.Plain(context.Background()), "disabled: the open breaker is not consulted")
	assert.EqualValues(t, 6, f.calls.Load())
}

func TestDryRunRecordsInsteadOfIntervening(t *testing.T) {
	f := &fake{script: repeat(errDown, 5)}
	rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
	p := NewProtectedPricer(f, rt)
	for range 5 {
		_ = p.Plain(context.Background())
	}
	if _, err := rt.Control().StartDryRun(context.Background(), "test", "rehearsal"); err != nil {
		t.Fatal(err)
	}
	require.NoError(t, p.Plain(context.Background()), "dry-run: the open breaker would have rejected, but does not")

	f.mu.Lock()
	f.script = repeat(errDown, 3)
	f.mu.Unlock()
	q, err := p.Price(context.Background(), "ACME")
	require.ErrorIs(t, err, errDown, "dry-run: no retry, no fallback")
	assert.Zero(t, q.Cents)
	var got []string
	for _, d := range rt.WouldHave() {
		got = append(got, d.Method+":"+d.Policy+":"+d.Outcome)
	}
	assert.Equal(t, []string{"Plain:breaker:reject", "Price:breaker:reject", "Price:retry:retry", "Price:fallback:fallback"}, got)
}

func TestDryRunTimelineKeepsTheLastThousandAndCountsEveryDecision(t *testing.T) {
	f := &fake{script: repeat(errDown, 5)}
	clk := clock.NewFake(time.Unix(0, 0))
	rt := newRuntime(t, clk)
	p := NewProtectedPricer(f, rt)
	for range 5 {
		_ = p.Plain(context.Background())
	}
	if _, err := rt.Control().StartDryRun(context.Background(), "test", "rehearsal"); err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	const calls = 1500
	for range calls {
		clk.Advance(time.Millisecond)
		require.NoError(t, p.Plain(context.Background()))
	}
	log := rt.WouldHave()
	require.Len(t, log, 1000, "the timeline is bounded")
	for i, d := range log {
		want := start.Add(time.Duration(calls-1000+1+i) * time.Millisecond)
		require.True(t, d.At.Equal(want), "entry %d at %v, want %v: oldest first, the oldest 500 dropped", i, d.At, want)
	}
	assert.Equal(t, map[string]uint64{"breaker": calls}, rt.WouldHaveCounts(), "the counts are exact beyond the timeline")
}

func TestSuccessPathAllocatesNothing(t *testing.T) {
	for _, stats := range []bool{false, true} {
		t.Run(fmt.Sprintf("CallStats=%v", stats), func(t *testing.T) {
			rt, err := runtime.New(context.Background(), runtime.Config{
				Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(), CallStats: stats,
			})
			require.NoError(t, err)
			defer rt.Close()
			p := NewProtectedPricer(&fake{}, rt)
			ctx := context.Background()
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := p.Hot(ctx, 1); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs, "breaker + bulkhead + retry success path")
		})
	}
}

func TestMethodWithoutErrorResultIsDelegated(t *testing.T) {
	p := NewProtectedPricer(&fake{}, newRuntime(t, nil))
	assert.Equal(t, 42, p.Count())
}

func TestOpenRejectionAllocatesNothing(t *testing.T) {
	f := &fake{script: repeat(errDown, 5)}
	rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
	p := NewProtectedPricer(f, rt)
	ctx := context.Background()
	for range 5 {
		_ = p.Plain(ctx)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if !errors.Is(p.Plain(ctx), runtime.ErrOpen) {
			t.Fatal("want ErrOpen")
		}
	})
	assert.Zero(t, allocs)
}

func TestCallStatsCountEveryOutcome(t *testing.T) {
	f := &fake{script: []error{errDown, errDown}}
	rt := newRuntime(t, clock.NewFake(time.Unix(0, 0)))
	p := NewProtectedPricer(f, rt)
	ctx := context.Background()
	_, err := p.Price(ctx, "ACME") // two failures, two retries, one success
	require.NoError(t, err)
	for range 40 {
		_, _ = p.Hot(ctx, 1)
	}
	f.mu.Lock()
	f.script = repeat(errDown, 5)
	f.mu.Unlock()
	for range 6 { // with Price's two, three failures open the service's breaker; three calls are rejected
		_ = p.Plain(ctx)
	}
	_, err = p.Price(ctx, "ACME") // rejected, the fallback answers
	require.NoError(t, err)

	byMethod := map[string]runtime.CallStats{}
	for _, s := range rt.CallStats() {
		byMethod[s.Method] = s
	}
	price, hot, plain := byMethod["Price"], byMethod["Hot"], byMethod["Plain"]
	assert.Equal(t, []uint64{1, 2, 2, 1, 1, 1}, []uint64{price.Successes, price.Failures, price.Retries, price.RejectedOpen, price.Fallbacks, price.RetriedSuccesses})
	assert.EqualValues(t, 40, hot.Successes)
	assert.Equal(t, []uint64{0, 3, 3}, []uint64{plain.Successes, plain.Failures, plain.RejectedOpen})
	var sampled uint64
	for _, s := range rt.CallStats() {
		var inBuckets uint64
		for _, n := range s.Buckets {
			inBuckets += n
		}
		assert.Equal(t, s.Samples, inBuckets, "%s: every sample lands in one bucket", s.Method)
		sampled += s.Samples
	}
	assert.LessOrEqual(t, sampled, uint64(48), "durations are sampled, not taken for every attempt")
}
