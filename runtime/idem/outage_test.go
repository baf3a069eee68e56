package idem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

// downable is a remote store that can be taken away: every call then fails
// with ErrUnavailable, as a Redis that went away would. What it held before
// is still there when it comes back (Redis with its data).
type downable struct {
	store.Store
	down atomic.Bool
}

func (d *downable) err() error {
	if d.down.Load() {
		return fmt.Errorf("test remote is down: %w", store.ErrUnavailable)
	}
	return nil
}

func (d *downable) Ping(ctx context.Context) error {
	if err := d.err(); err != nil {
		return err
	}
	return d.Store.Ping(ctx)
}

func (d *downable) Get(ctx context.Context, k string) ([]byte, error) {
	if err := d.err(); err != nil {
		return nil, err
	}
	return d.Store.Get(ctx, k)
}

func (d *downable) SetNX(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	if err := d.err(); err != nil {
		return false, err
	}
	return d.Store.SetNX(ctx, k, v, ttl)
}

func (d *downable) CompareAndSet(ctx context.Context, k string, o, n []byte, ttl time.Duration) (bool, error) {
	if err := d.err(); err != nil {
		return false, err
	}
	return d.Store.CompareAndSet(ctx, k, o, n, ttl)
}

func (d *downable) Atomic(ctx context.Context, t store.Txn) (store.TxnResult, error) {
	if err := d.err(); err != nil {
		return store.TxnResult{}, err
	}
	return d.Store.Atomic(ctx, t)
}

// outage is a gate on a Failover over a remote that the test takes down
// and brings back.
type outage struct {
	remote *downable
	f      *store.Failover
	gate   *Gate
	log    *logSink
	modes  chan store.Mode
}

func newOutage(t *testing.T, recent int) *outage {
	t.Helper()
	o := &outage{remote: &downable{Store: store.NewMemory()}, log: &logSink{}, modes: make(chan store.Mode, 16)}
	var err error
	o.f, err = store.NewFailover(context.Background(), o.remote, store.NewMemory(), store.FailoverOptions{
		PingInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		OnModeChange: func(m store.Mode) { o.modes <- m },
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.f.Close()) })
	o.gate, err = New(o.f, Options{MemoryTTL: time.Hour, ExecutionWindow: 10 * time.Minute,
		Logger: slog.New(o.log), RecentKeys: recent})
	require.NoError(t, err)
	return o
}

func (o *outage) await(t *testing.T, want store.Mode) {
	t.Helper()
	awaitMode(t, o.modes, want, func() store.Mode { return o.f.Mode() })
}

// awaitMode waits for the switch to want, skipping others (a ping that
// timed out on a loaded machine).
func awaitMode(t *testing.T, modes <-chan store.Mode, want store.Mode, now func() store.Mode) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-modes:
			if m == want {
				return
			}
		case <-deadline:
			t.Fatalf("not %v within 10s (mode %v)", want, now())
		}
	}
}

// goDown takes the remote away and waits for the Failover to notice.
func (o *outage) goDown(t *testing.T) {
	t.Helper()
	o.remote.down.Store(true)
	o.await(t, store.ModeDegraded)
}

// comeBack brings the remote back and waits for the reconciliation.
func (o *outage) comeBack(t *testing.T) {
	t.Helper()
	o.remote.down.Store(false)
	o.await(t, store.ModeNormal)
}

// inRemote decodes what the remote holds under the request's key.
func (o *outage) inRemote(t *testing.T, r Request) (Record, bool) {
	t.Helper()
	v, err := o.remote.Store.Get(context.Background(), storeKey(o.gate.prefix, r.Domain, r.Operation, r.Key))
	if errors.Is(err, store.ErrNotFound) {
		return Record{}, false
	}
	require.NoError(t, err)
	rec, err := DecodeRecord(v)
	require.NoError(t, err)
	return rec, true
}

// A claim made on Redis and completed or released while DEGRADED: the
// outcome is journaled although the local store never saw the claim, the
// key is refused locally meanwhile, and Redis gets the outcome on recovery:
// the completed key keeps blocking duplicates, the released one is free.
func TestOutage_OutcomeOfAClaimMadeBeforeTheOutageReachesRedis(t *testing.T) {
	o := newOutage(t, 0)
	ctx := context.Background()
	charged, failed := req("order-charged"), req("order-failed")
	c1, err := o.gate.Claim(ctx, charged)
	require.NoError(t, err)
	c2, err := o.gate.Claim(ctx, failed)
	require.NoError(t, err)

	o.goDown(t)
	require.NoError(t, o.gate.Complete(ctx, c1, true, nil), "the completion is journaled, not lost")
	require.NoError(t, o.gate.Complete(ctx, c2, false, nil), "the release is journaled, not lost")
	assert.Zero(t, o.log.count("idem.claim_lost"))
	assert.Equal(t, 2, o.log.count("idem.outcome_deferred"))

	_, err = o.gate.Claim(ctx, charged)
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup, "a duplicate of the charge within the outage is refused")
	assert.Equal(t, StateCompleted, dup.State)
	retry, err := o.gate.Claim(ctx, failed)
	require.NoError(t, err, "the failed order may be retried at once")
	require.NoError(t, o.gate.Complete(ctx, retry, true, nil))

	o.comeBack(t)
	rec, ok := o.inRemote(t, charged)
	require.True(t, ok)
	assert.Equal(t, StateCompleted, rec.State, "Redis holds the completion made while degraded")
	assert.Equal(t, c1.token, rec.Token)
	rec, ok = o.inRemote(t, failed)
	require.True(t, ok)
	assert.Equal(t, StateCompleted, rec.State, "the release reached Redis, then the retry's claim and completion")
	assert.Equal(t, retry.token, rec.Token)
	assert.Zero(t, o.f.Stats().Conflicts)

	_, err = o.gate.Claim(ctx, charged)
	require.ErrorIs(t, err, ErrDuplicate, "after the outage Redis refuses the duplicate on its own")
}

