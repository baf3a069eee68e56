package leader_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// flaky is a store whose every call fails while down is set: a process cut
// off from Redis.
type flaky struct {
	store.Store
	down atomic.Bool
}

func (f *flaky) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, store.ErrUnavailable
	}
	return f.Store.Get(ctx, key)
}

func (f *flaky) CompareAndSet(ctx context.Context, key string, old, v []byte, ttl time.Duration) (bool, error) {
	if f.down.Load() {
		return false, store.ErrUnavailable
	}
	return f.Store.CompareAndSet(ctx, key, old, v, ttl)
}

func (f *flaky) Atomic(ctx context.Context, txn store.Txn) (store.TxnResult, error) {
	if f.down.Load() {
		return store.TxnResult{}, store.ErrUnavailable
	}
	return f.Store.Atomic(ctx, txn)
}

type fixture struct {
	clock *clock.Fake
	store *store.Memory
	logs  *logtest.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(t0), logs: &logtest.Buffer{}}
	f.store = store.NewMemoryWith(store.MemoryOptions{Clock: f.clock})
	t.Cleanup(func() { _ = f.store.Close() })
	return f
}

func (f *fixture) elector(t *testing.T, st store.Store, id string, mode leader.Mode) *leader.Elector {
	t.Helper()
	e, err := leader.New(st, leader.Options{Mode: mode, ID: id, Lease: 3 * time.Second, Renew: time.Second,
		Clock: f.clock, Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

func TestFirstElectorLeadsAndTheSecondFollows(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.elector(t, f.store, "a", leader.ModeElect)
	b := f.elector(t, f.store, "b", leader.ModeElect)

	sa, sb := a.Status(), b.Status()
	assert.True(t, sa.Leader)
	assert.Equal(t, leader.Token(1), sa.Token)
	assert.False(t, sb.Leader)
	assert.Equal(t, "a", sb.Holder, "the follower knows who leads")
	assert.Equal(t, leader.Token(1), sb.HolderToken)

	// Renewals keep the term going far past one lease.
	for range 10 {
		f.clock.Advance(time.Second)
		require.True(t, a.IsLeader())
		require.False(t, b.IsLeader())
	}
	assert.Len(t, f.logs.Lines("leader.acquired", "id=a", "token=1"), 1)
}

func TestAStoppedLeaderHandsOverAtTheNextAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.elector(t, f.store, "a", leader.ModeElect)
	b := f.elector(t, f.store, "b", leader.ModeElect)
	termA, tokA, ok := a.Leadership()
	require.True(t, ok)

	require.NoError(t, a.Stop(context.Background()))
	assert.False(t, a.IsLeader())
	assert.Error(t, termA.Err(), "the term's context ends with the term")
	f.clock.Advance(time.Second) // one renewal period, not a lease
	_, tokB, ok := b.Leadership()
	require.True(t, ok, "b leads one attempt after a released the lease")
	assert.Greater(t, tokB, tokA)
	assert.Len(t, f.logs.Lines("leader.lost", "id=a", "reason=stopped"), 1)
}

func TestStepDownHandsTheLeaseOverAndHoldsBackForALease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.elector(t, f.store, "a", leader.ModeElect)
	b := f.elector(t, f.store, "b", leader.ModeElect)
	termA, tokA, ok := a.Leadership()
	require.True(t, ok)

	_, err := b.StepDown(context.Background())
	require.ErrorIs(t, err, leader.ErrNotLeading, "a follower has nothing to give up")
	got, err := a.StepDown(context.Background())
	require.NoError(t, err)
	assert.Equal(t, tokA, got)
	assert.False(t, a.IsLeader())
	assert.Error(t, termA.Err(), "the term's context ends with the term")
	assert.Len(t, f.logs.Lines("leader.lost", "id=a", "reason=\"stepped down\""), 1)
	f.clock.Advance(time.Second)
	_, tokB, ok := b.Leadership()
	require.True(t, ok, "b leads one attempt after the step-down")
	assert.Greater(t, tokB, tokA)

	// b steps down too: a, held back for a lease, does not take it at once.
	_, err = b.StepDown(context.Background())
	require.NoError(t, err)
	f.clock.Advance(time.Second)
	assert.False(t, a.IsLeader(), "a stepped down less than a lease ago")
	assert.False(t, b.IsLeader(), "b stepped down just now")
	for range 3 {
		f.clock.Advance(time.Second)
	}
	assert.True(t, a.IsLeader() || b.IsLeader(), "after a lease the fleet leads again: a %+v b %+v", a.Status(), b.Status())

	always := f.elector(t, store.NewMemory(), "solo", leader.ModeAlways)
	_, err = always.StepDown(context.Background())
	assert.ErrorIs(t, err, leader.ErrAlways)
}

// A leader cut off from the store keeps its term only until the lease runs
// out, and never overlaps with the next leader's term.
func TestALeaderCutOffLosesItsTermWhenTheLeaseRunsOutAndNeverOverlaps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cut := &flaky{Store: f.store}
	a := f.elector(t, cut, "a", leader.ModeElect)
	b := f.elector(t, f.store, "b", leader.ModeElect)
	require.True(t, a.IsLeader())

	cut.down.Store(true)
	var lostAt, wonAt time.Time
	for i := 0; i < 100 && wonAt.IsZero(); i++ {
		f.clock.Advance(100 * time.Millisecond)
		la, lb := a.IsLeader(), b.IsLeader()
		require.False(t, la && lb, "two leaders at %v", f.clock.Now().Sub(t0))
		if !la && lostAt.IsZero() {
			lostAt = f.clock.Now()
		}
		if lb {
			wonAt = f.clock.Now()
		}
	}
	require.False(t, wonAt.IsZero(), "b never took over")
	assert.GreaterOrEqual(t, lostAt.Sub(t0), 2*time.Second, "a kept its term while the lease was valid")
	assert.LessOrEqual(t, lostAt.Sub(t0), 3*time.Second, "a lost its term by the end of the lease")
	assert.LessOrEqual(t, wonAt.Sub(t0), 3*time.Second+time.Second, "b took over within lease + one renewal")
	assert.Len(t, f.logs.Lines("leader.renew_failed", "store unavailable"), 1, "one event per failing streak")
	assert.Len(t, f.logs.Lines("leader.lost", "id=a", "lease ran out"), 1)
	assert.Equal(t, "store unavailable", a.Status().LastError)
}

