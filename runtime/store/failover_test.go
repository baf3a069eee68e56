package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
	"github.com/baldur-go/baldur/runtime/store/storetest"
)

// flaky is a remote store that can be switched off: every call then fails
// with ErrUnavailable, as a Redis that went away would.
type flaky struct {
	store.Store
	down atomic.Bool
	// tripAfter, when positive, lets that many more Atomic calls through and
	// then takes the store down, signalling tripped.
	tripAfter atomic.Int64
	tripped   chan struct{}
}

func (f *flaky) err() error {
	if f.down.Load() {
		return fmt.Errorf("flaky remote: %w", store.ErrUnavailable)
	}
	return nil
}

func (f *flaky) Get(ctx context.Context, k string) ([]byte, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, k)
}

func (f *flaky) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Set(ctx, k, v, ttl)
}

func (f *flaky) SetNX(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	if err := f.err(); err != nil {
		return false, err
	}
	return f.Store.SetNX(ctx, k, v, ttl)
}

func (f *flaky) CompareAndSet(ctx context.Context, k string, o, n []byte, ttl time.Duration) (bool, error) {
	if err := f.err(); err != nil {
		return false, err
	}
	return f.Store.CompareAndSet(ctx, k, o, n, ttl)
}

func (f *flaky) Delete(ctx context.Context, ks ...string) (int64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Store.Delete(ctx, ks...)
}

func (f *flaky) Incr(ctx context.Context, k string, d int64, ttl time.Duration) (int64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Store.Incr(ctx, k, d, ttl)
}

func (f *flaky) TTL(ctx context.Context, k string) (time.Duration, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Store.TTL(ctx, k)
}

func (f *flaky) Keys(ctx context.Context, p string) ([]string, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.Keys(ctx, p)
}

func (f *flaky) HSet(ctx context.Context, k string, m map[string]string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.HSet(ctx, k, m)
}

func (f *flaky) HGetAll(ctx context.Context, k string) (map[string]string, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.HGetAll(ctx, k)
}

func (f *flaky) Append(ctx context.Context, s string, v []byte) (store.ID, error) {
	if err := f.err(); err != nil {
		return store.ID{}, err
	}
	return f.Store.Append(ctx, s, v)
}

func (f *flaky) Range(ctx context.Context, s string, from store.ID, n int) ([]store.Entry, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.Range(ctx, s, from, n)
}

func (f *flaky) Remove(ctx context.Context, s string, ids ...store.ID) (int64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Store.Remove(ctx, s, ids...)
}

func (f *flaky) Len(ctx context.Context, s string) (int64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Store.Len(ctx, s)
}

func (f *flaky) Atomic(ctx context.Context, t store.Txn) (store.TxnResult, error) {
	if f.tripAfter.Load() > 0 && f.tripAfter.Add(-1) == 0 {
		f.down.Store(true)
		close(f.tripped)
	}
	if err := f.err(); err != nil {
		return store.TxnResult{}, err
	}
	return f.Store.Atomic(ctx, t)
}

func (f *flaky) Publish(ctx context.Context, c string, p []byte) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Publish(ctx, c, p)
}

func (f *flaky) Ping(ctx context.Context) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

// failoverRig is a Failover over a flaky memory remote and an embedded local
// store, all on one fake clock.
type failoverRig struct {
	f      *store.Failover
	remote *flaky
	mem    *store.Memory // the remote's data, reachable even when "down"
	clock  *clock.Fake
	modes  chan store.Mode
	logs   *logtest.Buffer

	mu        sync.Mutex
	conflicts []store.Conflict
}

func newRig(t *testing.T, dir string, down bool, tweak func(*store.FailoverOptions)) *failoverRig {
	t.Helper()
	r := &failoverRig{clock: clock.NewFake(storetest.Epoch), modes: make(chan store.Mode, 16), logs: &logtest.Buffer{}}
	r.mem = store.NewMemoryWith(store.MemoryOptions{Clock: r.clock})
	r.remote = &flaky{Store: r.mem}
	r.remote.down.Store(down)
	local, err := store.OpenEmbedded(dir, store.EmbeddedOptions{Clock: r.clock})
	require.NoError(t, err)
	opts := store.FailoverOptions{
		PingInterval: 5 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(r.logs, nil)),
		OnModeChange: func(m store.Mode) { r.modes <- m },
		OnConflict: func(c store.Conflict) {
			r.mu.Lock()
			r.conflicts = append(r.conflicts, c)
			r.mu.Unlock()
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	r.f, err = store.NewFailover(context.Background(), r.remote, local, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.f.Close() })
	return r
}

