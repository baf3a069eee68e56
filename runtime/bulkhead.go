package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Bulkhead is a compartment of at most Max concurrent calls.
//
// Its Max permits are split over stripes, one per P (GOMAXPROCS, capped by
// Max): a call takes a permit from its own P's stripe with one
// compare-and-swap and gives it back to the same stripe, so two cores
// admitting calls at once do not write one shared counter (which made the
// compartment slower with a second core). When its stripe is empty a call
// takes from the others. Permits are only ever moved by a CAS that keeps a
// stripe at 0 or above, so free + held = Max at all times and no more than
// Max calls are ever admitted. A refusal is decided after two passes over
// the stripes found nothing free, so a permit moving between stripes during
// a pass does not refuse a call on its own.
//
// Waiters (bulkhead_wait=) park on a channel that each release pokes, so a
// freed slot is noticed without polling.
type Bulkhead struct {
	name    string
	max     atomic.Int64 // changed only under reserveMu (resize)
	built   int64        // the size it was built with: what resize returns to when no override sizes it
	wait    time.Duration
	queue   int64 // callers that may wait for a slot at once; < 0: any number
	stripes []bulkheadStripe
	waiters atomic.Int64
	freed   chan struct{}

	// Emergency mode shrinks a compartment by holding permits in reserve:
	// reserved ones are out of the stripes; owed ones are taken from the next
	// releases (release pays the debt before giving a permit back).
	// free + held + reserved = max at all times. A resize that shrinks the
	// compartment below the permits running calls hold owes the difference
	// the same way, with reserved lowered by as much (it may go below 0):
	// reserved + owed is the emergency reserve alone.
	reserveMu sync.Mutex
	reserved  atomic.Int64
	owed      atomic.Int64
	// reserve is the reserve emergency mode asks for (reserved + owed once
	// no release is paying a debt), written under reserveMu: reading the two
	// counters instead could catch a release between its two steps.
	reserve atomic.Int64
}

type bulkheadStripe struct {
	free atomic.Int64
	_    [cacheLine - 8]byte
}

const maxStripes = 64

func newBulkhead(name string, max int64, wait time.Duration) *Bulkhead {
	n := int64(min(len(slabCursors), maxStripes))
	n = min(n, max)
	b := &Bulkhead{name: name, built: max, wait: wait, queue: -1, stripes: make([]bulkheadStripe, n), freed: make(chan struct{}, 1)}
	b.max.Store(max)
	for i := range b.stripes {
		share := max / n
		if int64(i) < max%n {
			share++
		}
		b.stripes[i].free.Store(share)
	}
	return b
}

// Name is the compartment's name.
func (b *Bulkhead) Name() string { return b.name }

// Max is the compartment's size.
func (b *Bulkhead) Max() int64 { return b.max.Load() }

// Active is the number of calls holding a slot (a reading of the stripes
// one after another: exact when calls are not entering or leaving).
func (b *Bulkhead) Active() int64 {
	var free int64
	for i := range b.stripes {
		free += b.stripes[i].free.Load()
	}
	return b.max.Load() - free - b.reserved.Load()
}

// Limit is the compartment's size now: Max, or less while emergency mode
// holds permits in reserve.
func (b *Bulkhead) Limit() int64 { return b.max.Load() - b.reserve.Load() }

// setReserve holds n permits out of the compartment (0 gives them all
// back): those free now at once, the rest as calls release theirs.
func (b *Bulkhead) setReserve(n int64) {
	b.reserveMu.Lock()
	defer b.reserveMu.Unlock()
	b.reserveLocked(n)
}

// reserveLocked is setReserve with reserveMu held. Giving back may briefly
// take reserved below the permits it holds while a release is between its
// two steps (payOwed); that release's step restores it.
func (b *Bulkhead) reserveLocked(n int64) {
	n = min(max(n, 0), b.max.Load()-1)
	cur := b.reserve.Swap(n)
	if n > cur {
		want := n - cur
		for i := range b.stripes {
			for want > 0 && take(&b.stripes[i].free) {
				want--
				b.reserved.Add(1)
			}
		}
		b.owed.Add(want)
		return
	}
	give := cur - n
	for give > 0 { // cancel debts first
		o := b.owed.Load()
		if o <= 0 {
			break
		}
		d := min(o, give)
		if b.owed.CompareAndSwap(o, o-d) {
			give -= d
		}
	}
	for i := 0; give > 0; i = (i + 1) % len(b.stripes) {
		b.reserved.Add(-1)
		b.stripes[i].free.Add(1)
		give--
	}
	b.poke()
}

