package runtime

import (
	"context"
	"sync/atomic"
	"time"
)

// Bulkhead is a compartment of at most Max concurrent calls. Acquire is one
// CAS loop on the fast path; waiters (bulkhead_wait=) park on a channel that
// each release pokes, so a freed slot is noticed without polling.
type Bulkhead struct {
	name    string
	max     int64
	wait    time.Duration
	active  atomic.Int64
	waiters atomic.Int64
	freed   chan struct{}
}

func newBulkhead(name string, max int64, wait time.Duration) *Bulkhead {
	return &Bulkhead{name: name, max: max, wait: wait, freed: make(chan struct{}, 1)}
}

// Name is the compartment's name.
func (b *Bulkhead) Name() string { return b.name }

// Max is the compartment's size.
func (b *Bulkhead) Max() int64 { return b.max }

// Active is the number of calls holding a slot.
func (b *Bulkhead) Active() int64 { return b.active.Load() }

func (b *Bulkhead) tryAcquire() bool {
	for {
		n := b.active.Load()
		if n >= b.max {
			return false
		}
		if b.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquire takes a slot, waiting up to the compartment's wait for one.
func (b *Bulkhead) acquire(ctx context.Context) error {
	if b.tryAcquire() {
		return nil
	}
	if b.wait <= 0 {
		return &BulkheadFullError{Compartment: b.name, Active: b.active.Load(), Max: b.max}
	}
	start := time.Now()
	timer := time.NewTimer(b.wait)
	defer timer.Stop()
	b.waiters.Add(1)
	defer b.waiters.Add(-1)
	for {
		if b.tryAcquire() {
			b.pokeIfRoom() // a release may have been folded into one poke while several waited
			return nil
		}
		select {
		case <-b.freed:
		case <-timer.C:
			if b.tryAcquire() {
				return nil
			}
			return &BulkheadFullError{Compartment: b.name, Active: b.active.Load(), Max: b.max, Waited: time.Since(start)}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *Bulkhead) release() {
	b.active.Add(-1)
	if b.waiters.Load() > 0 {
		b.poke()
	}
}

func (b *Bulkhead) pokeIfRoom() {
	if b.waiters.Load() > 1 && b.active.Load() < b.max {
		b.poke()
	}
}

func (b *Bulkhead) poke() {
	select {
	case b.freed <- struct{}{}:
	default:
	}
}
