package dlqcheck

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	errDown     = errors.New("orders backend down")
	errDeclined = errors.New("card declined")
	t0          = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// placeCall is what the inner Place received.
type placeCall struct {
	C     Customer
	Items []Address
	At    time.Time
	Note  *string
}

// fake is the inner Orders: while fail is set every method returns it, and
// every call is recorded with its arguments.
type fake struct {
	mu      sync.Mutex
	fail    error
	calls   map[string]int
	places  []placeCall
	charges []string
	tags    map[string][]string
	flushes []map[int64][]byte
}

func newFake() *fake { return &fake{calls: map[string]int{}, tags: map[string][]string{}} }

func (f *fake) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

func (f *fake) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fake) record(ctx context.Context, method string, rec func()) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	if ctx != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if f.fail != nil {
		return f.fail
	}
	rec()
	return nil
}

func (f *fake) Place(ctx context.Context, c Customer, items []Address, at time.Time, note *string) (string, error) {
	err := f.record(ctx, "Place", func() { f.places = append(f.places, placeCall{c, items, at, note}) })
	return "placed", err
}

func (f *fake) Charge(ctx context.Context, orderID string, cents int64) (Receipt, error) {
	err := f.record(ctx, "Charge", func() { f.charges = append(f.charges, orderID) })
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{OrderID: orderID, Cents: cents}, nil
}

func (f *fake) Tag(ctx context.Context, id string, tags ...string) error {
	return f.record(ctx, "Tag", func() { f.tags[id] = tags })
}

func (f *fake) Flush(batch map[int64][]byte) error {
	return f.record(nil, "Flush", func() { f.flushes = append(f.flushes, batch) })
}

func (f *fake) Quote(ctx context.Context, _ string) (int64, error) {
	return 7, f.record(ctx, "Quote", func() {})
}

