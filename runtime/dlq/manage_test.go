package dlq

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestListPagesThroughEveryDomainOnceInOrder(t *testing.T) {
	f := newFixture(t, Options{})
	want := map[string][]string{}
	for i := range 20 {
		d := []string{"payments", "ledger", "mail"}[i%3]
		want[d] = append(want[d], f.park(t, d, strconv.Itoa(i)))
		f.clk.Advance(time.Millisecond)
	}
	all := append(append(append([]string{}, want["ledger"]...), want["mail"]...), want["payments"]...)
	assert.Equal(t, all, f.allIDs(t, Filter{}), "by domain name, then capture order")
	assert.Equal(t, want["mail"], f.allIDs(t, Filter{Domain: "mail"}))

	ctx := context.Background()
	l, err := f.q.List(ctx, Filter{}, Page{Limit: 20})
	require.NoError(t, err)
	assert.Len(t, l.Entries, 20)
	assert.Empty(t, l.Next, "an exactly full last page has no next page")
	l, err = f.q.List(ctx, Filter{Domain: "nowhere"}, Page{})
	require.NoError(t, err)
	assert.Empty(t, l.Entries)

	_, err = f.q.List(ctx, Filter{}, Page{Cursor: "not a cursor!"})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = f.q.List(ctx, Filter{State: "lost"}, Page{})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestListFiltersByStateOperationAndFailureType(t *testing.T) {
	f := newFixture(t, Options{ReplayBudget: 1})
	ctx := context.Background()
	f.q.Register("payments", "Charge", "sig1", (&charger{fail: func(o string) error {
		if o == "bad" {
			return errDeclined
		}
		return nil
	}}).replayer)
	bad := f.park(t, "payments", "bad")
	good := f.park(t, "payments", "good")
	other, err := f.q.Park(ctx, Capture{Domain: "payments", Method: "Refund", FailureType: "timeout", Err: errDeclined})
	require.NoError(t, err)
	for _, id := range []string{bad, good} {
		_, err := f.q.Replay(ctx, id)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{bad, other}, f.allIDs(t, Filter{}))
	assert.Equal(t, []string{other}, f.allIDs(t, Filter{State: StatePending}))
	assert.Equal(t, []string{bad}, f.allIDs(t, Filter{State: StateNeedsReview}))
	assert.Equal(t, []string{good}, f.allIDs(t, Filter{State: StateResolved}))
	assert.Equal(t, []string{other}, f.allIDs(t, Filter{Operation: "Refund"}))
	assert.Equal(t, []string{other}, f.allIDs(t, Filter{FailureType: "timeout"}))
	assert.Empty(t, f.allIDs(t, Filter{State: StateNeedsReview, Domain: "ledger"}))
}

func TestStatsCountByDomainFailureTypeAndState(t *testing.T) {
	f := newFixture(t, Options{ReplayBudget: 1})
	ctx := context.Background()
	f.q.Register("payments", "Charge", "sig1", (&charger{fail: func(o string) error {
		if o == "bad" {
			return errDeclined
		}
		return nil
	}}).replayer)
	for _, o := range []string{"bad", "good", "x"} {
		f.park(t, "payments", o)
	}
	_, err := f.q.Park(ctx, Capture{Domain: "ledger", Method: "Post", FailureType: "timeout", Err: errDeclined})
	require.NoError(t, err)
	_, err = f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments", Limit: 2})
	require.NoError(t, err)

	s, err := f.q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, Stats{
		Total: 3,
		Groups: []GroupStats{
			{Domain: "ledger", FailureType: "timeout", Pending: 1},
			{Domain: "payments", FailureType: "*errors.errorString", Pending: 1, NeedsReview: 1, Resolved: 1},
		},
		Domains: []GroupStats{
			{Domain: "ledger", Pending: 1},
			{Domain: "payments", Pending: 1, NeedsReview: 1, Resolved: 1},
		},
		Operations: []OperationStats{
			{Domain: "ledger", Operation: "Post", Pending: 1},
			{Domain: "payments", Operation: "Charge", Pending: 1, NeedsReview: 1, Resolved: 1},
		},
	}, s)
}

