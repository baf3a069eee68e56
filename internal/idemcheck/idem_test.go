package idemcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/idem"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errDeclined = errors.New("card declined")
	t0          = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// fake is the inner Payments. Each call counts itself; hook, when set,
// runs first and may block, fail or panic.
type fake struct {
	calls atomic.Int64
	mu    sync.Mutex
	hook  func(ctx context.Context, key string) error
	rate  float64
}

func (f *fake) run(ctx context.Context, key string) error {
	f.calls.Add(1)
	f.mu.Lock()
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx, key)
	}
	return nil
}

func (f *fake) setHook(h func(ctx context.Context, key string) error) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fake) receipt(orderID string, cents int64) Receipt {
	return Receipt{ID: "r-" + orderID + "-" + strconv.FormatInt(f.calls.Load(), 10), OrderID: orderID, Cents: cents}
}

func (f *fake) Charge(ctx context.Context, orderID string, cents int64) (Receipt, error) {
	if err := f.run(ctx, orderID); err != nil {
		return Receipt{}, err
	}
	return f.receipt(orderID, cents), nil
}

func (f *fake) Place(ctx context.Context, req *PlaceRequest) (Receipt, error) {
	id := ""
	if req != nil && req.Order != nil {
		id = req.Order.ID
	}
	if err := f.run(ctx, id); err != nil {
		return Receipt{}, err
	}
	return f.receipt(id, 0), nil
}

func (f *fake) PlaceAgain(ctx context.Context, req *PlaceRequest) (Receipt, error) {
	return f.Place(ctx, req)
}

func (f *fake) ChargeReplay(ctx context.Context, orderID string, cents int64) (Receipt, error) {
	return f.Charge(ctx, orderID, cents)
}

func (f *fake) Rate(ctx context.Context, orderID string) (float64, error) {
	if err := f.run(ctx, orderID); err != nil {
		return 0, err
	}
	return f.rate, nil
}

func (f *fake) ChargeOpen(ctx context.Context, orderID string, cents int64) (Receipt, error) {
	return f.Charge(ctx, orderID, cents)
}

func (f *fake) ChargeRetry(ctx context.Context, orderID string, cents int64) (Receipt, error) {
	return f.Charge(ctx, orderID, cents)
}

func (f *fake) ByNumber(ctx context.Context, _ int64) error { return f.run(ctx, "") }

func (f *fake) Window(ctx context.Context, orderID string) error { return f.run(ctx, orderID) }

// Upload neither reads the body nor applies the options: whatever touches
// them in a test is the wrapper.
func (f *fake) Upload(ctx context.Context, orderID string, _ int64, _ io.Reader, _ ...func(*UploadOptions)) error {
	return f.run(ctx, orderID)
}

func (f *fake) UploadBare(ctx context.Context, orderID string, _ int64) error {
	return f.run(ctx, orderID)
}

func (f *fake) Label(ctx context.Context, orderID string, _ fmt.Stringer) error {
	return f.run(ctx, orderID)
}

// env is one runtime with its clock and the wrapper under test.
type env struct {
	rt    *runtime.Runtime
	clk   *clock.Fake
	inner *fake
	p     Payments
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	if st == nil {
		st = store.NewMemoryWith(store.MemoryOptions{Clock: clk})
	}
	rt, err := runtime.New(context.Background(), runtime.Config{
		Store:  st,
		Clock:  clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	inner := &fake{}
	return &env{rt: rt, clk: clk, inner: inner, p: ProtectPayments(inner, rt)}
}

func TestDuplicateOfACompletedCallIsRefusedWithDetails(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first, err := e.p.Charge(ctx, "order-1", 100)
	require.NoError(t, err)
	assert.Equal(t, "order-1", first.OrderID)

	e.clk.Advance(3 * time.Second)
	_, err = e.p.Charge(ctx, "order-1", 100)
	require.ErrorIs(t, err, runtime.ErrDuplicate)
	var dup *idem.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, "idemcheck", dup.Domain)
	assert.Equal(t, "Charge", dup.Operation)
	assert.Equal(t, "order-1", dup.Key)
	assert.Equal(t, idem.StateCompleted, dup.State)
	assert.True(t, dup.FirstSeen.Equal(t0), "first seen %v", dup.FirstSeen)
	assert.True(t, dup.CompletedAt.Equal(t0), "completed at %v", dup.CompletedAt)
	assert.EqualValues(t, 1, e.inner.calls.Load(), "the duplicate must not reach the inner method")

	// Another key is another operation.
	_, err = e.p.Charge(ctx, "order-2", 100)
	require.NoError(t, err)
	assert.EqualValues(t, 2, e.inner.calls.Load())

	// Every claim outcome is counted, for the idempotency metrics.
	assert.Equal(t, []runtime.IdemOutcome{
		{Service: "idemcheck", Method: "Charge", Outcome: runtime.IdemClaimed, Count: 2},
		{Service: "idemcheck", Method: "Charge", Outcome: runtime.IdemDuplicate, Count: 1},
	}, e.rt.IdempotencyOutcomes())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(e.rt, metrics.Options{}))
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "baldur_idempotency_outcomes_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					got[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	assert.Equal(t, map[string]float64{"claimed": 2, "duplicate": 1}, got, "the scrape shows the gate's outcomes")
}