// Only the release of a claim made before the outage: once Redis is back,
// the key is free at once instead of blocked for the execution window.
func TestOutage_ReleaseWhileDegradedFreesTheKeyInRedis(t *testing.T) {
	o := newOutage(t, 0)
	ctx := context.Background()
	r := req("order-7")
	c, err := o.gate.Claim(ctx, r)
	require.NoError(t, err)
	o.goDown(t)
	require.NoError(t, o.gate.Complete(ctx, c, false, nil))
	o.comeBack(t)
	_, ok := o.inRemote(t, r)
	assert.False(t, ok, "the release reached Redis")
	again, err := o.gate.Claim(ctx, r)
	require.NoError(t, err)
	assert.True(t, again.Owned())
}

// Keys this process completed or is running before the outage stay
// refused while DEGRADED; keys it never saw are served from the local
// store (the AP default).
func TestOutage_OwnKeysStayRefusedWhileDegraded(t *testing.T) {
	o := newOutage(t, 0)
	ctx := context.Background()
	const n = 200
	for i := range n {
		c, err := o.gate.Claim(ctx, req("done-"+strconv.Itoa(i)))
		require.NoError(t, err)
		require.NoError(t, o.gate.Complete(ctx, c, true, nil))
	}
	running, err := o.gate.Claim(ctx, req("running"))
	require.NoError(t, err)

	o.goDown(t)
	for i := range n {
		_, err := o.gate.Claim(ctx, req("done-"+strconv.Itoa(i)))
		var dup *DuplicateError
		require.ErrorAs(t, err, &dup, "completed key %d executed again during the outage", i)
		assert.Equal(t, StateCompleted, dup.State)
	}
	_, err = o.gate.Claim(ctx, req("running"))
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateRunning, dup.State)
	other := req("done-0")
	other.Fingerprint = 8
	_, err = o.gate.Claim(ctx, other)
	require.ErrorIs(t, err, ErrKeyReuse)

	fresh, err := o.gate.Claim(ctx, req("never-seen"))
	require.NoError(t, err, "serve: a key this process never saw runs on a local claim")
	require.True(t, fresh.Owned())
	require.NoError(t, o.gate.Complete(ctx, fresh, true, nil))
	require.NoError(t, o.gate.Complete(ctx, running, true, nil))
	o.comeBack(t)
}

// RefuseDegraded (idempotency_degraded=refuse) fails every claim while
// DEGRADED with ErrUnavailable, and claims again once Redis is back.
func TestOutage_RefuseDegradedRefusesWhileDegraded(t *testing.T) {
	o := newOutage(t, 0)
	ctx := context.Background()
	r := req("order-1")
	r.RefuseDegraded = true
	o.goDown(t)
	_, err := o.gate.Claim(ctx, r)
	var unavailable *UnavailableError
	require.ErrorAs(t, err, &unavailable)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "idempotency_degraded=refuse")
	o.comeBack(t)
	c, err := o.gate.Claim(ctx, r)
	require.NoError(t, err)
	assert.True(t, c.Owned())
}

// The record is bounded: past RecentKeys the oldest keys are forgotten.
func TestRecentKeysAreBounded(t *testing.T) {
	r := newRecentKeys(recentShards * 4)
	for i := range 10 * recentShards * 4 {
		r.put("k"+strconv.Itoa(i), recentKey{until: 1 << 62})
	}
	total := 0
	for i := range r.shards {
		s := &r.shards[i]
		assert.LessOrEqual(t, len(s.m), s.size)
		assert.LessOrEqual(t, len(s.ring), s.size)
		total += len(s.m)
	}
	assert.LessOrEqual(t, total, recentShards*4)
	_, ok := r.get("k"+strconv.Itoa(10*recentShards*4-1), 0)
	assert.True(t, ok, "the newest key is kept")
	_, ok = r.get("k0", 0)
	assert.False(t, ok, "the oldest key is forgotten")
	r.put("x", recentKey{until: 10})
	_, ok = r.get("x", 10)
	assert.False(t, ok, "a key is forgotten when the store would let it go")
	assert.Nil(t, newRecentKeys(-1))
}

