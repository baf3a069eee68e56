package shape

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// ConcurrencySettings configures an adaptive Concurrency limit. Zero values
// mean the defaults.
type ConcurrencySettings struct {
	// Initial is the limit before any latency was seen; 0 means 20.
	Initial int64
	// Min and Max bound the limit; 0 means 1 and 1000.
	Min, Max int64
	// Queue is how many calls may wait for a slot beyond the limit; 0 means
	// 8, NoQueue none.
	Queue int64
	// QueueWait is the longest a call waits in the queue; 0 means 50ms.
	QueueWait time.Duration
	// SampleEvery is one call in how many whose latency is measured (a
	// power of two); 0 means 16. Only sampled calls read the clock.
	SampleEvery uint64
	// Clock is the time source; nil means clock.Real().
	Clock clock.Clock
}

// NoQueue, as ConcurrencySettings.Queue, refuses at once beyond the limit.
const NoQueue = -1

// Concurrency defaults.
const (
	DefaultConcurrencyInitial = 20
	DefaultConcurrencyMax     = 1000
	DefaultConcurrencyQueue   = 8
	DefaultConcurrencyWait    = 50 * time.Millisecond
	DefaultConcurrencySample  = 16
	// concurrencyProbe: every this many windows, one window at half the
	// limit learns the no-load latency again.
	concurrencyProbe = 100
	// concurrencyWindow is the fewest samples the limit moves on.
	concurrencyWindow = 10
)

// Concurrency limits calls in flight to what the dependency sustains,
// estimated from latency as TCP Vegas estimates a window and as Netflix's
// concurrency-limits VegasLimit does: with L the limit, rtt₀ the lowest
// latency seen (no queueing) and rtt a sample, the dependency is queueing
// about L·(1 − rtt₀/rtt) calls. Once per window of samples (rtt their
// mean): below log₁₀L queued the limit grows by 6·log₁₀L, below 3·log₁₀L by
// log₁₀L; above 6·log₁₀L it shrinks by log₁₀L; a call that failed (a drop)
// shrinks it by log₁₀L at once. A sample taken with fewer than half the
// limit in flight says nothing about the limit and is only used for rtt₀.
// Every 100 windows one runs at half the limit and its lowest latency
// becomes rtt₀: under endless demand nothing else would tell a dependency
// that got slower for good from one that is queueing.
//
// Hot path: Acquire is one atomic add (calls in flight and a call count,
// packed in one word) and a load of the limit; Release one atomic add. Only
// one call in SampleEvery reads the clock.
type Concurrency struct {
	state atomic.Uint64 // low 32 bits: calls in flight; high 32: calls admitted (wraps), for sampling
	limit atomic.Int64
	_     [cacheLine - 16]byte

	clock      clock.Clock
	epoch      time.Time
	sampleMask uint64
	queue      int64
	queueWait  time.Duration
	waiters    atomic.Int64
	freed      chan struct{}

	mu      sync.Mutex // the estimator
	est     float64
	win     rttWindow
	windows int
	rtt0    int64 // the no-load latency: the lowest since the last probe
	probing bool  // this window runs at half the limit to learn rtt0 again
	min     int64
	max     int64
	halved  bool // the emergency level halves the ceiling (Emergency)

	limited atomic.Uint64
}

// Admit is what Acquire hands out and Release takes back; keep it on the stack.
type Admit struct {
	start int64 // sampled: ns since epoch + 1; 0 otherwise
}

const inFlightMask = 1<<32 - 1