// env is one runtime, its clock, its queue and the wrapper under test.
type env struct {
	rt      *runtime.Runtime
	clk     *clock.Fake
	q       *dlq.Queue
	inner   *fake
	p       Orders
	batches chan dlq.BatchReport
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// storeKinds are the stores every main test runs on.
var storeKinds = []struct {
	name string
	open func(t *testing.T, clk clock.Clock, dir string) store.Store
}{
	{"memory", func(t *testing.T, clk clock.Clock, _ string) store.Store {
		st := store.NewMemoryWith(store.MemoryOptions{Clock: clk})
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"embedded", func(t *testing.T, clk clock.Clock, dir string) store.Store {
		if dir == "" {
			dir = t.TempDir()
		}
		st, err := store.OpenEmbedded(dir, store.EmbeddedOptions{Clock: clk, Logger: quiet()})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

func eachStore(t *testing.T, fn func(t *testing.T, open func(clk clock.Clock) store.Store)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			fn(t, func(clk clock.Clock) store.Store { return k.open(t, clk, "") })
		})
	}
}

// newEnv builds a runtime on st (memory when nil) with cfg's DLQ and
// breaker settings (a breaker that does not open unless asked); replays are
// not rate-capped, and every batch report is sent on env.batches.
func newEnv(t *testing.T, st store.Store, cfg runtime.Config) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	if st == nil {
		st = store.NewMemoryWith(store.MemoryOptions{Clock: clk})
		t.Cleanup(func() { st.Close() })
	}
	e := &env{clk: clk, inner: newFake(), batches: make(chan dlq.BatchReport, 16)}
	cfg.Store, cfg.Clock, cfg.Logger = st, clk, quiet()
	if cfg.Breaker.FailureThreshold == 0 {
		cfg.Breaker.FailureThreshold = 1000 // tests that want it open say so
	}
	if cfg.DLQ.ReplayRate == 0 {
		cfg.DLQ.ReplayRate = -1
	}
	cfg.DLQ.OnBatch = func(r dlq.BatchReport) { e.batches <- r }
	rt, err := runtime.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	e.rt, e.q, e.p = rt, rt.DLQ(), ProtectOrders(e.inner, rt)
	return e
}

func (e *env) entries(t *testing.T, f dlq.Filter) []dlq.Entry {
	t.Helper()
	f.Domain = "dlqcheck"
	l, err := e.q.List(context.Background(), f, dlq.Page{Limit: dlq.MaxPageSize})
	require.NoError(t, err)
	return l.Entries
}

func (e *env) only(t *testing.T, op string) dlq.Entry {
	t.Helper()
	es := e.entries(t, dlq.Filter{Operation: op})
	require.Len(t, es, 1, "entries of %s", op)
	return es[0]
}

// sample is a Place call with every kind of data filled in.
func sample() placeCall {
	nick := "bob"
	note := "leave at the door"
	return placeCall{
		C: Customer{
			Name:    "Bob",
			Address: &Address{Street: "1 Main St", Lines: []string{"flat 2", "2nd floor"}, Geo: &[2]float64{52.5, 13.25}},
			Tags:    map[string][]int{"vip": {1, 2}, "none": {}, "nil": nil},
			Since:   time.Date(2020, 2, 29, 23, 59, 58, 123456789, time.UTC),
			Nick:    &nick,
			Homes:   map[int64]Address{7: {Street: "Lake Rd"}, -1: {Lines: []string{}}},
			Prefs:   struct{ Deep map[string]*Address }{Deep: map[string]*Address{"work": {Street: "Dock 9"}, "gone": nil}},
			Blob:    []byte{0, 1, 2, 255},
		},
		Items: []Address{{Street: "a"}, {Street: "b", Geo: &[2]float64{-1, 1e-9}}},
		At:    time.Date(2026, 3, 1, 11, 0, 0, 1, time.UTC),
		Note:  &note,
	}
}

func TestCaptureAfterTheLastAttempt(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(clock.Clock) store.Store) {
		e := newEnv(t, open(clock.NewFake(t0)), runtime.Config{})
		e.inner.setFail(errDown)
		in := sample()
		_, err := e.p.Place(context.Background(), in.C, in.Items, in.At, in.Note)
		require.ErrorIs(t, err, errDown, "a parked call still fails for its caller")
		assert.Equal(t, 2, e.inner.count("Place"), "retry=2: both attempts ran before the capture")

		got := e.only(t, "Place")
		assert.Equal(t, dlq.StatePending, got.State)
		assert.Equal(t, 2, got.Attempts)
		assert.Equal(t, errDown.Error(), got.Error)
		assert.Equal(t, "*errors.errorString", got.FailureType)
		assert.Equal(t, "parked after 2 failed attempt(s)", got.Reason)
		assert.Len(t, got.Signature, 16)
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(got.Args, &fields))
		assert.ElementsMatch(t, []string{"c", "items", "at", "note"}, slices.Collect(maps.Keys(fields)),
			"one field per parameter but the context, named like it")
		assert.JSONEq(t, `"leave at the door"`, string(fields["note"]))

		// A success parks nothing.
		e.inner.setFail(nil)
		_, err = e.p.Place(context.Background(), in.C, in.Items, in.At, in.Note)
		require.NoError(t, err)
		assert.Len(t, e.entries(t, dlq.Filter{}), 1)
	})
}

func TestTypedReplayRoundTripsEveryKind(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(clock.Clock) store.Store) {
		e := newEnv(t, open(clock.NewFake(t0)), runtime.Config{})
		ctx := context.Background()
		in := sample()
		batch := map[int64][]byte{1: []byte("one"), -2: {}, 3: nil}
		e.inner.setFail(errDown)
		_, err := e.p.Place(ctx, in.C, in.Items, in.At, in.Note)
		require.ErrorIs(t, err, errDown)
		require.ErrorIs(t, e.p.Tag(ctx, "with", "a", "b"), errDown)
		require.ErrorIs(t, e.p.Tag(ctx, "without"), errDown)
		require.ErrorIs(t, e.p.Flush(batch), errDown)
		require.Len(t, e.entries(t, dlq.Filter{}), 4)

		e.inner.setFail(nil)
		for _, ent := range e.entries(t, dlq.Filter{}) {
			got, err := e.q.Replay(ctx, ent.ID)
			require.NoError(t, err)
			assert.Equal(t, dlq.StateResolved, got.State, "%s: %s", ent.Operation, got.Reason)
		}
		e.inner.mu.Lock()
		defer e.inner.mu.Unlock()
		require.Len(t, e.inner.places, 1)
		assert.Equal(t, in, e.inner.places[0], "the replay passes the arguments of the failed call")
		assert.Equal(t, map[string][]string{"with": {"a", "b"}, "without": nil}, e.inner.tags, "variadic arguments replayed with ...")
		require.Len(t, e.inner.flushes, 1)
		assert.Equal(t, map[int64][]byte{1: []byte("one"), -2: {}, 3: nil}, e.inner.flushes[0])
		assert.Empty(t, e.entries(t, dlq.Filter{}), "resolved entries are no longer listed as unresolved")
	})
}