func TestDuplicateOfARunningCallSaysRunning(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	e.inner.setHook(func(context.Context, string) error {
		close(started)
		await.Hold(release)
		return nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := e.p.Charge(ctx, "order-1", 100)
		done <- err
	}()
	await.Signal(t, started, "the first call entering the inner method")
	e.clk.Advance(time.Second)
	_, err := e.p.Charge(ctx, "order-1", 100)
	var dup *idem.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, idem.StateRunning, dup.State)
	assert.True(t, dup.FirstSeen.Equal(t0))
	assert.Contains(t, err.Error(), "running since")
	close(release)
	require.NoError(t, await.Recv(t, done, "the first call, released"))
	assert.EqualValues(t, 1, e.inner.calls.Load())
}

func TestNilPointerOnThePathFailsWithNoKeyBeforeTheCall(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		req    *PlaceRequest
		reason string
	}{
		{nil, "req is nil"},
		{&PlaceRequest{Note: "no order"}, "req.Order is nil"},
	} {
		r, err := e.p.Place(ctx, tc.req)
		require.ErrorIs(t, err, runtime.ErrNoKey)
		var nk *runtime.NoKeyError
		require.ErrorAs(t, err, &nk)
		assert.Equal(t, runtime.NoKeyError{Service: "idemcheck", Method: "Place", Path: "req.Order.ID", Reason: tc.reason}, *nk)
		assert.Zero(t, r, "zero results with the error")
	}
	assert.Zero(t, e.inner.calls.Load(), "the inner method must not run without a key")
}

func TestKeysOutsideTheLimitsFailWithNoKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for key, reason := range map[string]string{
		"":                       "key is empty",
		strings.Repeat("k", 256): "key is 256 bytes, over the limit of 255",
		"bad\xffutf8":            "key is not valid UTF-8",
	} {
		_, err := e.p.Place(ctx, &PlaceRequest{Order: &Order{ID: key}})
		require.ErrorIs(t, err, runtime.ErrNoKey, "%q", key)
		var nk *runtime.NoKeyError
		require.ErrorAs(t, err, &nk)
		assert.Equal(t, reason, nk.Reason)
	}
	assert.Zero(t, e.inner.calls.Load())
	_, err := e.p.Place(ctx, &PlaceRequest{Order: &Order{ID: strings.Repeat("k", 255)}})
	require.NoError(t, err, "255 bytes is within the limit")
}

func TestAFailedCallReleasesTheKeySoARetryRuns(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.inner.setHook(func(context.Context, string) error { return errDeclined })
	_, err := e.p.Charge(ctx, "order-1", 100)
	require.ErrorIs(t, err, errDeclined)

	e.inner.setHook(nil)
	r, err := e.p.Charge(ctx, "order-1", 100)
	require.NoError(t, err, "a failure must not keep the key")
	assert.Equal(t, "order-1", r.OrderID)
	_, err = e.p.Charge(ctx, "order-1", 100)
	require.ErrorIs(t, err, runtime.ErrDuplicate, "a success keeps it")
	assert.EqualValues(t, 2, e.inner.calls.Load())
}