// NewConcurrency checks s and builds its limit.
func NewConcurrency(s ConcurrencySettings) (*Concurrency, error) {
	c := &Concurrency{clock: s.Clock, queue: s.Queue, queueWait: s.QueueWait, min: s.Min, max: s.Max, freed: make(chan struct{}, 1)}
	if c.min == 0 {
		c.min = 1
	}
	if c.max == 0 {
		c.max = DefaultConcurrencyMax
	}
	init := s.Initial
	if init == 0 {
		init = min(DefaultConcurrencyInitial, c.max)
	}
	if c.min < 1 || c.max < c.min || c.max > inFlightMask/2 || init < c.min || init > c.max {
		return nil, fmt.Errorf("adaptive concurrency: want 1 <= min (%d) <= initial (%d) <= max (%d) <= %d", c.min, init, c.max, inFlightMask/2)
	}
	switch {
	case c.queue == 0:
		c.queue = DefaultConcurrencyQueue
	case c.queue == NoQueue:
		c.queue = 0
	case c.queue < 0:
		return nil, fmt.Errorf("adaptive concurrency: queue %d", s.Queue)
	}
	if c.queueWait == 0 {
		c.queueWait = DefaultConcurrencyWait
	}
	every := s.SampleEvery
	if every == 0 {
		every = DefaultConcurrencySample
	}
	if every&(every-1) != 0 {
		return nil, fmt.Errorf("adaptive concurrency: sample every %d is not a power of two", every)
	}
	c.sampleMask = every - 1
	if c.clock == nil {
		c.clock = clock.Real()
	}
	c.epoch = c.clock.Now()
	c.est = float64(init)
	c.limit.Store(init)
	return c, nil
}

func (c *Concurrency) now() int64 { return int64(c.clock.Now().Sub(c.epoch)) }

// Acquire admits a call if fewer than the limit are in flight. false says
// the limit is reached: call Wait for the queue, or refuse.
func (c *Concurrency) Acquire() (Admit, bool) {
	v := c.state.Add(1<<32 | 1)
	if int64(v&inFlightMask) > c.limit.Load() || (v>>32)&c.sampleMask == 0 {
		return c.acquire(v)
	}
	return Admit{}, true
}

// acquire is Acquire's slow path: give the slot back, or time a sampled call.
func (c *Concurrency) acquire(v uint64) (Admit, bool) {
	if int64(v&inFlightMask) > c.limit.Load() {
		c.state.Add(^uint64(0)) // in flight - 1; the call count keeps its step (only sampling reads it)
		return Admit{}, false
	}
	return Admit{start: c.now() + 1}, true
}

// Wait queues for a slot, up to the queue's size and wait, after Acquire
// said no. It refuses with *ConcurrencyLimitedError (errors.Is
// ErrConcurrencyLimited), or returns ctx's error.
func (c *Concurrency) Wait(ctx context.Context) (Admit, error) {
	if a, ok := c.Acquire(); ok {
		return a, nil
	}
	if c.waiters.Add(1) > c.queue {
		c.waiters.Add(-1)
		return Admit{}, c.refuse(0)
	}
	defer c.waiters.Add(-1)
	expired := make(chan struct{})
	start := c.now()
	t := c.clock.AfterFunc(c.queueWait, func() { close(expired) })
	defer t.Stop()
	for {
		if a, ok := c.Acquire(); ok {
			c.pokeIfRoom()
			return a, nil
		}
		select {
		case <-c.freed:
		case <-expired:
			if a, ok := c.Acquire(); ok {
				return a, nil
			}
			return Admit{}, c.refuse(time.Duration(c.now() - start))
		case <-ctx.Done():
			return Admit{}, ctx.Err()
		}
	}
}

func (c *Concurrency) refuse(waited time.Duration) error {
	c.limited.Add(1)
	return &ConcurrencyLimitedError{Limit: c.limit.Load(), InFlight: c.InFlight(), Waited: waited}
}

// Release ends an admitted call. dropped says the dependency failed it
// (an error counted as a failure, a timeout): the limit shrinks.
func (c *Concurrency) Release(a Admit, dropped bool) {
	v := c.state.Add(^uint64(0))
	if a.start != 0 || dropped || c.waiters.Load() > 0 {
		c.release(a, v, dropped)
	}
}

