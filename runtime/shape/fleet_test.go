package shape

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// countingStore counts the bucket's reads, and fails them while down is set.
type countingStore struct {
	store.Store
	gets atomic.Int64
	down atomic.Bool
}

var errDown = errors.New("store down for the test")

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets.Add(1)
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Get(ctx, key)
}

func fleetPair(t *testing.T, s LimiterSettings) (*clock.Fake, *countingStore, *Limiter, *Limiter) {
	t.Helper()
	c := clock.NewFake(t0)
	st := &countingStore{Store: store.NewMemoryWith(store.MemoryOptions{Clock: c})}
	t.Cleanup(func() { _ = st.Close() })
	s.Clock = c
	s.Fleet = &FleetSettings{Store: st, Key: "rate:{svc}", Batch: s.Fleet.Batch}
	return c, st, newLimiter(t, s), newLimiter(t, s)
}

func TestFleetLimitersShareOneBucket(t *testing.T) {
	t.Parallel()
	c, _, a, b := fleetPair(t, LimiterSettings{Rate: Rate{100, time.Second}, Burst: 10, Fleet: &FleetSettings{Batch: 4}})
	got := drain(t, a) + drain(t, b)
	assert.Equal(t, 10, got, "the two processes share the burst of 10 (4 + 4 + 2)")
	err := b.Take(context.Background())
	var rl *RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.True(t, rl.Fleet)
	assert.Equal(t, 20*time.Millisecond, rl.RetryAfter, "a lease waits for half a batch: 2 tokens, one every 10ms")
	c.Advance(100 * time.Millisecond)
	assert.Equal(t, 10, drain(t, a)+drain(t, b), "100ms at 100/s refill 10 tokens")
}

func TestFleetLeasesABatchNotACallAtATime(t *testing.T) {
	t.Parallel()
	c, st, a, _ := fleetPair(t, LimiterSettings{Rate: Rate{1000, time.Second}, Burst: 1000, Fleet: &FleetSettings{}})
	assert.Equal(t, int64(100), a.Batch(), "a tenth of a second's worth")
	for range 10 {
		for range 50 {
			require.NoError(t, a.Take(context.Background()))
		}
		c.Advance(50 * time.Millisecond)
	}
	assert.LessOrEqual(t, st.gets.Load(), int64(5+1), "500 calls in batches of 100")
	assert.Equal(t, uint64(5), a.Stats().Leases)
}

func TestFleetGivesBackWhatItDidNotSpend(t *testing.T) {
	t.Parallel()
	t.Run("on close", func(t *testing.T) {
		t.Parallel()
		c, _, a, b := fleetPair(t, LimiterSettings{Rate: Rate{1, time.Hour}, Burst: 20, Fleet: &FleetSettings{Batch: 10}})
		require.NoError(t, a.Take(context.Background())) // leases 10, spends 1
		assert.Equal(t, 10, drain(t, b), "the other 10")
		require.NoError(t, a.Close())
		assert.Equal(t, uint64(9), a.Stats().Returned)
		assert.Zero(t, drain(t, b), "b asks the store again only after 100ms")
		c.Advance(100 * time.Millisecond)
		assert.Equal(t, 9, drain(t, b))
	})
	t.Run("when idle", func(t *testing.T) {
		t.Parallel()
		c, _, a, b := fleetPair(t, LimiterSettings{Rate: Rate{1, time.Hour}, Burst: 20, Fleet: &FleetSettings{Batch: 10}})
		require.NoError(t, a.Take(context.Background()))
		c.Advance(time.Second) // the idle timer
		assert.Equal(t, uint64(9), a.Stats().Returned)
		assert.Equal(t, 19, drain(t, b), "its own 10 and the 9 given back")
	})
}

func TestFleetLimitsLocallyWhileTheStoreIsDown(t *testing.T) {
	t.Parallel()
	c, st, a, _ := fleetPair(t, LimiterSettings{Rate: Rate{10, time.Second}, Burst: 10, Fleet: &FleetSettings{Batch: 1}})
	st.down.Store(true)
	got := drain(t, a)
	assert.GreaterOrEqual(t, got, 1)
	assert.LessOrEqual(t, got, 10, "alone, at the full rate: still the burst")
	assert.Equal(t, uint64(1), a.Stats().LeaseErrors)
	gets := st.gets.Load()
	drain(t, a)
	assert.Equal(t, gets, st.gets.Load(), "no round trip while the store is known down")
	st.down.Store(false)
	c.Advance(time.Second)
	require.NoError(t, a.Take(context.Background()))
	assert.Greater(t, st.gets.Load(), gets, "back on the store after a second")
	assert.Equal(t, uint64(1), a.Stats().Leases)
}

func TestFleetReadsAForeignValueAsAFullBucket(t *testing.T) {
	t.Parallel()
	_, st, a, _ := fleetPair(t, LimiterSettings{Rate: Rate{1, time.Hour}, Burst: 3, Fleet: &FleetSettings{Batch: 1}})
	require.NoError(t, st.Set(context.Background(), "rate:{svc}", []byte("not a number"), 0))
	assert.Equal(t, 3, drain(t, a))
}
