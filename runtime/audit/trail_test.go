package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newTrail(t *testing.T, st store.Store, opts Options) *Trail {
	t.Helper()
	opts.Store = st
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(t0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&logtest.Buffer{}, nil))
	}
	opts.Node, opts.Process = "node-1", "svc[1]"
	tr, err := New(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestRecordsAreSealedIntoOneChainInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTrail(t, store.NewMemory(), Options{})
	for i := range 20 {
		require.NoError(t, tr.Record(ctx, Record{Actor: Actor{Key: "ops", Role: "operator"}, Action: "breaker.force_open",
			Target: fmt.Sprint("svc-", i), Reason: "drill"}))
	}
	require.NoError(t, tr.Sync(ctx))
	assert.Equal(t, Stats{Recorded: 20}, tr.Stats())

	page, err := tr.List(ctx, Query{Limit: 5})
	require.NoError(t, err)
	require.Len(t, page.Records, 5)
	assert.EqualValues(t, 20, page.Records[0].Seq, "newest first")
	assert.Equal(t, "svc-19", page.Records[0].Target)
	assert.EqualValues(t, 16, page.Next)
	r := page.Records[0]
	assert.Equal(t, OutcomeOK, r.Outcome)
	assert.Equal(t, "node-1", r.Node)
	assert.Equal(t, t0, r.Time)
	assert.Equal(t, page.Chain, r.Chain)

	res, err := tr.Verify(ctx)
	require.NoError(t, err)
	require.True(t, res.OK(), "%+v", res.Broken)
	assert.EqualValues(t, 20, res.Checked)

	got, err := tr.Get(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, "svc-6", got.Target)
	_, err = tr.Get(ctx, 21)
	assert.ErrorIs(t, err, ErrNoRecord)
}

// Two trails on one store stand for two processes sharing Redis: the
// compare-and-set on the head keeps one chain, every record sealed once,
// and each writer's records in the order it wrote them.
func TestTwoTrailsOnOneStoreKeepOneChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	trails := []*Trail{newTrail(t, st, Options{}), newTrail(t, st, Options{})}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if err := trails[w%2].Record(ctx, Record{Action: "dlq.replay", Target: fmt.Sprintf("w%d", w), Reason: fmt.Sprint(i)}); err != nil {
					panic(err)
				}
			}
		}()
	}
	await.Wait(t, &wg, "writers")
	for _, tr := range trails {
		require.NoError(t, tr.Sync(ctx))
	}
	res, err := trails[0].Verify(ctx)
	require.NoError(t, err)
	require.True(t, res.OK(), "%+v", res.Broken)
	assert.EqualValues(t, 320, res.Checked)

	page, err := trails[1].List(ctx, Query{Limit: MaxLimit})
	require.NoError(t, err)
	next := map[string]int{}
	for i := len(page.Records) - 1; i >= 0; i-- {
		r := page.Records[i]
		assert.Equal(t, fmt.Sprint(next[r.Target]), r.Reason, "writer %s's records in order", r.Target)
		next[r.Target]++
	}
	assert.Len(t, next, 8)
}

// degradable is a store that says it is DEGRADED when told to.
type degradable struct {
	store.Store
	on atomic.Bool
}

func (d *degradable) Degraded() bool { return d.on.Load() }

