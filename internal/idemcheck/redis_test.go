package idemcheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/idem"
	"github.com/baldur-go/baldur/runtime/store"
)

// The shared Redis of the test machine: never stopped or flushed; each test
// works under its own key prefix and deletes it.
const sharedRedis = "127.0.0.1:6379"

// sharedStore opens the shared Redis under a fresh prefix whose keys are
// deleted when the test ends. Without redis-server on PATH, or without a
// Redis answering, the test is skipped, unless BALDUR_REQUIRE_REDIS=1.
func sharedStore(t testing.TB) store.Store {
	t.Helper()
	required := os.Getenv("BALDUR_REQUIRE_REDIS") == "1"
	if _, err := exec.LookPath("redis-server"); err != nil {
		if required {
			t.Fatal("redis-server is not on PATH and BALDUR_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server is not on PATH: skipping real-Redis test (set BALDUR_REQUIRE_REDIS=1 to fail instead)")
	}
	prefix := fmt.Sprintf("baldur-test:idemcheck:%d:%x:", os.Getpid(), rand.Uint64())
	st, err := store.OpenRedis(context.Background(), "redis://"+sharedRedis, store.RedisOptions{Prefix: prefix, PoolSize: 64})
	if err != nil {
		if required {
			t.Fatalf("redis at %s: %v", sharedRedis, err)
		}
		t.Skipf("no Redis at %s: %v", sharedRedis, err)
	}
	t.Cleanup(func() {
		defer st.Close()
		ctx := context.Background()
		keys, err := st.Keys(ctx, "")
		if err != nil {
			t.Errorf("cleaning up %s: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			_, err = st.Delete(ctx, keys...)
			assert.NoError(t, err, "cleaning up %s", prefix)
		}
	})
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
	wg.Wait()
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