// The same outage on a private redis-server that is frozen (SIGSTOP: it
// keeps its data) and resumed: orders completed before the outage stay
// refused during it, and the outcome of the claims that were running when
// it began reaches Redis once it is back.
func TestOutage_PrivateRedisFrozenAndResumed(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	remote, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{LazyConnect: true})
	require.NoError(t, err)
	modes := make(chan store.Mode, 16)
	f, err := store.NewFailover(ctx, remote, store.NewMemory(), store.FailoverOptions{
		Logger: slog.New(slog.DiscardHandler), OnModeChange: func(m store.Mode) { modes <- m }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, f.Close()) })
	g, err := New(f, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	await := func(want store.Mode) {
		t.Helper()
		awaitMode(t, modes, want, f.Mode)
	}

	const orders = 300
	for i := range orders {
		c, err := g.Claim(ctx, req("done-"+strconv.Itoa(i)))
		require.NoError(t, err)
		require.NoError(t, g.Complete(ctx, c, true, nil))
	}
	charged, err := g.Claim(ctx, req("charged-during"))
	require.NoError(t, err)
	failed, err := g.Claim(ctx, req("failed-during"))
	require.NoError(t, err)

	srv.Pause()
	await(store.ModeDegraded)
	ran := 0
	for i := range orders {
		_, err := g.Claim(ctx, req("done-"+strconv.Itoa(i)))
		if err == nil {
			ran++
		} else {
			require.ErrorIs(t, err, ErrDuplicate)
		}
	}
	assert.Zero(t, ran, "orders completed before the outage executed again during it")
	require.NoError(t, g.Complete(ctx, charged, true, nil))
	require.NoError(t, g.Complete(ctx, failed, false, nil))

	srv.Resume()
	await(store.ModeNormal)
	raw := redistest.Client(t, srv.Addr())
	v, err := raw.Get(ctx, "baldur:"+charged.StoreKey()).Bytes()
	require.NoError(t, err)
	rec, err := DecodeRecord(v)
	require.NoError(t, err)
	assert.Equal(t, StateCompleted, rec.State, "the completion made while degraded reached Redis")
	n, err := raw.Exists(ctx, "baldur:"+failed.StoreKey()).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the release made while degraded reached Redis: the order may be retried")
	_, err = g.Claim(ctx, req("charged-during"))
	require.ErrorIs(t, err, ErrDuplicate)
	retry, err := g.Claim(ctx, req("failed-during"))
	require.NoError(t, err)
	assert.True(t, retry.Owned())
}

// BenchmarkRecentKeysPut is what the record adds to each claim and
// completion: one insertion (or update) under a shard lock.
func BenchmarkRecentKeysPut(b *testing.B) {
	r := newRecentKeys(DefaultRecentKeys)
	keys := make([]string, 1<<17) // more than the record holds: evictions too
	for i := range keys {
		keys[i] = "idem:{bench}:Op:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.put(keys[i&(len(keys)-1)], recentKey{state: StateCompleted, until: 1 << 62})
			i += 7
		}
	})
}

// downDuringSetNX takes the remote away while a claim's SET NX is on its
// way: the Failover degrades in that very call and the local store takes
// the claim.
type downDuringSetNX struct {
	*store.Failover
	remote *downable
}

func (d downDuringSetNX) SetNX(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	d.remote.down.Store(true)
	return d.Failover.SetNX(ctx, k, v, ttl)
}

// A claim during which the store degrades is decided as if it had been
// degraded before: this process's completed key is refused, a refusing
// method is refused, and the local claim made meanwhile is taken back.
func TestOutage_StoreDegradingDuringAClaim(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			o := newOutage(t, 0)
			ctx := context.Background()
			r := req("order-1")
			c, err := o.gate.Claim(ctx, r)
			require.NoError(t, err)
			require.NoError(t, o.gate.Complete(ctx, c, true, nil))
			if refuse {
				r = req("order-2") // never seen: refused only by the posture
				r.RefuseDegraded = true
			}
			g, err := New(downDuringSetNX{o.f, o.remote}, Options{MemoryTTL: time.Hour, Logger: slog.New(o.log)})
			require.NoError(t, err)
			g.recent = o.gate.recent // the same process
			_, err = g.Claim(ctx, r)
			if refuse {
				require.ErrorIs(t, err, ErrUnavailable)
			} else {
				require.ErrorIs(t, err, ErrDuplicate)
			}
			require.True(t, o.f.Degraded())
			_, err = o.f.Get(ctx, storeKey(g.prefix, r.Domain, r.Operation, r.Key))
			require.ErrorIs(t, err, store.ErrNotFound, "the local claim was taken back")
		})
	}
}