// A replay that fails again is recorded on its entry, also for a method
// without a context: the replay's context reaches the policies.
func TestFailedReplayIsRecordedNotParkedAgain(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{})
	ctx := context.Background()
	e.inner.setFail(errDown)
	require.ErrorIs(t, e.p.Flush(map[int64][]byte{1: nil}), errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "t"), errDown)
	for _, op := range []string{"Flush", "Tag"} {
		ent := e.only(t, op)
		got, err := e.q.Replay(ctx, ent.ID)
		require.NoError(t, err)
		assert.Equal(t, dlq.StatePending, got.State)
		assert.Equal(t, 1, got.ReplayCount)
		assert.Equal(t, errDown.Error(), got.LastError)
		assert.Equal(t, 1, len(e.entries(t, dlq.Filter{Operation: op})), "%s: the failed replay must not park a second entry", op)
	}
	assert.Equal(t, 4, e.inner.count("Flush"), "2 attempts at capture, 2 in the replay (the wrapper retries)")
}

// Replays go through the wrapper: an idempotent method meets its gate.
func TestReplayOfAnIdempotentMethodGoesThroughTheGate(t *testing.T) {
	eachStore(t, func(t *testing.T, open func(clock.Clock) store.Store) {
		e := newEnv(t, open(clock.NewFake(t0)), runtime.Config{})
		ctx := context.Background()

		// o-1 fails and is parked; the caller retries it and it succeeds.
		e.inner.setFail(errDown)
		_, err := e.p.Charge(ctx, "o-1", 100)
		require.ErrorIs(t, err, errDown)
		e.inner.setFail(nil)
		_, err = e.p.Charge(ctx, "o-1", 100)
		require.NoError(t, err)
		require.Equal(t, 3, e.inner.count("Charge"))
		// The replay is a duplicate of the completed key: the charge took
		// effect, so the entry resolves without charging again.
		got, err := e.q.Replay(ctx, e.only(t, "Charge").ID)
		require.NoError(t, err)
		assert.Equal(t, dlq.StateResolved, got.State, got.Reason)
		assert.Equal(t, 3, e.inner.count("Charge"), "a completed key is not charged again by a replay")

		// o-2 fails and is replayed once the backend is back: the replay
		// runs it and completes the key, so the caller's retry is refused.
		e.inner.setFail(errDown)
		_, err = e.p.Charge(ctx, "o-2", 200)
		require.ErrorIs(t, err, errDown)
		e.inner.setFail(nil)
		id := e.only(t, "Charge").ID
		got, err = e.q.Replay(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, dlq.StateResolved, got.State, got.Reason)
		assert.Equal(t, 6, e.inner.count("Charge"))
		_, err = e.p.Charge(ctx, "o-2", 200)
		require.ErrorIs(t, err, runtime.ErrDuplicate, "the replay claimed and completed the key like any call")
		assert.Equal(t, []string{"o-1", "o-2"}, e.inner.charges)
	})
}

