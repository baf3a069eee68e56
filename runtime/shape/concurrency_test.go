package shape

import (
	"container/heap"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
)

func newConcurrency(t *testing.T, s ConcurrencySettings) *Concurrency {
	t.Helper()
	c, err := NewConcurrency(s)
	require.NoError(t, err)
	return c
}

// saturate simulates endless demand on a dependency that serves up to
// capacity calls at once in base time each and queues the rest (a call
// started with n in flight takes base·n/capacity), for d of fake time. It
// checks that no more calls than the limit are ever in flight and returns
// the limits seen over the last quarter, sorted.
func saturate(t *testing.T, clk *clock.Fake, c *Concurrency, capacity int, base, d time.Duration) []int64 {
	t.Helper()
	var running calls
	var late []int64
	start := clk.Now()
	for clk.Now().Sub(start) < d {
		for {
			a, ok := c.Acquire()
			if !ok {
				break
			}
			n := len(running) + 1
			rtt := base
			if n > capacity {
				rtt = base * time.Duration(n) / time.Duration(capacity)
			}
			heap.Push(&running, call{clk.Now().Add(rtt), a})
			if in, limit := c.InFlight(), c.Limit(); in > limit*2 { // the limit halves for a probe window under running calls
				t.Fatalf("%d in flight beyond the limit %d", in, limit)
			}
		}
		next := heap.Pop(&running).(call)
		clk.Set(next.end)
		c.Release(next.a, false)
		if clk.Now().Sub(start) > d*3/4 {
			late = append(late, c.Limit())
		}
	}
	for _, r := range running {
		c.Release(r.a, false)
	}
	slices.Sort(late)
	return late
}

type call struct {
	end time.Time
	a   Admit
}

// calls is a heap of running calls, the first to end on top.
type calls []call

func (h calls) Len() int           { return len(h) }
func (h calls) Less(i, j int) bool { return h[i].end.Before(h[j].end) }
func (h calls) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *calls) Push(x any)        { *h = append(*h, x.(call)) }
func (h *calls) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func TestConcurrencyLimitFindsWhatTheDependencySustains(t *testing.T) {
	t.Parallel()
	for _, capacity := range []int{10, 40, 120} {
		clk := clock.NewFake(t0)
		c := newConcurrency(t, ConcurrencySettings{SampleEvery: 1, Clock: clk})
		late := saturate(t, clk, c, capacity, 10*time.Millisecond, 10*time.Second)
		median := late[len(late)/2]
		t.Logf("capacity %d: limit over the last quarter %d..%d, median %d", capacity, late[0], late[len(late)-1], median)
		assert.GreaterOrEqual(t, median, int64(capacity)*3/4, "capacity %d", capacity)
		assert.LessOrEqual(t, median, int64(capacity)*2, "capacity %d", capacity)
		assert.Zero(t, c.InFlight())
	}
}

func TestConcurrencyLimitFollowsADependencyThatGotSlowerForGood(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	c := newConcurrency(t, ConcurrencySettings{SampleEvery: 1, Clock: clk})
	saturate(t, clk, c, 50, 5*time.Millisecond, 10*time.Second)
	// Four times slower, and it now serves 25 at once: the probe windows
	// learn the new no-load latency instead of reading it all as queueing.
	late := saturate(t, clk, c, 25, 20*time.Millisecond, 30*time.Second)
	median := late[len(late)/2]
	t.Logf("limit over the last quarter %d..%d, median %d", late[0], late[len(late)-1], median)
	assert.GreaterOrEqual(t, median, int64(25)*3/4)
	assert.LessOrEqual(t, median, int64(25)*2)
}

func TestConcurrencyLimitShrinksOnDrops(t *testing.T) {
	t.Parallel()
	c := newConcurrency(t, ConcurrencySettings{Initial: 100})
	for range 50 {
		a, ok := c.Acquire()
		require.True(t, ok)
		c.Release(a, true)
	}
	assert.Less(t, c.Limit(), int64(100))
	for range 1000 {
		a, _ := c.Acquire()
		c.Release(a, true)
	}
	assert.Equal(t, int64(1), c.Limit(), "never below Min")
}

func TestConcurrencyQueueIsShortAndBounded(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	c := newConcurrency(t, ConcurrencySettings{Initial: 1, Min: 1, Max: 1, Queue: 1, QueueWait: time.Second, Clock: clk})
	held, ok := c.Acquire()
	require.True(t, ok)
	_, ok = c.Acquire()
	require.False(t, ok)

	got := make(chan error, 1)
	go func() {
		a, err := c.Wait(context.Background())
		if err == nil {
			c.Release(a, false)
		}
		got <- err
	}()
	armed(t, clk, 1, "the queued call")
	// The queue holds one: the next is refused at once.
	_, err := c.Wait(context.Background())
	var cl *ConcurrencyLimitedError
	require.ErrorAs(t, err, &cl)
	assert.Equal(t, ConcurrencyLimitedError{Limit: 1, InFlight: 1}, *cl)
	c.Release(held, false)
	assert.NoError(t, await.Recv(t, got, "the queued call gets the freed slot"))

	// A queued call whose wait runs out is refused, saying how long it waited.
	held, ok = c.Acquire()
	require.True(t, ok)
	go func() {
		_, err := c.Wait(context.Background())
		got <- err
	}()
	armed(t, clk, 1, "the second queued call")
	clk.Advance(time.Second)
	err = await.Recv(t, got, "the queued call's refusal")
	require.ErrorAs(t, err, &cl)
	assert.Equal(t, time.Second, cl.Waited)
	assert.ErrorIs(t, err, ErrConcurrencyLimited)
	c.Release(held, false)
	assert.Equal(t, uint64(2), c.Limited())
}

func TestNewConcurrencyRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []ConcurrencySettings{
		{Min: 10, Max: 5}, {Initial: 2000}, {Queue: -2}, {SampleEvery: 3}, {Max: 1 << 40},
	} {
		_, err := NewConcurrency(s)
		assert.Error(t, err, "%+v", s)
	}
}

func TestConcurrencySuccessPathAllocatesNothing(t *testing.T) {
	c := newConcurrency(t, ConcurrencySettings{})
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		a, ok := c.Acquire()
		if !ok {
			t.Fatal("refused")
		}
		c.Release(a, false)
	}))
}

func BenchmarkConcurrencyAcquireRelease(b *testing.B) {
	c, err := NewConcurrency(ConcurrencySettings{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		a, ok := c.Acquire()
		if !ok {
			b.Fatal("refused")
		}
		c.Release(a, false)
	}
}
