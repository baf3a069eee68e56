package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The striped compartment never admits more than its capacity, whatever the
// number of goroutines, stripes and Ps, and gives every permit back.
func TestBulkheadNeverAdmitsMoreThanItsCapacity(t *testing.T) {
	for _, capacity := range []int64{1, 2, 3, 7, 64} {
		bh := newBulkhead("stress", capacity, 0)
		var inside, peak, admitted, refused atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 64; g++ {
			wg.Go(func() {
				for i := 0; i < 500; i++ {
					s, ok := bh.tryAcquire()
					if !ok {
						refused.Add(1)
						continue
					}
					admitted.Add(1)
					n := inside.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					if n > capacity {
						t.Errorf("capacity %d: %d calls inside", capacity, n)
					}
					if i%7 == 0 {
						goruntime.Gosched() // hold the slot across a reschedule, maybe onto another P
					}
					inside.Add(-1)
					bh.release(s)
				}
			})
		}
		wg.Wait()
		assert.LessOrEqual(t, peak.Load(), capacity)
		assert.Positive(t, admitted.Load())
		assert.Zero(t, bh.Active(), "capacity %d: every permit given back", capacity)
		assert.Equal(t, int64(64*500), admitted.Load()+refused.Load())
	}
}

// A full compartment refuses, and a freed permit on any stripe admits the next call.
func TestBulkheadPermitsMoveBetweenStripes(t *testing.T) {
	bh := newBulkhead("move", 5, 0)
	var held []uint16
	for range 5 {
		s, ok := bh.tryAcquire()
		require.True(t, ok)
		held = append(held, s)
	}
	_, ok := bh.tryAcquire()
	require.False(t, ok, "full")
	err := bh.full(0)
	assert.EqualError(t, err, `bulkhead "move" is full (5/5 active)`)
	for _, s := range held {
		bh.release(s)
		_, ok := bh.tryAcquire()
		require.True(t, ok, "the permit freed on stripe %d is found", s)
	}
	assert.EqualValues(t, 5, bh.Active())
	_, ok = bh.tryAcquire()
	assert.False(t, ok, "still full")
}