func TestUnknownIDsAreClearErrors(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	_, err := f.q.Get(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = f.q.Replay(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = f.q.Redrive(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)
	err = f.q.Purge(ctx, "nope")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "nope")

	id := f.park(t, "payments", "o-1")
	_, err = f.q.Redrive(ctx, id)
	require.ErrorIs(t, err, ErrState)
	require.NoError(t, f.q.Purge(ctx, id))
	require.ErrorIs(t, f.q.Purge(ctx, id), ErrNotFound)
	s, err := f.q.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, s.Total)
	assert.Zero(t, s.Groups[0].Pending)
}

func TestAnUnreadableRecordIsReportedNotDropped(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	id := f.park(t, "payments", "o-1")
	ok := f.park(t, "payments", "o-2")
	require.NoError(t, f.st.Set(ctx, f.q.k.entry(id), []byte("{garbage"), 0))

	_, err := f.q.Get(ctx, id)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decode entry "+id)
	assert.Equal(t, []string{ok}, f.allIDs(t, Filter{}))
	assert.NotEmpty(t, f.logs.lines(`"msg":"dlq.entry_unreadable"`, id))
	require.NoError(t, f.q.GC(ctx))
	assert.NotEmpty(t, f.logs.lines(`"msg":"dlq.entry_unreadable"`, id), "GC keeps it for the operator")
	require.NoError(t, f.q.Purge(ctx, id))
	_, err = f.q.Get(ctx, id)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestGCDropsStaleIndexEntriesAndTrimsToALoweredCap(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	var ids []string
	for i := range 6 {
		ids = append(ids, f.park(t, "payments", strconv.Itoa(i)))
		f.clk.Advance(time.Millisecond)
	}
	require.NoError(t, f.q.Purge(ctx, ids[0]))
	n, err := f.st.Len(ctx, f.q.k.domain("payments"))
	require.NoError(t, err)
	assert.EqualValues(t, 6, n, "a purge by id leaves its index entry behind")

	small, err := New(f.st, Options{Clock: f.clk, MaxSize: 3, Logger: f.q.log})
	require.NoError(t, err)
	require.NoError(t, small.GC(ctx))
	assert.Equal(t, ids[3:], f.allIDs(t, Filter{}))
	n, err = f.st.Len(ctx, f.q.k.domain("payments"))
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	assert.EqualValues(t, 2, small.Evicted())
}

func TestStartReapsAtOnceAndCloseStopsEverything(t *testing.T) {
	f := newFixture(t, Options{Lease: time.Minute})
	ctx := context.Background()
	id := f.park(t, "payments", "o-1")
	raw, r, err := f.q.load(ctx, id)
	require.NoError(t, err)
	claimed := r.next(StateReplaying, "claimed before a crash", t0)
	claimed.Replays, claimed.Lease, claimed.Owner = 1, t0.Add(time.Minute).UnixNano(), "crashed"
	ok, _, _, err := f.q.move(ctx, r, raw, claimed)
	require.NoError(t, err)
	require.True(t, ok)
	f.clk.Advance(time.Hour)

	reports := make(chan BatchReport, 1)
	q, err := New(f.st, Options{Clock: f.clk, ReplayRate: -1, Logger: f.q.log, OnBatch: func(r BatchReport) { reports <- r }})
	require.NoError(t, err)
	var c charger
	q.Register("payments", "Charge", "sig1", c.replayer)
	require.NoError(t, q.Start())
	require.NoError(t, q.Start(), "a second Start is a no-op")
	q.BreakerClosed("payments") // the sweep runs after the first reap
	rep := await.Recv(t, reports, "the automatic replay's report")
	assert.Equal(t, 1, rep.Replayed)
	assert.Equal(t, []string{"o-1"}, c.orders())
	require.NoError(t, q.Close())
	require.NoError(t, q.Close())
	require.ErrorIs(t, q.Start(), ErrClosed)
	assert.Zero(t, f.clk.Pending(), "no timer left armed")
}

func TestOptionsAreChecked(t *testing.T) {
	f := newFixture(t, Options{})
	for name, o := range map[string]Options{
		"negative cap":     {MaxSize: -1},
		"zero domain cap":  {DomainCaps: map[string]int{"payments": 0}},
		"unknown strategy": {Overflow: "drop_newest"},
		"negative lease":   {Lease: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(f.st, o)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, err := New(nil, Options{})
	require.ErrorIs(t, err, ErrInvalid)
	s, err := ParseStrategy("")
	require.NoError(t, err)
	assert.Equal(t, DropOldest, s)
}

func TestListFiltersLookAtTheRecordNotInsideTheArguments(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	decoy, err := f.q.Park(ctx, Capture{Domain: "payments", Method: "Charge", FailureType: "declined",
		Args: []byte(`{"t":"timeout","o":"Refund","s":"needs_review"}`), Err: errDeclined})
	require.NoError(t, err)
	match, err := f.q.Park(ctx, Capture{Domain: "payments", Method: "Refund", FailureType: "timeout", Err: errDeclined})
	require.NoError(t, err)
	assert.Equal(t, []string{match}, f.allIDs(t, Filter{FailureType: "timeout"}))
	assert.Equal(t, []string{match}, f.allIDs(t, Filter{Operation: "Refund"}))
	assert.Equal(t, []string{decoy}, f.allIDs(t, Filter{FailureType: "declined", State: StatePending}))
	assert.Empty(t, f.allIDs(t, Filter{State: StateNeedsReview}))
}

// countingStore counts the record reads a queue makes.
type countingStore struct {
	store.Store
	gets, getManys atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	c.getManys.Add(1)
	return c.Store.GetMany(ctx, keys...)
}

func TestListReadsTheRecordsOfAChunkInOneRoundTrip(t *testing.T) {
	f := newFixture(t, Options{})
	for i := range 300 {
		f.park(t, "payments", strconv.Itoa(i))
	}
	cs := &countingStore{Store: f.st}
	q, err := New(cs, Options{Clock: f.clk, ReplayRate: -1, Owner: "lister", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer func() { require.NoError(t, q.Close()) }()

	ctx := context.Background()
	l, err := q.List(ctx, Filter{}, Page{Limit: 100})
	require.NoError(t, err)
	require.Len(t, l.Entries, 100)
	assert.Zero(t, cs.gets.Load(), "no record is read on its own")
	assert.EqualValues(t, 4, cs.getManys.Load(), "chunks of 8, 16, 32 and 64 index entries: one read each")

	cs.getManys.Store(0)
	l, err = q.List(ctx, Filter{}, Page{Limit: 100, Cursor: l.Next})
	require.NoError(t, err)
	require.Len(t, l.Entries, 100)
	var first chargeArgs
	require.NoError(t, json.Unmarshal(l.Entries[0].Args, &first))
	assert.Equal(t, "100", first.OrderID, "the second page starts after the first")
	assert.EqualValues(t, 4, cs.getManys.Load())
}

// GC restores registries that lost their fields (a hash deleted by hand,
// entries parked by a version that wrote them once per process): every
// entry is listed and counted again.
func TestGCRestoresLostRegistries(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		ids = append(ids, f.park(t, "payments", "p"+strconv.Itoa(i)), f.park(t, "ledger", "l"+strconv.Itoa(i)))
	}
	_, err := f.st.Delete(ctx, f.q.k.domains(), f.q.k.groups())
	require.NoError(t, err)
	require.Empty(t, f.allIDs(t, Filter{}), "without its registry an entry is invisible to an unfiltered List")

	require.NoError(t, f.q.GC(ctx))
	assert.ElementsMatch(t, ids, f.allIDs(t, Filter{}))
	st, err := f.q.Stats(ctx)
	require.NoError(t, err)
	require.Len(t, st.Domains, 2)
	for _, d := range st.Domains {
		assert.Equal(t, int64(5), d.Pending, d.Domain)
	}
}
