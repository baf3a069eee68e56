package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/emergency"
)

func reserveAt(l emergency.Level) func(int64) int64 {
	return func(size int64) int64 { return emergencyReserve(size, l) }
}

// Shrinking below the running calls admits nothing until enough of them
// released; growing admits at once. The emergency reserve follows the size.
func TestBulkheadResizeKeepsHeldPermits(t *testing.T) {
	t.Parallel()
	bh := newBulkhead("rs", 10, 0)
	var held []uint16
	acquire := func() bool {
		s, ok := bh.tryAcquire()
		if ok {
			held = append(held, s)
		}
		return ok
	}
	release := func(n int) {
		for range n {
			bh.release(held[len(held)-1])
			held = held[:len(held)-1]
		}
	}
	for range 8 {
		require.True(t, acquire())
	}
	bh.resize(3, reserveAt(emergency.Normal))
	assert.Equal(t, int64(3), bh.Max())
	assert.Equal(t, int64(3), bh.Limit())
	assert.Equal(t, int64(8), bh.Active(), "the running calls keep their permits")
	assert.False(t, acquire(), "8 run in a compartment of 3")
	release(5)
	assert.Equal(t, int64(3), bh.Active())
	assert.False(t, acquire(), "3 run in a compartment of 3")
	release(1)
	assert.True(t, acquire())
	assert.False(t, acquire())

	bh.resize(6, reserveAt(emergency.Normal))
	for range 3 {
		assert.True(t, acquire(), "grown: free at once")
	}
	assert.False(t, acquire())
	assert.Equal(t, int64(6), bh.Active())

	// At HIGH a compartment of 6 runs 3; grown to 12 it runs 6.
	bh.resize(6, reserveAt(emergency.High))
	assert.Equal(t, int64(3), bh.Limit())
	release(6)
	assert.Equal(t, int64(3), bh.reserved.Load(), "the reserve took the released permits")
	bh.resize(12, reserveAt(emergency.High))
	assert.Equal(t, int64(6), bh.Limit())
	for range 6 {
		assert.True(t, acquire())
	}
	assert.False(t, acquire())
	bh.resize(4, reserveAt(emergency.High)) // 6 held, a size of 4 at HIGH runs 2
	assert.Equal(t, int64(2), bh.Limit())
	release(4)
	assert.False(t, acquire(), "2 run in a limit of 2")
	bh.emergencyLevel(emergency.Normal)
	assert.Equal(t, int64(4), bh.Limit())
	assert.True(t, acquire())
	assert.True(t, acquire())
	assert.False(t, acquire())
	release(len(held))
	assertConserved(t, bh, emergency.Normal)
}

func assertConserved(t *testing.T, bh *Bulkhead, l emergency.Level) {
	t.Helper()
	var free int64
	for i := range bh.stripes {
		free += bh.stripes[i].free.Load()
	}
	assert.Zero(t, bh.owed.Load(), "no debt once every call released")
	assert.Equal(t, emergencyReserve(bh.Max(), l), bh.reserved.Load(), "the reserve of the level")
	assert.Equal(t, bh.Max(), free+bh.reserved.Load(), "free + reserved = max with no call running")
	assert.Zero(t, bh.Active())
}

// Resizes and emergency levels change while 64 goroutines take and give
// back permits (run with -race): no more calls run than the largest size
// ever set, and once they stop every permit is accounted for.
func TestBulkheadResizeUnderConcurrentHolders(t *testing.T) {
	t.Parallel()
	bh := newBulkhead("rs", 10, 0)
	var inside, admitted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s, ok := bh.tryAcquire()
				if !ok {
					goruntime.Gosched()
					continue
				}
				admitted.Add(1)
				if n := inside.Add(1); n > 20 {
					t.Errorf("%d calls inside; no size above 20 was set", n)
				}
				if i%3 == 0 {
					goruntime.Gosched()
				}
				inside.Add(-1)
				bh.release(s)
			}
		})
	}
	sizes := []int64{10, 3, 20, 1, 7, 15, 2, 20, 5}
	level := emergency.Normal
	deadline := time.Now().Add(await.Deadline)
	for i := range 300 {
		if i%7 == 3 {
			level = emergency.High - level // Normal <-> High
			bh.emergencyLevel(level)
		}
		bh.resize(sizes[i%len(sizes)], reserveAt(level))
		for seen := admitted.Load(); admitted.Load() < seen+20; {
			if time.Now().After(deadline) {
				close(stop)
				t.Fatalf("step %d: no call admitted for %s at size %d (limit %d, active %d, reserved %d, owed %d)", i,
					await.Deadline, bh.Max(), bh.Limit(), bh.Active(), bh.reserved.Load(), bh.owed.Load())
			}
			goruntime.Gosched() // let the holders move between steps
		}
	}
	close(stop)
	await.Wait(t, &wg, "the holders")
	assertConserved(t, bh, level)
	assert.Equal(t, sizes[299%len(sizes)], bh.Max())
}