func TestAutomaticReplayWhenTheBreakerCloses(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{Breaker: runtime.BreakerConfig{
		FailureThreshold: 2, MinimumCalls: 2, RecoveryTimeout: time.Minute, HalfOpenMaxCalls: 1,
	}})
	ctx := context.Background()
	e.inner.setFail(errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "a", "x"), errDown) // two failures: the breaker opens
	err := e.p.Tag(ctx, "b")
	require.ErrorIs(t, err, runtime.ErrOpen, "refused by the open breaker")
	assert.Equal(t, 2, e.inner.count("Tag"))
	var refused dlq.Entry
	for _, ent := range e.entries(t, dlq.Filter{}) {
		if ent.FailureType == "*runtime.OpenError" {
			refused = ent
		}
	}
	assert.Equal(t, "*runtime.OpenError", refused.FailureType, "a refusal is parked too")

	// Replayed while the breaker is still open: postponed, budget kept.
	got, err := e.q.Replay(ctx, refused.ID)
	require.NoError(t, err)
	assert.Equal(t, dlq.StatePending, got.State)
	assert.Equal(t, 0, got.ReplayCount)
	assert.Contains(t, got.Reason, "replay postponed")

	// The backend recovers; a probe closes the breaker and the domain is swept.
	e.inner.setFail(nil)
	e.clk.Advance(time.Minute)
	require.NoError(t, e.p.Tag(ctx, "probe"))
	select {
	case rep := <-e.batches:
		assert.True(t, rep.Automatic)
		assert.Equal(t, "dlqcheck", rep.Domain)
		assert.Equal(t, 2, rep.Outcomes[dlq.OutcomeResolved], "%+v", rep)
	case <-time.After(10 * time.Second):
		t.Fatal("no sweep after the breaker closed")
	}
	assert.Empty(t, e.entries(t, dlq.Filter{}))
	e.inner.mu.Lock()
	defer e.inner.mu.Unlock()
	assert.Equal(t, map[string][]string{"a": {"x"}, "b": nil, "probe": nil}, e.inner.tags)
}

// A restart with a changed method: entries survive, but one whose method
// changed shape is not replayed blindly, nor one whose method is gone.
func TestChangedSignatureNeedsReviewAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	open := func() store.Store {
		st, err := store.OpenEmbedded(dir, store.EmbeddedOptions{Clock: clk, Logger: quiet()})
		require.NoError(t, err)
		return st
	}
	st := open()
	rt, err := runtime.New(ctx, runtime.Config{Store: st, Clock: clk, Logger: quiet()})
	require.NoError(t, err)
	inner := newFake()
	inner.setFail(errDown)
	p := ProtectOrders(inner, rt)
	in := sample()
	_, err = p.Place(ctx, in.C, in.Items, in.At, in.Note)
	require.ErrorIs(t, err, errDown)
	require.ErrorIs(t, p.Tag(ctx, "t"), errDown)
	require.NoError(t, rt.Close())
	require.NoError(t, st.Close())

	st = open()
	defer st.Close()
	rt, err = runtime.New(ctx, runtime.Config{Store: st, Clock: clk, Logger: quiet()})
	require.NoError(t, err)
	defer rt.Close()
	v2 := &fakeV2{}
	ProtectOrdersV2(v2, rt)
	l, err := rt.DLQ().List(ctx, dlq.Filter{Domain: "dlqcheck"}, dlq.Page{})
	require.NoError(t, err)
	require.Len(t, l.Entries, 2, "parked entries survive the restart")
	for _, ent := range l.Entries {
		got, err := rt.DLQ().Replay(ctx, ent.ID)
		require.NoError(t, err)
		assert.Equal(t, dlq.StateNeedsReview, got.State)
		switch ent.Operation {
		case "Place":
			assert.Contains(t, got.Reason, "signature of dlqcheck.Place changed since capture")
		case "Tag":
			assert.Contains(t, got.Reason, "no replayer registered for dlqcheck.Tag")
		}
	}
	assert.Zero(t, v2.calls, "nothing reached the new method")
}

type fakeV2 struct{ calls int }

func (f *fakeV2) Place(context.Context, Customer, []Address, time.Time, *string, int) (string, error) {
	f.calls++
	return "", nil
}

func TestRejectAtTheCapFailsWithErrDLQFull(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{DLQ: dlq.Options{MaxSize: 1, Overflow: dlq.Reject}})
	ctx := context.Background()
	e.inner.setFail(errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "first"), errDown)
	err := e.p.Tag(ctx, "second")
	require.ErrorIs(t, err, runtime.ErrDLQFull, "the caller learns the call was not parked")
	require.ErrorIs(t, err, errDown, "and still sees why it failed")
	var np *runtime.NotParkedError
	require.ErrorAs(t, err, &np)
	assert.Equal(t, "dlqcheck", np.Service)
	assert.Equal(t, "Tag", np.Method)
	assert.Contains(t, err.Error(), "not parked in the dead-letter queue")
	assert.Len(t, e.entries(t, dlq.Filter{}), 1)
}

