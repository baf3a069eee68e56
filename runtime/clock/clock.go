// Package clock is the time source of the baldur runtime: Real for production, Fake for tests.
// Components take a Clock instead of calling time.Now and time.AfterFunc so that tests move time by hand.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once, after d, unless the returned Timer is stopped first.
	// f never runs inside AfterFunc itself, so a caller may hold its own locks while arming.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is an armed AfterFunc.
type Timer interface {
	// Stop prevents the function from running. It reports whether this call stopped it:
	// false means it already ran (or is running) or was stopped before.
	Stop() bool
}

// Real returns the wall clock: time.Now and time.AfterFunc, whose callbacks run on their own goroutine.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a manual clock for tests. Time stands still until Advance or Set moves it; they run every
// callback that falls due, synchronously, in deadline order (ties in arming order), with Now reading
// the callback's deadline while it runs. Callbacks may arm new timers; those that fall due before the
// target time run in the same call. Fake is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*fakeTimer // pending only, unordered; tests keep few timers, so a scan beats a heap
}

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc arms f to run when the fake time reaches Now()+d. A d <= 0 is due at once but, like every
// callback, runs only on the next Advance or Set (Advance(0) is enough).
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	t := &fakeTimer{clock: f, at: f.now.Add(d), seq: f.seq, fn: fn}
	f.timers = append(f.timers, t)
	return t
}

// Advance moves the fake time forward by d, running the callbacks that fall due on the way.
// Concurrent Advances never move time backwards: each leaves it at least at its own target.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.moveTo(target, false)
}

// Set moves the fake time to t. Moving forward runs the callbacks that fall due on the way; moving
// backwards runs nothing (pending timers keep their absolute deadlines).
func (f *Fake) Set(t time.Time) { f.moveTo(t, true) }

func (f *Fake) moveTo(t time.Time, backwards bool) {
	for {
		f.mu.Lock()
		next := f.dueLocked(t)
		if next == nil {
			if backwards || t.After(f.now) {
				f.now = t
			}
			f.mu.Unlock()
			return
		}
		if next.at.After(f.now) {
			f.now = next.at
		}
		f.removeLocked(next)
		f.mu.Unlock()
		// Outside the lock: the callback may read Now, arm or stop timers.
		next.fn()
	}
}

// Pending returns how many timers are armed and not yet run or stopped; tests use it to check that a
// component leaves nothing behind.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Deadlines returns the deadlines of the pending timers, earliest first.
func (f *Fake) Deadlines() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Time, 0, len(f.timers))
	for _, t := range f.timers {
		out = append(out, t.at)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// dueLocked returns the earliest pending timer due at or before t, or nil.
func (f *Fake) dueLocked(t time.Time) *fakeTimer {
	var best *fakeTimer
	for _, tm := range f.timers {
		if tm.at.After(t) {
			continue
		}
		if best == nil || tm.at.Before(best.at) || (tm.at.Equal(best.at) && tm.seq < best.seq) {
			best = tm
		}
	}
	return best
}

// removeLocked drops t from the pending list and reports whether it was there.
func (f *Fake) removeLocked(t *fakeTimer) bool {
	for i, tm := range f.timers {
		if tm == t {
			last := len(f.timers) - 1
			f.timers[i] = f.timers[last]
			f.timers[last] = nil
			f.timers = f.timers[:last]
			return true
		}
	}
	return false
}

type fakeTimer struct {
	clock *Fake
	at    time.Time
	seq   uint64
	fn    func()
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	return t.clock.removeLocked(t)
}