func TestTheKeyIsHeldAcrossRetriesAndReleasedAfterTheLast(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var attempts atomic.Int64
	e.inner.setHook(func(ctx context.Context, key string) error {
		attempts.Add(1)
		return errDeclined
	})
	_, err := e.p.ChargeRetry(ctx, "order-1", 100)
	require.ErrorIs(t, err, errDeclined)
	assert.EqualValues(t, 3, attempts.Load(), "the retries run under the one claim")

	e.inner.setHook(func(ctx context.Context, key string) error {
		if attempts.Add(1) == 4 {
			return errDeclined // the first attempt of the next call fails, its retry succeeds
		}
		return nil
	})
	_, err = e.p.ChargeRetry(ctx, "order-1", 100)
	require.NoError(t, err)
	assert.EqualValues(t, 5, attempts.Load())
	_, err = e.p.ChargeRetry(ctx, "order-1", 100)
	require.ErrorIs(t, err, runtime.ErrDuplicate)
}

func TestAPanicReleasesTheKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.inner.setHook(func(context.Context, string) error { panic("inner bug") })
	func() {
		defer func() { assert.Equal(t, "inner bug", recover(), "the panic reaches the caller unchanged") }()
		_, _ = e.p.Charge(ctx, "order-1", 100)
	}()

	e.inner.setHook(nil)
	_, err := e.p.Charge(ctx, "order-1", 100)
	require.NoError(t, err, "after a panic the key must be free again")
	assert.EqualValues(t, 2, e.inner.calls.Load())
}

func TestReplayReturnsTheOriginalResults(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first, err := e.p.ChargeReplay(ctx, "order-1", 250)
	require.NoError(t, err)
	require.Equal(t, Receipt{ID: "r-order-1-1", OrderID: "order-1", Cents: 250}, first)

	for range 3 {
		again, err := e.p.ChargeReplay(ctx, "order-1", 250)
		require.NoError(t, err, "a replayed duplicate is an answer, not an error")
		assert.Equal(t, first, again)
	}
	assert.EqualValues(t, 1, e.inner.calls.Load(), "replays do not run the inner method")

	// Replay answers completed calls only: a failure stores nothing.
	e.inner.setHook(func(context.Context, string) error { return errDeclined })
	_, err = e.p.ChargeReplay(ctx, "order-2", 250)
	require.ErrorIs(t, err, errDeclined)
	e.inner.setHook(nil)
	second, err := e.p.ChargeReplay(ctx, "order-2", 250)
	require.NoError(t, err)
	assert.Equal(t, "r-order-2-3", second.ID, "the retry after a failure runs for real")
}

func TestReplayOfResultsJSONCannotStoreIsADuplicate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.inner.rate = 1.5
	r, err := e.p.Rate(ctx, "fx-1")
	require.NoError(t, err)
	r2, err := e.p.Rate(ctx, "fx-1")
	require.NoError(t, err)
	assert.Equal(t, r, r2) //nolint:testifylint // exact round trip of a float through JSON

	e.inner.rate = math.NaN()
	_, err = e.p.Rate(ctx, "fx-2")
	require.NoError(t, err, "the first call's answer stands even when it cannot be stored")
	_, err = e.p.Rate(ctx, "fx-2")
	require.ErrorIs(t, err, runtime.ErrDuplicate)
	var dup *idem.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, idem.StateCompleted, dup.State)
	assert.Contains(t, err.Error(), "no results were stored")
	assert.EqualValues(t, 2, e.inner.calls.Load())
}

func TestSameKeyWithOtherArgumentsIsKeyReuse(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.p.Charge(ctx, "order-1", 100)
	require.NoError(t, err)
	_, err = e.p.Charge(ctx, "order-1", 999)
	require.ErrorIs(t, err, runtime.ErrKeyReuse)
	require.NotErrorIs(t, err, runtime.ErrDuplicate)
	var reuse *idem.KeyReuseError
	require.ErrorAs(t, err, &reuse)
	assert.Equal(t, "order-1", reuse.Key)
	assert.Equal(t, idem.StateCompleted, reuse.State)

	// The fingerprint covers struct arguments through JSON too.
	_, err = e.p.Place(ctx, &PlaceRequest{Order: &Order{ID: "p-1"}, Note: "gift"})
	require.NoError(t, err)
	_, err = e.p.Place(ctx, &PlaceRequest{Order: &Order{ID: "p-1"}, Note: "not a gift"})
	require.ErrorIs(t, err, runtime.ErrKeyReuse)
	// Replay mode checks it before replaying.
	_, err = e.p.ChargeReplay(ctx, "order-r", 1)
	require.NoError(t, err)
	_, err = e.p.ChargeReplay(ctx, "order-r", 2)
	require.ErrorIs(t, err, runtime.ErrKeyReuse)
	assert.EqualValues(t, 3, e.inner.calls.Load())
}