func TestDropOldestAtTheCapEvicts(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{DLQ: dlq.Options{MaxSize: 2}})
	ctx := context.Background()
	e.inner.setFail(errDown)
	for _, id := range []string{"1", "2", "3"} {
		require.ErrorIs(t, e.p.Tag(ctx, id), errDown)
		e.clk.Advance(time.Millisecond) // distinct capture times
	}
	var ids []string
	for _, ent := range e.entries(t, dlq.Filter{}) {
		var a struct{ ID string }
		require.NoError(t, json.Unmarshal(ent.Args, &a))
		ids = append(ids, a.ID)
	}
	assert.ElementsMatch(t, []string{"2", "3"}, ids)
	assert.EqualValues(t, 1, e.q.Evicted())
}

func TestDryRunRecordsTheParkAndStoresNothing(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{})
	ctx := context.Background()
	_, err := e.rt.Control().StartDryRun(ctx, "test", "try dlq")
	require.NoError(t, err)
	e.inner.setFail(errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "x"), errDown)
	assert.Empty(t, e.entries(t, dlq.Filter{}))
	var parks []runtime.Decision
	for _, d := range e.rt.WouldHave() {
		if d.Policy == "dlq" {
			parks = append(parks, d)
		}
	}
	require.Len(t, parks, 1)
	assert.Equal(t, "park", parks[0].Outcome)
	assert.Equal(t, "Tag", parks[0].Method)
	assert.Contains(t, parks[0].Reason, errDown.Error())
}

func TestKillSwitchParksNothing(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{})
	ctx := context.Background()
	_, err := e.rt.Control().Disable(ctx, "test", "incident")
	require.NoError(t, err)
	e.inner.setFail(errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "x"), errDown)
	assert.Equal(t, 1, e.inner.count("Tag"), "no policy runs, retry included")
	assert.Empty(t, e.entries(t, dlq.Filter{}))
}

// Only failures are parked: not what the classifier counts as a success,
// and not a call its caller abandoned.
func TestAnswersAndAbandonedCallsAreNotParked(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{Classifier: func(err error) (runtime.Outcome, bool) {
		return runtime.Success, errors.Is(err, errDeclined)
	}})
	e.inner.setFail(errDeclined)
	require.ErrorIs(t, e.p.Tag(context.Background(), "declined"), errDeclined)

	e.inner.setFail(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, e.p.Tag(ctx, "abandoned"), context.Canceled)
	assert.Empty(t, e.entries(t, dlq.Filter{}))
}

// A fallback's answer is an answer: nothing is parked. A fallback that fails
// too leaves the caller with an error, and the call is parked. Under a
// replay the fallback does not answer: the entry needs the operation.
func TestFallbackAnswerIsNotParkedAndDoesNotAnswerAReplay(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{})
	ctx := context.Background()
	e.inner.setFail(errDown)
	v, err := e.p.Quote(ctx, "cached-sku")
	require.NoError(t, err)
	assert.EqualValues(t, 42, v)
	assert.Empty(t, e.entries(t, dlq.Filter{}))

	_, err = e.p.Quote(ctx, "unknown-sku")
	require.ErrorIs(t, err, errDown)
	parked := e.only(t, "Quote")

	// An entry for the cached sku, as an operator would have parked it.
	id, err := e.q.Park(ctx, dlq.Capture{Domain: "dlqcheck", Method: "Quote", Signature: parked.Signature,
		Args: json.RawMessage(`{"sku":"cached-sku"}`), Err: errDown, Attempts: 1})
	require.NoError(t, err)
	got, err := e.q.Replay(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, dlq.StatePending, got.State, "the fallback must not resolve a replay")
	assert.Equal(t, errDown.Error(), got.LastError)

	e.inner.setFail(nil)
	got, err = e.q.Replay(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, dlq.StateResolved, got.State)
}