func TestAStaleTokenCannotWriteThroughTheFence(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cut := &flaky{Store: f.store}
	a := f.elector(t, cut, "a", leader.ModeElect)
	b := f.elector(t, f.store, "b", leader.ModeElect)
	_, stale, ok := a.Leadership()
	require.True(t, ok)

	cut.down.Store(true) // a pauses: it cannot renew
	f.clock.Advance(5 * time.Second)
	_, fresh, ok := b.Leadership()
	require.True(t, ok)
	cut.down.Store(false) // a comes back with its old token

	write := func(e *leader.Elector, tok leader.Token) bool {
		res, err := f.store.Atomic(context.Background(), store.Txn{Conds: []store.Cond{e.Fence(tok)},
			Ops: []store.Op{store.IncrOp(e.Key("writes"), 1, 0)}})
		require.NoError(t, err)
		return res.Applied
	}
	assert.False(t, write(a, stale), "the stale leader's write is refused")
	assert.True(t, write(b, fresh), "the current leader's write applies")
	assert.False(t, write(b, stale), "an old token is refused whoever presents it")
}

func TestOnTheEmbeddedStoreTheProcessAlwaysLeadsAndTokensKeepGrowing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.elector(t, f.store, "a", leader.ModeAlways)
	_, tok1, ok := a.Leadership()
	require.True(t, ok, "leader as soon as Start returns")
	f.clock.Advance(time.Hour)
	assert.True(t, a.IsLeader(), "no lease to run out")
	assert.Equal(t, "always", a.Status().Mode)
	require.NoError(t, a.Stop(context.Background()))

	again := f.elector(t, f.store, "a2", leader.ModeAlways) // a restart on the same state
	_, tok2, ok := again.Leadership()
	require.True(t, ok)
	assert.Greater(t, tok2, tok1)
}

func TestRestartAbandonsTheOldChainAndKeepsRenewing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var beats atomic.Int64
	e, err := leader.New(f.store, leader.Options{ID: "a", Lease: 3 * time.Second, Renew: time.Second, Clock: f.clock,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)), Beat: func() { beats.Add(1) }})
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background()))
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	e.Restart()
	f.clock.Advance(0)
	assert.Equal(t, 1, f.clock.Pending()-1, "one renewal timer and one expiry timer, not two chains")
	for range 5 {
		f.clock.Advance(time.Second)
	}
	assert.Equal(t, int64(6), beats.Load(), "one beat per tick of the one chain")
	assert.True(t, e.IsLeader())
}

func TestBadOptionsAreRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	for _, tc := range []struct {
		opts leader.Options
		want string
	}{
		{leader.Options{Lease: time.Millisecond}, "lease 1ms: want at least 10ms"},
		{leader.Options{Lease: time.Second, Renew: time.Second}, "renew 1s: want above 0 and below the lease"},
		{leader.Options{Group: "a{b}"}, `group "a{b}": braces are not allowed`},
	} {
		_, err := leader.New(st, tc.opts)
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestTheTokenTravelsInTheContext(t *testing.T) {
	t.Parallel()
	_, ok := leader.TokenFrom(context.Background())
	assert.False(t, ok)
	tok, ok := leader.TokenFrom(leader.WithToken(context.Background(), 7))
	assert.True(t, ok)
	assert.Equal(t, leader.Token(7), tok)
}

func TestStopWithTheStoreGoneLetsTheLeaseRunOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cut := &flaky{Store: f.store}
	a := f.elector(t, cut, "a", leader.ModeElect)
	b := f.elector(t, f.store, "b", leader.ModeElect)
	cut.down.Store(true)
	require.NoError(t, a.Stop(context.Background()), "nothing the caller could do about it")
	assert.Len(t, f.logs.Lines("leader.release_failed", "store unavailable"), 1)
	f.clock.Advance(time.Second)
	assert.False(t, b.IsLeader(), "the lease still holds")
	f.clock.Advance(3 * time.Second)
	assert.True(t, b.IsLeader(), "b leads once the lease ran out")
}

// A lease that vanished from the store (Redis restarted empty, a key deleted
// by hand) ends the term at the next renewal, even though the local deadline
// has not passed: the compare-and-set is refused.
func TestALeaseGoneFromTheStoreEndsTheTermAtTheNextRenewal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.elector(t, f.store, "a", leader.ModeElect)
	_, err := f.store.Delete(context.Background(), "leader:{fleet}")
	require.NoError(t, err)
	b := f.elector(t, f.store, "b", leader.ModeElect) // takes the free lease at once
	require.True(t, b.IsLeader())
	f.clock.Advance(time.Second) // a's renewal
	assert.False(t, a.IsLeader(), "two leaders")
	assert.Len(t, f.logs.Lines("leader.lost", "id=a", "lease taken or expired"), 1)
}