// watchedReader counts the reads of a body; the wrapper must make none.
type watchedReader struct {
	io.Reader
	reads atomic.Int64
}

func (r *watchedReader) Read(p []byte) (int, error) {
	r.reads.Add(1)
	return r.Reader.Read(p)
}

// Arguments the fingerprint cannot see (a reader, funcs) are left out of it
// entirely: a reused key with another body or other options is a duplicate,
// one with another fingerprintable argument is still a reuse, and the
// fingerprint equals that of the same operation without those arguments,
// which a fixed string standing in for them would break.
func TestUnfingerprintableArgumentsAreLeftOutAndTheRestDetectsReuse(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var applied atomic.Int64
	opt := func(region string) func(*UploadOptions) {
		return func(o *UploadOptions) { applied.Add(1); o.Region = region }
	}
	bodyA := &watchedReader{Reader: strings.NewReader("first body")}
	bodyB := &watchedReader{Reader: strings.NewReader("another body entirely")}

	require.NoError(t, e.p.Upload(ctx, "up-1", 100, bodyA, opt("eu")))

	// Another body and other options: the fingerprint cannot tell, so the
	// call is the same operation again.
	err := e.p.Upload(ctx, "up-1", 100, bodyB, opt("us"), opt("ap"))
	require.ErrorIs(t, err, runtime.ErrDuplicate)
	require.NotErrorIs(t, err, runtime.ErrKeyReuse)

	// Another amount, which the fingerprint reads: a reused key.
	err = e.p.Upload(ctx, "up-1", 200, bodyA, opt("eu"))
	require.ErrorIs(t, err, runtime.ErrKeyReuse)
	var reuse *idem.KeyReuseError
	require.ErrorAs(t, err, &reuse)
	assert.Equal(t, "upload", reuse.Operation)

	// UploadBare is the same operation with only the key and the amount: it
	// matches Upload's fingerprint exactly, so nothing (not even a constant)
	// stood in for the body and the options.
	err = e.p.UploadBare(ctx, "up-1", 100)
	require.ErrorIs(t, err, runtime.ErrDuplicate, "a left-out argument must add nothing to the fingerprint")
	require.ErrorIs(t, e.p.UploadBare(ctx, "up-1", 200), runtime.ErrKeyReuse)
	require.NoError(t, e.p.UploadBare(ctx, "up-2", 7))
	require.ErrorIs(t, e.p.Upload(ctx, "up-2", 7, nil), runtime.ErrDuplicate)
	require.ErrorIs(t, e.p.Upload(ctx, "up-2", 8, bodyB), runtime.ErrKeyReuse)

	assert.EqualValues(t, 2, e.inner.calls.Load(), "only the first Upload and UploadBare ran")
	assert.Zero(t, bodyA.reads.Load()+bodyB.reads.Load(), "the wrapper must not read a body")
	assert.Zero(t, applied.Load(), "the wrapper must not call an option")
}

type label string

func (l label) String() string { return string(l) }

type otherLabel struct{ s string }

func (l *otherLabel) String() string { return l.s }

// A fmt.Stringer argument is fingerprinted by its String method: another
// text is a reused key, the same text (from another type) a duplicate, and
// a nil one is told from every text.
func TestAStringerArgumentIsFingerprintedByItsString(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	require.NoError(t, e.p.Label(ctx, "l-1", label("gold")))
	require.ErrorIs(t, e.p.Label(ctx, "l-1", label("silver")), runtime.ErrKeyReuse)
	err := e.p.Label(ctx, "l-1", &otherLabel{s: "gold"})
	require.ErrorIs(t, err, runtime.ErrDuplicate)

	require.NoError(t, e.p.Label(ctx, "l-2", nil))
	require.ErrorIs(t, e.p.Label(ctx, "l-2", nil), runtime.ErrDuplicate)
	require.ErrorIs(t, e.p.Label(ctx, "l-2", label("")), runtime.ErrKeyReuse, "nil and an empty text differ")
	assert.EqualValues(t, 2, e.inner.calls.Load())
}