// While the store serves from its local copy, records wait pending: the
// head is Redis's, and sealing against a local one would fork the chain.
// The retry timer seals them once the store is back.
func TestRecordsWaitWhileTheStoreIsDegraded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &degradable{Store: store.NewMemory()}
	st.on.Store(true)
	clk := clock.NewFake(t0)
	logs := &logtest.Buffer{}
	tr := newTrail(t, st, Options{Clock: clk, RetryMin: time.Second, RetryMax: 4 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for range 3 {
		require.NoError(t, tr.Record(ctx, Record{Action: "control.disable", Reason: "outage"}))
	}
	assert.ErrorIs(t, tr.Sync(ctx), errDegraded)
	assert.EqualValues(t, 3, tr.Stats().Backlog)
	assert.NotEmpty(t, logs.Lines("audit.seal_failed"))
	n, err := st.Len(ctx, keyChain)
	require.NoError(t, err)
	assert.Zero(t, n)

	st.on.Store(false)
	sealed := make(chan struct{})
	go func() {
		defer close(sealed)
		for tr.Stats().Backlog > 0 {
			clk.Advance(time.Second) // the retry timer kicks the sealer
			runtimeGosched()
		}
	}()
	await.Signal(t, sealed, "the sealer's retry after the store came back")
	res, err := tr.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, res.OK())
	assert.EqualValues(t, 3, res.Checked)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	tr := newTrail(t, store.NewMemory(), Options{Clock: clk})
	add := func(r Record) {
		require.NoError(t, tr.Record(ctx, r))
		clk.Advance(time.Minute)
	}
	add(Record{Actor: Actor{Key: "ops"}, Action: "dlq.purge", Target: "payments"})
	add(Record{Actor: Actor{Operator: "ana"}, Action: "dlq.redrive", Target: "payments", ReviewRequired: true})
	add(Record{Actor: Actor{Key: "viewer"}, Action: "control.disable", Outcome: OutcomeRefused, Detail: "wrong_role"})
	add(Record{Actor: Actor{Operator: "ana"}, Action: "control.enable", ReviewRequired: true})
	add(Record{Actor: Actor{Key: "admin"}, Action: ActionAcknowledge, Target: "2", Acknowledges: 2, Reason: "checked"})
	require.NoError(t, tr.Sync(ctx))
	listSeqs(t, tr, Query{Actor: "ana"}, 4, 2)
	listSeqs(t, tr, Query{Action: "dlq.*"}, 2, 1)
	listSeqs(t, tr, Query{Target: "payments", Action: "dlq.purge"}, 1)
	listSeqs(t, tr, Query{Outcome: OutcomeRefused}, 3)
	listSeqs(t, tr, Query{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, 3, 2)
	listSeqs(t, tr, Query{Before: 3}, 2, 1)
	listSeqs(t, tr, Query{PendingReview: true}, 4)

	admin := Actor{Key: "root", Role: "admin"}
	assert.ErrorIs(t, tr.Acknowledge(ctx, 2, admin, "again", ""), ErrAlreadyAcknowledged)
	assert.ErrorIs(t, tr.Acknowledge(ctx, 1, admin, "not one", ""), ErrNotForReview)
	assert.ErrorIs(t, tr.Acknowledge(ctx, 99, admin, "none", ""), ErrNoRecord)
	require.NoError(t, tr.Acknowledge(ctx, 4, admin, "expected: maintenance", "req-9"))
	require.NoError(t, tr.Sync(ctx))
	listSeqs(t, tr, Query{PendingReview: true})
	ack, err := tr.Get(ctx, 6)
	require.NoError(t, err)
	assert.Equal(t, Record{Chain: ack.Chain, Seq: 6, Time: ack.Time, Actor: Actor{Key: "root", Role: "admin", Process: "svc[1]", Node: "node-1"},
		Action: ActionAcknowledge, Target: "4", Reason: "expected: maintenance", Outcome: OutcomeOK, Detail: "review of control.enable on ",
		RequestID: "req-9", Acknowledges: 4, Prev: ack.Prev, Hash: ack.Hash}, ack)
}

// A record changed in the store after it was sealed is caught by the
// drain: it never reaches PostgreSQL, and the chain is reported broken.
func TestTheDrainRefusesARecordChangedInTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	tr := newTrail(t, st, Options{})
	require.NoError(t, tr.Record(ctx, Record{Action: "dlq.purge", Target: "payments"}))
	require.NoError(t, tr.Sync(ctx))
	entries, err := st.Range(ctx, keyChain, store.ID{}, 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	forged := strings.Replace(string(entries[0].Value), "payments", "ledger", 1)
	_, err = st.Remove(ctx, keyChain, entries[0].ID)
	require.NoError(t, err)
	_, err = st.Append(ctx, keyChain, []byte(forged))
	require.NoError(t, err)
	// A drain of its own (no loops): its SQL is never reached, the check comes first.
	drain := &Trail{st: st, sql: &SQL{}, log: slog.New(slog.NewTextHandler(&logtest.Buffer{}, nil))}
	err = drain.drainPass(ctx)
	var b *Break
	require.ErrorAs(t, err, &b)
	assert.EqualValues(t, 1, b.Seq)
	assert.True(t, drain.Stats().ChainBroken)
	res, err := tr.Verify(ctx)
	require.NoError(t, err)
	require.NotNil(t, res.Broken)
	assert.EqualValues(t, 1, res.Broken.Seq)
}

func listSeqs(t *testing.T, tr *Trail, q Query, want ...uint64) {
	t.Helper()
	page, err := tr.List(context.Background(), q)
	require.NoError(t, err)
	var got []uint64
	for _, r := range page.Records {
		got = append(got, r.Seq)
	}
	assert.Equal(t, want, got, "%+v", q)
}

func TestAnUnreadablePendingRecordIsSealedNotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	_, err := st.Append(ctx, keyPending, []byte("{half a record"))
	require.NoError(t, err)
	tr := newTrail(t, st, Options{})
	require.NoError(t, tr.Sync(ctx))
	r, err := tr.Get(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, "audit.record_unreadable", r.Action)
	assert.Contains(t, r.Detail, "half a record")
}

