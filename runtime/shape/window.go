package shape

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// window counts over a trailing span, in slots: calls, which the hot path
// adds with one atomic add and no clock read, and two slow counts (a and b,
// what each policy needs: retries, failures, local rejections), added under
// the mutex with the time.
//
// Calls counted since the last fold carry no time. Folding (on every slow
// count or read) spreads them evenly over the time since the last fold,
// clipped to the span: exact when something folds at least once a slot,
// an estimate after a quiet spell (a steady rate is what it assumes).
type window struct {
	calls atomic.Int64 // since the last fold
	_     [cacheLine - 8]byte

	// source, when set, is a running count of calls kept elsewhere (the
	// runtime's per-call counters), read when folding instead of calls.
	source     func() int64
	lastSource int64

	clock    clock.Clock
	epoch    time.Time
	slotSpan int64 // ns

	mu       sync.Mutex
	slots    []windowSlot
	head     int   // the current slot
	headAt   int64 // when the current slot started, ns since epoch
	lastFold int64
}

type windowSlot struct{ calls, a, b int64 }

// windowCounts are the sums over the span.
type windowCounts struct{ calls, a, b int64 }

func newWindow(c clock.Clock, span time.Duration, slots int, source func() int64) *window {
	if c == nil {
		c = clock.Real()
	}
	w := &window{clock: c, epoch: c.Now(), slotSpan: int64(span) / int64(slots), slots: make([]windowSlot, slots), source: source}
	if source != nil {
		w.lastSource = source()
	}
	return w
}

func (w *window) now() int64 { return int64(w.clock.Now().Sub(w.epoch)) }

// fold (w.mu held) moves the slots to now and the pending calls into them.
func (w *window) fold(now int64) {
	pending := w.calls.Swap(0)
	if w.source != nil {
		n := w.source()
		pending, w.lastSource = n-w.lastSource, n
	}
	n := int64(len(w.slots))
	// Slots the pending calls spread over: from the last fold's slot to now's.
	from := max(w.lastFold, now-n*w.slotSpan+1)
	advance := (now - w.headAt) / w.slotSpan
	if advance > 0 {
		for i := int64(1); i <= min(advance, n); i++ {
			w.slots[(int64(w.head)+i)%n] = windowSlot{}
		}
		w.head = int((int64(w.head) + advance) % n)
		w.headAt += advance * w.slotSpan
	}
	if pending > 0 {
		span := now - from
		if span <= 0 || now-w.lastFold <= 0 {
			w.slots[w.head].calls += pending
		} else {
			// Only the share of the calls that fell within the span counts.
			inSpan := pending
			if gap := now - w.lastFold; gap > span {
				inSpan = int64(math.Round(float64(pending) * float64(span) / float64(gap)))
			}
			first := floorDiv(from-w.headAt, w.slotSpan) // <= 0: slots before the head
			k := min(-first+1, n)                        // slots covered, the head included
			share, rest := inSpan/k, inSpan%k
			for i := int64(0); i < k; i++ {
				s := &w.slots[((int64(w.head)-i)%n+n)%n]
				s.calls += share
				if i == 0 {
					s.calls += rest
				}
			}
		}
	}
	w.lastFold = now
}

// add folds, then adds to the current slot's slow counts.
func (w *window) add(a, b int64) windowCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	w.fold(now)
	w.slots[w.head].a += a
	w.slots[w.head].b += b
	return w.sumLocked()
}

// sum folds and returns the counts over the span.
func (w *window) sum() windowCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fold(w.now())
	return w.sumLocked()
}

func (w *window) sumLocked() windowCounts {
	var c windowCounts
	for _, s := range w.slots {
		c.calls += s.calls
		c.a += s.a
		c.b += s.b
	}
	return c
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