// resize makes the compartment n permits (at least 1) while calls run,
// without losing or counting twice a permit a call holds: growing adds free
// permits at once; shrinking takes the free ones at once and the rest as
// running calls release theirs (owed, as an emergency reserve is), so no new
// call is admitted while more than n run. reserve gives the emergency
// reserve for the new size; it is read under the same lock as the level's
// own changes (emergencyLevel), so neither undoes the other.
func (b *Bulkhead) resize(n int64, reserve func(size int64) int64) {
	b.reserveMu.Lock()
	defer b.reserveMu.Unlock()
	n = max(n, 1)
	cur := b.max.Load()
	switch {
	case n > cur:
		add := n - cur
		for i := range b.stripes {
			share := add / int64(len(b.stripes))
			if int64(i) < add%int64(len(b.stripes)) {
				share++
			}
			b.stripes[i].free.Add(share)
		}
		b.max.Store(n)
	case n < cur:
		cut := cur - n
		for i := range b.stripes {
			for cut > 0 && take(&b.stripes[i].free) {
				cut--
			}
		}
		b.reserved.Add(-cut) // held by running calls: taken back as they release
		b.owed.Add(cut)
		b.max.Store(n)
	}
	b.reserveLocked(reserve(n))
}

// payOwed turns a released permit into a reserved one while a debt is owed.
func (b *Bulkhead) payOwed() bool {
	for {
		o := b.owed.Load()
		if o <= 0 {
			return false
		}
		if b.owed.CompareAndSwap(o, o-1) {
			b.reserved.Add(1)
			return true
		}
	}
}

// tryAcquire takes a permit, preferring the current P's stripe; it returns
// the stripe to give it back to.
func (b *Bulkhead) tryAcquire() (stripe uint16, ok bool) {
	p := procPin()
	procUnpin()
	n := len(b.stripes)
	home := p
	if home >= n { // no division on the common path: stripes = Ps unless Max is smaller
		home %= n
	}
	if s := &b.stripes[home].free; take(s) {
		return uint16(home), true
	}
	for pass := 0; pass < 2; pass++ {
		for j := 1; j <= n; j++ {
			i := (home + j) % n
			if take(&b.stripes[i].free) {
				return uint16(i), true
			}
		}
	}
	return 0, false
}

func take(free *atomic.Int64) bool {
	for {
		f := free.Load()
		if f <= 0 {
			return false
		}
		if free.CompareAndSwap(f, f-1) {
			return true
		}
	}
}

// MaxWaiting is how many callers may wait for a slot at once; -1: any number.
func (b *Bulkhead) MaxWaiting() int64 { return b.queue }

// Waiting is the number of callers waiting for a slot.
func (b *Bulkhead) Waiting() int64 { return b.waiters.Load() }

// acquire takes a slot, waiting up to the compartment's wait for one.
func (b *Bulkhead) acquire(ctx context.Context) (uint16, error) {
	return b.acquireFor(ctx, b.wait)
}

// acquireFor takes a slot, waiting up to wait for one when the waiting
// queue has room; a caller that finds the queue full is refused at once.
func (b *Bulkhead) acquireFor(ctx context.Context, wait time.Duration) (uint16, error) {
	if s, ok := b.tryAcquire(); ok {
		return s, nil
	}
	if wait <= 0 || b.queue == 0 {
		return 0, b.full(0)
	}
	if n := b.waiters.Add(1); b.queue > 0 && n > b.queue {
		b.waiters.Add(-1)
		return 0, b.full(0)
	}
	defer b.waiters.Add(-1)
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if s, ok := b.tryAcquire(); ok {
			b.pokeIfRoom() // a release may have been folded into one poke while several waited
			return s, nil
		}
		select {
		case <-b.freed:
		case <-timer.C:
			if s, ok := b.tryAcquire(); ok {
				return s, nil
			}
			return 0, b.full(time.Since(start))
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (b *Bulkhead) full(waited time.Duration) error {
	limit := b.Limit()
	e := &BulkheadFullError{Compartment: b.name, Active: min(b.Active(), limit), Max: limit, Waited: waited}
	if b.queue > 0 {
		e.MaxWaiting = b.queue
		e.Waiting = min(b.waiters.Load(), b.queue)
	}
	return e
}

func (b *Bulkhead) release(stripe uint16) {
	if b.owed.Load() > 0 && b.payOwed() {
		return
	}
	b.stripes[stripe].free.Add(1)
	if b.waiters.Load() > 0 {
		b.poke()
	}
}

func (b *Bulkhead) pokeIfRoom() {
	if b.waiters.Load() > 1 && b.Active() < b.Limit() {
		b.poke()
	}
}

func (b *Bulkhead) poke() {
	select {
	case b.freed <- struct{}{}:
	default:
	}
}