func TestANilTrailIsOff(t *testing.T) {
	t.Parallel()
	var tr *Trail
	require.NoError(t, tr.Record(context.Background(), Record{Action: "x"}))
	_, err := tr.List(context.Background(), Query{})
	assert.ErrorIs(t, err, ErrDisabled)
	_, err = tr.Verify(context.Background())
	assert.ErrorIs(t, err, ErrDisabled)
	assert.NoError(t, tr.Close())
}

func TestARecordNeedsAnAction(t *testing.T) {
	t.Parallel()
	tr := newTrail(t, store.NewMemory(), Options{})
	assert.ErrorIs(t, tr.Record(context.Background(), Record{Target: "x"}), errNoAction)
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vars    map[string]string
		enabled bool
		errs    []string
		hidden  string
	}{
		{vars: nil, enabled: true},
		{vars: map[string]string{EnvEnabled: "false"}, enabled: false},
		{vars: map[string]string{EnvEnabled: "maybe"}, enabled: true, errs: []string{`BALDUR_AUDIT_ENABLED="maybe"`}},
		{vars: map[string]string{EnvSQLDSN: "postgres://app:hunter2-pw@db:notaport/audit"}, enabled: true,
			errs: []string{"BALDUR_SQL_DSN=", "postgres://app:xxxxx@db:notaport/audit"}, hidden: "hunter2-pw"},
		{vars: map[string]string{EnvSQLDSN: "host=db password=hunter2-pw port=x"}, enabled: true,
			errs: []string{"BALDUR_SQL_DSN=", "password=xxxxx"}, hidden: "hunter2-pw"},
		{vars: map[string]string{EnvSQLDSN: "postgres://app:pw@db/x", EnvEnabled: "off"}, enabled: false},
	} {
		r := env.New(env.Map(tc.vars))
		s := ReadEnv(r)
		assert.Equal(t, tc.enabled, s.Enabled, "%v", tc.vars)
		if len(tc.errs) == 0 {
			assert.NoError(t, r.Err(), "%v", tc.vars)
			continue
		}
		require.Error(t, r.Err(), "%v", tc.vars)
		for _, want := range tc.errs {
			assert.Contains(t, r.Err().Error(), want)
		}
		if tc.hidden != "" {
			assert.NotContains(t, r.Err().Error(), tc.hidden)
			assert.False(t, strings.Contains(r.Err().Error(), "hunter2"), r.Err().Error())
		}
	}
}