func TestEntryPointsSharingAnOperationShareTheirKeys(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	req := &PlaceRequest{Order: &Order{ID: "p-1"}}
	_, err := e.p.Place(ctx, req)
	require.NoError(t, err)
	_, err = e.p.PlaceAgain(ctx, req)
	var dup *idem.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, "place", dup.Operation)
	// Charge has its own operation: the same key is free there.
	_, err = e.p.Charge(ctx, "p-1", 0)
	require.NoError(t, err)
}

func TestIntegerKeys(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	require.NoError(t, e.p.ByNumber(ctx, -42))
	err := e.p.ByNumber(ctx, -42)
	var dup *idem.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, "-42", dup.Key)
	require.NoError(t, e.p.ByNumber(ctx, 42))
}

func TestARunningClaimIsHonouredForItsExecutionWindowOnly(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	e.inner.setHook(func(context.Context, string) error {
		close(started)
		await.Hold(release)
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- e.p.Window(ctx, "w-1") }()
	await.Signal(t, started, "the first call entering the inner method")
	e.inner.setHook(nil)

	e.clk.Advance(59 * time.Second)
	require.ErrorIs(t, e.p.Window(ctx, "w-1"), runtime.ErrDuplicate, "within idem_ttl=1m the claim holds")
	e.clk.Advance(2 * time.Second)
	require.NoError(t, e.p.Window(ctx, "w-1"), "past the window a stuck attempt no longer blocks")

	close(release)
	require.NoError(t, await.Recv(t, done, "the stuck call, released"), "the stuck call's own answer stands; its completion finds the claim lost")
	assert.EqualValues(t, 2, e.inner.calls.Load())
}

// failing is a store whose idempotency operations fail as an unreachable
// Redis would, while fail is set.
type failing struct {
	store.Store
	fail atomic.Bool
}

func (f *failing) down() error {
	if f.fail.Load() {
		return store.ErrUnavailable
	}
	return nil
}

func (f *failing) SetNX(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	if err := f.down(); err != nil {
		return false, err
	}
	return f.Store.SetNX(ctx, key, v, ttl)
}

func (f *failing) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.down(); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, key)
}

func (f *failing) CompareAndSet(ctx context.Context, key string, old, v []byte, ttl time.Duration) (bool, error) {
	if err := f.down(); err != nil {
		return false, err
	}
	return f.Store.CompareAndSet(ctx, key, old, v, ttl)
}

func (f *failing) Atomic(ctx context.Context, txn store.Txn) (store.TxnResult, error) {
	if err := f.down(); err != nil {
		return store.TxnResult{}, err
	}
	return f.Store.Atomic(ctx, txn)
}

func TestFailClosedRefusesAndFailOpenRunsWhenTheStoreIsDown(t *testing.T) {
	st := &failing{Store: store.NewMemory()}
	e := newEnv(t, st)
	ctx := context.Background()
	st.fail.Store(true)

	_, err := e.p.Charge(ctx, "order-1", 100)
	require.ErrorIs(t, err, runtime.ErrIdempotencyUnavailable, "fail-closed by default")
	require.ErrorIs(t, err, store.ErrUnavailable, "the store's error is kept")
	var unavailable *idem.UnavailableError
	require.ErrorAs(t, err, &unavailable)
	assert.Equal(t, "order-1", unavailable.Key)
	assert.Zero(t, e.inner.calls.Load(), "fail-closed must not run the call")

	for range 2 {
		r, err := e.p.ChargeOpen(ctx, "order-1", 100)
		require.NoError(t, err, "idempotency_fail_open runs the call unguarded")
		assert.Equal(t, "order-1", r.OrderID)
	}
	assert.EqualValues(t, 2, e.inner.calls.Load(), "unguarded: no dedup while the store is down")

	st.fail.Store(false)
	_, err = e.p.Charge(ctx, "order-1", 100)
	require.NoError(t, err, "back up: the gate works again")
	_, err = e.p.Charge(ctx, "order-1", 100)
	require.ErrorIs(t, err, runtime.ErrDuplicate)
}