// await waits for the next mode change and checks it.
func (r *failoverRig) await(t *testing.T, want store.Mode) {
	t.Helper()
	select {
	case got := <-r.modes:
		require.Equal(t, want, got)
	case <-time.After(5 * time.Second):
		t.Fatalf("no switch to %v within 5s (mode %v)", want, r.f.Mode())
	}
}

func TestFailover_ConformanceNormal(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		r := newRig(t, t.TempDir(), false, nil)
		return storetest.Harness{Store: r.f, Advance: r.clock.Advance}
	})
}

// While degraded every call is served by the local store, which must
// behave like any other store.
func TestFailover_ConformanceDegraded(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		r := newRig(t, t.TempDir(), true, nil)
		require.Equal(t, store.ModeDegraded, r.f.Mode())
		return storetest.Harness{Store: r.f, Advance: r.clock.Advance}
	})
}

func TestFailover_FailedCommandDegradesWithoutFailingIt(t *testing.T) {
	r := newRig(t, t.TempDir(), false, func(o *store.FailoverOptions) { o.PingInterval = time.Hour })
	ctx := context.Background()
	require.NoError(t, r.f.Set(ctx, "before", []byte("1"), 0))
	require.Equal(t, store.ModeNormal, r.f.Mode())

	r.remote.down.Store(true)
	ok, err := r.f.SetNX(ctx, "claim", []byte("w1"), time.Hour)
	require.NoError(t, err, "the call that meets the outage still succeeds")
	assert.True(t, ok)
	assert.Equal(t, store.ModeDegraded, r.f.Mode(), "one failed command is enough")
	r.await(t, store.ModeDegraded)
	assert.Contains(t, r.logs.String(), "store.degraded_entered")

	got, err := r.f.Get(ctx, "claim")
	require.NoError(t, err)
	assert.Equal(t, "w1", string(got), "reads while degraded see degraded writes")
	_, err = r.f.Get(ctx, "before")
	assert.ErrorIs(t, err, store.ErrNotFound, "and only those")
	require.NoError(t, r.f.Ping(ctx), "a degraded store is usable, so Ping succeeds")
	st := r.f.Stats()
	assert.Equal(t, int64(1), st.Degradations)
	assert.False(t, st.DegradedSince.IsZero())
}

