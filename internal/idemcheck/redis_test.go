package idemcheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/idem"
	"github.com/baldur-go/baldur/runtime/store"
)

// sharedStore opens the shared Redis under a store prefix of the test's own,
// deleted when the test ends.
func sharedStore(t testing.TB) store.Store {
	t.Helper()
	st, _ := redistest.SharedStore(t, store.RedisOptions{PoolSize: 64})
	return st
}

func redisEnv(t *testing.T, st store.Store) (Payments, *fake) {
	t.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{
		Store:  st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	inner := &fake{}
	return ProtectPayments(inner, rt), inner
}

func TestRedisConcurrentCallersOfOneKeyRunItOnce(t *testing.T) {
	p, inner := redisEnv(t, sharedStore(t))
	raceOneKey(t, p, inner, "order-race")
}

// Two runtimes (two workers) on one Redis share dedup memory: 50 goroutines
// each, on each of 20 keys, and every key's inner method runs once in all.
func TestRedisWorkersShareDedupMemory(t *testing.T) {
	st := sharedStore(t)
	p1, inner1 := redisEnv(t, st)
	p2, inner2 := redisEnv(t, st)
	const keys, callers = 20, 50
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		wins  [keys]atomic.Int64
	)
	for k := range keys {
		for c := range callers {
			p := p1
			if c%2 == 1 {
				p = p2
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := p.Charge(context.Background(), fmt.Sprintf("order-%d", k), 100)
				if err == nil {
					wins[k].Add(1)
				} else {
					assert.ErrorIs(t, err, runtime.ErrDuplicate)
				}
			}()
		}
	}
	close(start)
	await.Wait(t, &wg, "the workers")
	for k := range keys {
		assert.EqualValues(t, 1, wins[k].Load(), "key %d", k)
	}
	assert.EqualValues(t, keys, inner1.calls.Load()+inner2.calls.Load())
}

func TestRedisDuplicateDetailsAndReplay(t *testing.T) {
	p, inner := redisEnv(t, sharedStore(t))
	ctx := context.Background()
	first, err := p.ChargeReplay(ctx, "order-1", 300)
	require.NoError(t, err)
	again, err := p.ChargeReplay(ctx, "order-1", 300)
	require.NoError(t, err)
	assert.Equal(t, first, again)

	_, err = p.Charge(ctx, "order-1", 300)
	require.NoError(t, err, "Charge is another operation")
	_, err = p.Charge(ctx, "order-1", 300)
	var dup *idem.DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, idem.StateCompleted, dup.State)
	assert.False(t, dup.FirstSeen.IsZero())
	_, err = p.Charge(ctx, "order-1", 301)
	require.ErrorIs(t, err, runtime.ErrKeyReuse)
	assert.EqualValues(t, 2, inner.calls.Load())
}

// BenchmarkChargeRedis is BenchmarkChargeMemory on the shared Redis: two
// round trips per call (SET NX, then the compare-and-set of Complete), one
// caller at a time.
func BenchmarkChargeRedis(b *testing.B) {
	benchCharge(b, sharedStore(b))
}