func TestUndecodableArgumentsNeedReview(t *testing.T) {
	e := newEnv(t, nil, runtime.Config{})
	ctx := context.Background()
	e.inner.setFail(errDown)
	_, err := e.p.Quote(ctx, "unknown-sku")
	require.ErrorIs(t, err, errDown)
	sig := e.only(t, "Quote").Signature
	e.inner.setFail(nil)
	for args, why := range map[string]string{
		`{"sku":5}`:             "cannot unmarshal number",
		`{"sku":"a","gone":1}`:  `unknown field "gone"`,
		`{"sku":"a"} {"sku":1}`: "data after the argument record",
	} {
		id, err := e.q.Park(ctx, dlq.Capture{Domain: "dlqcheck", Method: "Quote", Signature: sig,
			Args: json.RawMessage(args), Err: errDown})
		if err != nil { // not JSON at all: the queue refuses it at once
			require.ErrorIs(t, err, dlq.ErrInvalid, args)
			continue
		}
		got, err := e.q.Replay(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, dlq.StateNeedsReview, got.State, args)
		assert.Contains(t, got.Reason, "stored arguments do not decode", args)
		assert.Contains(t, got.Reason, why, args)
	}
	assert.Equal(t, 2, e.inner.count("Quote"), "no undecodable entry reached the method")
}

func TestConfigFromEnvReadsTheDLQVariables(t *testing.T) {
	for k, v := range map[string]string{
		"BALDUR_DLQ_MAX_SIZE":           "500",
		"BALDUR_DLQ_DOMAIN_MAX_SIZE":    "50",
		"BALDUR_DLQ_DOMAIN_CAPS":        "payments=10, mailer=3",
		"BALDUR_DLQ_OVERFLOW":           "compress_oldest",
		"BALDUR_DLQ_REPLAY_BUDGET":      "9",
		"BALDUR_DLQ_REPLAY_RATE":        "12.5",
		"BALDUR_DLQ_REPLAY_CONCURRENCY": "2",
		"BALDUR_DLQ_LEASE":              "90s",
		"BALDUR_DLQ_RETENTION":          "3600",
	} {
		t.Setenv(k, v)
	}
	cfg, err := runtime.ConfigFromEnv()
	require.NoError(t, err)
	assert.Equal(t, dlq.Options{
		MaxSize: 500, DomainMaxSize: 50, DomainCaps: map[string]int{"payments": 10, "mailer": 3},
		Overflow: dlq.CompressOldest, ReplayBudget: 9, ReplayRate: 12.5, ReplayConcurrency: 2,
		Lease: 90 * time.Second, Retention: time.Hour,
	}, cfg.DLQ)

	t.Setenv("BALDUR_DLQ_REPLAY_RATE", "off")
	cfg, err = runtime.ConfigFromEnv()
	require.NoError(t, err)
	assert.Negative(t, cfg.DLQ.ReplayRate, "off: no cap")
}

func TestConfigFromEnvNamesBadDLQValues(t *testing.T) {
	for name, value := range map[string]string{
		"BALDUR_DLQ_MAX_SIZE":           "0",
		"BALDUR_DLQ_DOMAIN_MAX_SIZE":    "many",
		"BALDUR_DLQ_DOMAIN_CAPS":        "payments",
		"BALDUR_DLQ_OVERFLOW":           "drop_newest",
		"BALDUR_DLQ_REPLAY_BUDGET":      "-1",
		"BALDUR_DLQ_REPLAY_RATE":        "0",
		"BALDUR_DLQ_REPLAY_CONCURRENCY": "1.5",
		"BALDUR_DLQ_LEASE":              "soon",
		"BALDUR_DLQ_RETENTION":          "-5",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := runtime.ConfigFromEnv()
			require.Error(t, err)
			assert.Contains(t, err.Error(), name+"=")
			assert.Contains(t, err.Error(), value)
		})
	}
	t.Run("caps", func(t *testing.T) {
		for _, v := range []string{"payments=0", "=5", "a=1,a=2", " , "} {
			t.Setenv("BALDUR_DLQ_DOMAIN_CAPS", v)
			_, err := runtime.ConfigFromEnv()
			require.Error(t, err, v)
			assert.Contains(t, err.Error(), "BALDUR_DLQ_DOMAIN_CAPS", v)
		}
	})
}

// The queue the runtime builds honours Config.DLQ, and a bad option is an
// error of New naming it.
func TestNewRefusesBadDLQOptions(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	_, err := runtime.New(context.Background(), runtime.Config{Store: st, Logger: quiet(), DLQ: dlq.Options{MaxSize: -1}})
	require.ErrorIs(t, err, dlq.ErrInvalid)
	assert.Contains(t, err.Error(), "MaxSize")
}