func TestFailover_RecoveryReplaysTheJournal(t *testing.T) {
	r := newRig(t, t.TempDir(), true, nil)
	r.await(t, store.ModeDegraded)
	ctx := context.Background()

	// DLQ appends, one removed again while degraded.
	var ids []store.ID
	for i := range 5 {
		id, err := r.f.Append(ctx, "dlq", []byte(fmt.Sprintf("entry-%d", i)))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	n, err := r.f.Remove(ctx, "dlq", ids[1])
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	// A claim, completed while degraded; another left running.
	ok, err := r.f.SetNX(ctx, "idem:charge-1", []byte("running"), 30*time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = r.f.CompareAndSet(ctx, "idem:charge-1", []byte("running"), []byte("done"), time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = r.f.SetNX(ctx, "idem:charge-2", []byte("running"), 30*time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	// Counters add up; deletes apply; a multi-key delete spans keys.
	require.NoError(t, r.mem.Set(ctx, "counter", []byte("10"), 0))
	require.NoError(t, r.mem.Set(ctx, "stale", []byte("x"), 0))
	_, err = r.f.Incr(ctx, "counter", 5, 0)
	require.NoError(t, err)
	_, err = r.f.Delete(ctx, "stale", "other")
	require.NoError(t, err)
	// An atomic write with an append.
	res, err := r.f.Atomic(ctx, store.Txn{Ops: []store.Op{
		store.AppendOp("{d}:log", []byte("a")), store.SetOp("{d}:last", []byte("a"), 0)}})
	require.NoError(t, err)
	require.True(t, res.Applied)

	r.remote.down.Store(false)
	r.await(t, store.ModeNormal)
	assert.Contains(t, r.logs.String(), "store.degraded_exited")

	entries, err := r.mem.Range(ctx, "dlq", store.ID{}, 0)
	require.NoError(t, err)
	var values []string
	for _, e := range entries {
		values = append(values, string(e.Value))
	}
	assert.Equal(t, []string{"entry-0", "entry-2", "entry-3", "entry-4"}, values,
		"appends are replayed in order and the removal follows its entry to its Redis ID")
	got, err := r.mem.Get(ctx, "idem:charge-1")
	require.NoError(t, err)
	assert.Equal(t, "done", string(got))
	ttl, err := r.mem.TTL(ctx, "idem:charge-1")
	require.NoError(t, err)
	assert.Equal(t, time.Hour, ttl, "TTLs are deadlines: the fake clock did not move")
	got, err = r.mem.Get(ctx, "idem:charge-2")
	require.NoError(t, err)
	assert.Equal(t, "running", string(got))
	got, err = r.mem.Get(ctx, "counter")
	require.NoError(t, err)
	assert.Equal(t, "15", string(got), "increments made while degraded add to Redis's count")
	_, err = r.mem.Get(ctx, "stale")
	assert.ErrorIs(t, err, store.ErrNotFound)
	got, err = r.mem.Get(ctx, "{d}:last")
	require.NoError(t, err)
	assert.Equal(t, "a", string(got))

	st := r.f.Stats()
	assert.Zero(t, st.Conflicts)
	assert.Equal(t, int64(12), st.Replayed, "every journaled write")
	// Back to normal: the local store was emptied, reads come from the remote.
	require.NoError(t, r.mem.Set(ctx, "fresh", []byte("remote"), 0))
	got, err = r.f.Get(ctx, "fresh")
	require.NoError(t, err)
	assert.Equal(t, "remote", string(got))
	l, err := r.f.Len(ctx, "dlq")
	require.NoError(t, err)
	assert.Equal(t, int64(4), l)
}

func TestFailover_ConflictingClaimIsReportedNotDropped(t *testing.T) {
	r := newRig(t, t.TempDir(), true, nil)
	r.await(t, store.ModeDegraded)
	ctx := context.Background()
	ok, err := r.f.SetNX(ctx, "idem:pay-7", []byte("worker-a"), time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = r.f.SetNX(ctx, "idem:pay-8", []byte("worker-a"), time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	// Meanwhile another worker, still on Redis, claimed pay-7 and, with the
	// very same value, pay-8 (a write that reached Redis before it timed out).
	require.NoError(t, r.mem.Set(ctx, "idem:pay-7", []byte("worker-b"), time.Hour))
	require.NoError(t, r.mem.Set(ctx, "idem:pay-8", []byte("worker-a"), time.Hour))

	r.remote.down.Store(false)
	r.await(t, store.ModeNormal)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.conflicts, 1)
	c := r.conflicts[0]
	assert.Equal(t, "idem:pay-7", c.Key)
	assert.Equal(t, "setnx", c.Op)
	assert.Equal(t, "worker-a", string(c.Local))
	assert.Equal(t, "worker-b", string(c.Remote))
	assert.Equal(t, int64(1), r.f.Stats().Conflicts)
	assert.Contains(t, r.logs.String(), "store.reconcile_conflict")
	got, err := r.mem.Get(ctx, "idem:pay-7")
	require.NoError(t, err)
	assert.Equal(t, "worker-b", string(got), "Redis keeps the claim it had")
}

func TestFailover_ClaimsThatExpiredDuringTheOutageAreNotReplayed(t *testing.T) {
	r := newRig(t, t.TempDir(), true, nil)
	r.await(t, store.ModeDegraded)
	ctx := context.Background()
	ok, err := r.f.SetNX(ctx, "idem:short", []byte("running"), time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	r.clock.Advance(2 * time.Minute)
	r.remote.down.Store(false)
	r.await(t, store.ModeNormal)
	_, err = r.mem.Get(ctx, "idem:short")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, int64(1), r.f.Stats().Expired)
}

func TestFailover_HashesGoThroughTheReconciler(t *testing.T) {
	var got map[string]map[string]string
	r := newRig(t, t.TempDir(), true, func(o *store.FailoverOptions) {
		o.ReconcileHashes = func(ctx context.Context, remote store.Store, hashes map[string]map[string]string) error {
			got = hashes
			// Most-restrictive-wins, the breaker runtime's rule, in miniature.
			for k, local := range hashes {
				theirs, err := remote.HGetAll(ctx, k)
				if err != nil {
					return err
				}
				if theirs["state"] == "OPEN" {
					continue
				}
				if err := remote.HSet(ctx, k, local); err != nil {
					return err
				}
			}
			return nil
		}
	})
	r.await(t, store.ModeDegraded)
	ctx := context.Background()
	require.NoError(t, r.f.HSet(ctx, "breaker:payments", map[string]string{"state": "OPEN"}))
	require.NoError(t, r.f.HSet(ctx, "breaker:orders", map[string]string{"state": "CLOSED"}))
	require.NoError(t, r.mem.HSet(ctx, "breaker:orders", map[string]string{"state": "OPEN"}))
	r.remote.down.Store(false)
	r.await(t, store.ModeNormal)
	assert.Equal(t, map[string]map[string]string{
		"breaker:payments": {"state": "OPEN"},
		"breaker:orders":   {"state": "CLOSED"},
	}, got)
	m, err := r.mem.HGetAll(ctx, "breaker:payments")
	require.NoError(t, err)
	assert.Equal(t, "OPEN", m["state"])
	m, err = r.mem.HGetAll(ctx, "breaker:orders")
	require.NoError(t, err)
	assert.Equal(t, "OPEN", m["state"], "the reconciler decided")
}

func TestFailover_JournalSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, dir, true, nil)
	r.await(t, store.ModeDegraded)
	ctx := context.Background()
	_, err := r.f.Append(ctx, "dlq", []byte("written-while-degraded"))
	require.NoError(t, err)
	ok, err := r.f.SetNX(ctx, "idem:x", []byte("running"), time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, r.f.Close())

	// A new process: Redis is back, the journal is replayed before serving.
	r2 := newRig(t, dir, false, nil)
	assert.Equal(t, store.ModeNormal, r2.f.Mode())
	es, err := r2.mem.Range(ctx, "dlq", store.ID{}, 0)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, "written-while-degraded", string(es[0].Value))
	got, err := r2.mem.Get(ctx, "idem:x")
	require.NoError(t, err)
	assert.Equal(t, "running", string(got))
}

func TestFailover_SubscriptionHearsBothSides(t *testing.T) {
	r := newRig(t, t.TempDir(), false, func(o *store.FailoverOptions) { o.PingInterval = time.Hour })
	ctx := context.Background()
	sub, err := r.f.Subscribe(ctx, "breakers")
	require.NoError(t, err)
	defer sub.Close()
	require.NoError(t, r.f.Publish(ctx, "breakers", []byte("via remote")))
	assert.Equal(t, "via remote", string(receive(t, sub).Payload))
	r.remote.down.Store(true)
	require.NoError(t, r.f.Publish(ctx, "breakers", []byte("via local")))
	assert.Equal(t, store.ModeDegraded, r.f.Mode())
	assert.Equal(t, "via local", string(receive(t, sub).Payload))
}

func TestFailover_InterruptedReconciliationResumesWithoutDuplicates(t *testing.T) {
	r := newRig(t, t.TempDir(), true, nil)
	r.await(t, store.ModeDegraded)
	ctx := context.Background()
	for i := range 10 {
		_, err := r.f.Append(ctx, "dlq", []byte(fmt.Sprintf("entry-%d", i)))
		require.NoError(t, err)
	}
	// Redis comes back, then goes away again in the middle of the replay.
	r.remote.tripped = make(chan struct{})
	r.remote.tripAfter.Store(5)
	r.remote.down.Store(false)
	select {
	case <-r.remote.tripped:
	case <-time.After(5 * time.Second):
		t.Fatal("reconciliation never started")
	}
	assert.Equal(t, store.ModeDegraded, r.f.Mode(), "a failed replay keeps the store degraded")
	n, err := r.mem.Len(ctx, "dlq")
	require.NoError(t, err)
	assert.Equal(t, int64(4), n, "four entries made it before the outage")

	r.remote.down.Store(false)
	r.await(t, store.ModeNormal)
	entries, err := r.mem.Range(ctx, "dlq", store.ID{}, 0)
	require.NoError(t, err)
	require.Len(t, entries, 10, "the replay resumes where it stopped: nothing twice, nothing lost")
	for i, e := range entries {
		assert.Equal(t, fmt.Sprintf("entry-%d", i), string(e.Value))
	}
}

func TestFailover_RefusedHashIsAConflictNotAStall(t *testing.T) {
	r := newRig(t, t.TempDir(), true, nil)
	r.await(t, store.ModeDegraded)
	ctx := context.Background()
	require.NoError(t, r.f.HSet(ctx, "breaker:x", map[string]string{"state": "OPEN"}))
	require.NoError(t, r.mem.Set(ctx, "breaker:x", []byte("a string in Redis"), 0))
	r.remote.down.Store(false)
	r.await(t, store.ModeNormal)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.conflicts, 1)
	assert.Equal(t, "breaker:x", r.conflicts[0].Key)
	assert.Contains(t, r.conflicts[0].Reason, "wrong kind")
}

func receive(t *testing.T, sub store.Subscription) store.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok)
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return store.Message{}
	}
}