func TestDryRunRecordsWhatIdempotencyWouldHaveBlockedAndRuns(t *testing.T) {
	st := &failing{Store: store.NewMemory()}
	e := newEnv(t, st)
	ctx := context.Background()
	if _, err := e.rt.Control().StartDryRun(ctx, "test", "rehearsal"); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		_, err := e.p.Charge(ctx, "order-1", 100)
		require.NoError(t, err)
	}
	_, err := e.p.Charge(ctx, "order-1", 5)
	require.NoError(t, err, "key reuse is not refused in dry-run either")
	_, err = e.p.Place(ctx, &PlaceRequest{})
	require.NoError(t, err, "nor a missing key")
	_, err = e.p.ChargeReplay(ctx, "order-r", 1)
	require.NoError(t, err)
	_, err = e.p.ChargeReplay(ctx, "order-r", 1)
	require.NoError(t, err)
	st.fail.Store(true)
	_, err = e.p.Charge(ctx, "order-2", 100)
	require.NoError(t, err, "nor an unreachable store")
	assert.EqualValues(t, 7, e.inner.calls.Load(), "every call ran")

	var got []string
	for _, d := range e.rt.WouldHave() {
		require.Equal(t, "idempotency", d.Policy)
		got = append(got, d.Method+" "+d.Outcome+": "+d.Reason)
	}
	require.Len(t, got, 5)
	assert.Contains(t, got[0], "Charge block: idemcheck.Charge: duplicate of idempotency key \"order-1\"")
	assert.Contains(t, got[1], "Charge block: idemcheck.Charge: idempotency key \"order-1\" reused")
	assert.Equal(t, "Place block: idemcheck.Place: no idempotency key from req.Order.ID: req.Order is nil", got[2])
	assert.Equal(t, "ChargeReplay replay: duplicate of completed key order-r", got[3])
	assert.Contains(t, got[4], "Charge block: idemcheck.Charge: idempotency key \"order-2\" not claimed, failing closed")
}

func TestTheKillSwitchSkipsIdempotency(t *testing.T) {
	st := &failing{Store: store.NewMemory()}
	e := newEnv(t, st)
	ctx := context.Background()
	if _, err := e.rt.Control().Disable(ctx, "test", "incident"); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	for range 2 {
		_, err := e.p.Charge(ctx, "order-1", 100)
		require.NoError(t, err)
	}
	_, err := e.p.Place(ctx, nil)
	require.NoError(t, err, "no key is needed when nothing is protected")
	assert.EqualValues(t, 3, e.inner.calls.Load())
	assert.Empty(t, e.rt.WouldHave())
}

// Fifty goroutines with one key: the inner method runs once, every other
// caller is told it is a duplicate.
func TestConcurrentCallersOfOneKeyRunItOnce(t *testing.T) {
	e := newEnv(t, store.NewMemory())
	raceOneKey(t, e.p, e.inner, "order-race")
}

func raceOneKey(t *testing.T, p Payments, inner *fake, key string) {
	t.Helper()
	const callers = 50
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		ok    atomic.Int64
		dups  atomic.Int64
		other = make(chan error, callers)
	)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := p.Charge(context.Background(), key, 100)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, runtime.ErrDuplicate):
				dups.Add(1)
			default:
				other <- err
			}
		}()
	}
	close(start)
	await.Wait(t, &wg, "the callers racing for one key")
	close(other)
	for err := range other {
		t.Errorf("unexpected error: %v", err)
	}
	assert.EqualValues(t, 1, inner.calls.Load(), "the inner method must run exactly once")
	assert.EqualValues(t, 1, ok.Load())
	assert.EqualValues(t, callers-1, dups.Load())
}

// BenchmarkChargeMemory is the whole idempotent path of a generated
// wrapper on the memory store: fingerprint, claim, breaker, inner call,
// complete. Keys are prepared beforehand so that only the wrapper counts.
func BenchmarkChargeMemory(b *testing.B) {
	benchCharge(b, store.NewMemory())
}

func benchCharge(b *testing.B, st store.Store) {
	rt, err := runtime.New(context.Background(), runtime.Config{
		Store:  st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(b, err)
	defer rt.Close()
	p := ProtectPayments(&fake{}, rt)
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "order-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Charge(ctx, keys[i], 100); err != nil {
			b.Fatal(err)
		}
	}
}