func (c *Concurrency) release(a Admit, v uint64, dropped bool) {
	if a.start != 0 || dropped {
		c.update(a, int64(v&inFlightMask)+1, dropped)
	}
	if c.waiters.Load() > 0 {
		c.poke()
	}
}

func (c *Concurrency) poke() {
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

func (c *Concurrency) pokeIfRoom() {
	if c.waiters.Load() > 1 && c.InFlight() < c.limit.Load() {
		c.poke()
	}
}

// update moves the estimate on a drop at once, and on samples once per
// window of them (at least concurrencyWindow, and half the limit), from the
// window's mean latency: one update per sample would move the limit many
// times on latencies measured under a limit already changed.
func (c *Concurrency) update(a Admit, inFlight int64, dropped bool) {
	var rtt int64
	if a.start != 0 {
		rtt = c.now() + 1 - a.start
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if dropped {
		c.est -= max(1, math.Log10(c.est))
		c.store()
		return
	}
	if rtt <= 0 {
		return
	}
	if !c.probing && float64(inFlight)*2 < c.est {
		// The caller, not the dependency, limits the calls in flight: the
		// latency is a no-load latency and says nothing about the limit.
		c.rtt0 = minNonZero(c.rtt0, rtt)
		return
	}
	c.win.n++
	c.win.sum += rtt
	c.win.min = minNonZero(c.win.min, rtt)
	if c.win.n < max(concurrencyWindow, int64(c.est)/2) {
		return
	}
	mean, least := c.win.sum/c.win.n, c.win.min
	c.win = rttWindow{}
	c.windows++
	if c.probing {
		// The window at half the limit: its lowest latency is the no-load
		// latency from now on, whatever it was before.
		c.probing = false
		c.rtt0 = least
		c.store()
		return
	}
	c.rtt0 = minNonZero(c.rtt0, least)
	if c.windows%concurrencyProbe == 0 {
		// Under endless demand every latency is measured with the dependency
		// queueing, and one that got slower for good would be held to its
		// old best: once in a while, one window at half the limit.
		c.probing = true
		c.limit.Store(max(c.min, int64(c.est)/2))
		return
	}
	step := max(1, math.Log10(c.est))
	queued := c.est * (1 - float64(c.rtt0)/float64(mean))
	switch {
	case queued <= step:
		c.est += 6 * step
	case queued < 3*step:
		c.est += step
	case queued > 6*step:
		c.est -= step
	default:
		return
	}
	c.store()
}

func minNonZero(a, b int64) int64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// Emergency halves the limit and its ceiling (halve, the emergency level
// HIGH and above), or gives the ceiling back (the limit then grows again as
// the latency allows). The runtime calls it when the level changes: the
// hot path reads nothing more.
func (c *Concurrency) Emergency(halve bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halved == halve {
		return
	}
	c.halved = halve
	if halve {
		c.est /= 2
	}
	c.store()
	if c.probing && halve {
		c.limit.Store(max(c.min, int64(c.est)/2))
	}
}

// Halved reports whether the emergency level halves the limit now.
func (c *Concurrency) Halved() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halved
}

// ceiling is the highest the limit may go: Max, half of it while halved.
func (c *Concurrency) ceiling() float64 {
	if c.halved {
		return float64(max(c.min, c.max/2))
	}
	return float64(c.max)
}

// store (c.mu held) clamps the estimate and publishes it as the limit.
func (c *Concurrency) store() {
	c.est = min(max(c.est, float64(c.min)), c.ceiling())
	if !c.probing {
		c.limit.Store(int64(c.est))
	}
}

type rttWindow struct{ n, sum, min int64 }

// Limit is the current limit.
func (c *Concurrency) Limit() int64 { return c.limit.Load() }

// InFlight is the number of calls admitted and not released.
func (c *Concurrency) InFlight() int64 { return int64(c.state.Load() & inFlightMask) }

// Limited is how many calls the limit refused.
func (c *Concurrency) Limited() uint64 { return c.limited.Load() }
