package runtime

import (
	"context"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The per-attempt timeout (timeout=).
//
// context.WithTimeout costs four allocations and a runtime timer per attempt
// (the context, its timer, the cancel closure and, when asked for, the Done
// channel): ~30 times the rest of the hot path. An attempt context here is
// cheaper because it does nothing until somebody can observe it:
//
//   - Its state is one atomic word. Err and Deadline compare the monotonic
//     clock with the deadline when asked, so an attempt whose method never
//     waits on ctx.Done() needs no timer and no channel at all: starting it
//     reads the clock once, ending it (Zone.Timed) is one compare-and-swap.
//   - Done creates the channel on first use (one allocation) and arms the
//     deadline: the attempt joins its zone's deadline list, kept sorted by
//     deadline, under one time.Timer per zone set to the earliest deadline.
//     All attempts of a zone have the same timeout (two while a timeout=
//     canary is staged), so a new deadline lands at or near the tail (the
//     insertion walks back from it) and the timer almost
//     never needs resetting: it stays armed at an earlier deadline and, when
//     it fires, expires what is due and re-arms at the new head. Timers per
//     zone rather than one wheel for the process: no tick when nothing waits,
//     exact expiry (no slot granularity), and zones do not contend.
//   - Contexts derived from it (context.WithCancel, WithTimeout, AfterFunc…)
//     are cancelled with it without a goroutine each: it implements
//     AfterFunc(func()) func() bool, the protocol the standard library's
//     propagateCancel looks for before it falls back to a goroutine per
//     child. The registered functions run synchronously when the attempt
//     ends or expires (outside every lock), as a cancelCtx cancels its
//     children; context.AfterFunc still runs the user's function in its own
//     goroutine because the standard library wraps it. (Behind a wrapper
//     that hides the method, e.g. context.WithValue, the standard library
//     falls back to its goroutine, which ends when the attempt does. Making
//     the Done channel a real cancelCtx's would cover that case too, at three
//     allocations instead of one on every Done.)
//   - The caller's context is watched only once Done was asked for, with
//     context.AfterFunc on it (its own cost, nothing for Background).
//
// Attempt contexts are never reused: the method may keep its context after
// returning, and must then see it cancelled, with its own deadline and
// values. Their memory comes in slabs of attemptSlabSize, one slab being
// handed out per P (pinned as the call counters are, see stats.go), one
// slot at a time and never twice, so the allocation is amortised over the
// slab: -benchmem reports 0 allocs/op. A context kept by user code keeps its
// slab alive, as any pointer into an array does.

const (
	attemptSlabSize = 32
	noDeadline      = int64(1<<63 - 1)
)

// The attempt's state word: a status, and flags saying what ending it must do.
const (
	statusRunning uint32 = iota
	statusEnded          // the attempt returned: Err is context.Canceled
	statusExpired        // the attempt's deadline passed: context.DeadlineExceeded
	statusParent         // the caller's context ended first: its Err
	statusMask    uint32 = 3
	flagDone      uint32 = 1 << 2 // the done channel exists (published in done)
	flagArmed     uint32 = 1 << 3 // registered with the deadline list and the caller's context
	flagHooked    uint32 = 1 << 4 // ending must take the slow path (channel, functions, list)
)

type attemptCtx struct {
	parent   context.Context
	zone     *Zone
	start    int64 // nanoseconds since the runtime's epoch
	deadline int64 // nanoseconds since the runtime's epoch; noDeadline for none
	// dryTimeout: in dry-run, the attempt's timeout= (no deadline; Timed
	// records a would-have timeout past it); 0 otherwise.
	dryTimeout time.Duration
	dryStart   int64 // with dryTimeout: the start on the runtime's clock (Config.Clock), since the epoch
	state      atomic.Uint32

	mu         sync.Mutex // guards done (before flagDone), funcs, parentStop
	done       chan struct{}
	funcs      *afterFunc
	parentStop func() bool

	list       *deadlineList // the list it was armed on
	prev, next *attemptCtx   // in list, guarded by its mutex
	listed     bool
}

type attemptSlab struct {
	n     atomic.Int32 // slots handed out
	slots [attemptSlabSize]attemptCtx
}

// slabCursor is one P's slab being handed out. Only a goroutine pinned to
// that P touches it (plain loads and stores, atomic for the race detector).
type slabCursor struct {
	slab atomic.Pointer[attemptSlab]
	_    [cacheLine - 8]byte
}

var slabCursors = make([]slabCursor, max(goruntime.GOMAXPROCS(0), goruntime.NumCPU()))

// newAttempt hands out a fresh slot from the current P's slab. A full slab is
// dropped and lives as long as its contexts.
func newAttempt() *attemptCtx {
	p := procPin()
	if p < len(slabCursors) {
		if s := slabCursors[p].slab.Load(); s != nil {
			if n := s.n.Load(); n < attemptSlabSize {
				s.n.Store(n + 1)
				procUnpin()
				return &s.slots[n]
			}
		}
	}
	procUnpin()
	if p >= len(slabCursors) {
		return new(attemptCtx) // a P beyond the cursors (GOMAXPROCS raised): one allocation
	}
	return newAttemptSlab()
}

func newAttemptSlab() *attemptCtx {
	s := new(attemptSlab) // outside the pin: allocation may assist the GC
	s.n.Store(1)
	if p := procPin(); p < len(slabCursors) {
		slabCursors[p].slab.Store(s)
	}
	procUnpin()
	return &s.slots[0]
}

// closedchan is the Done channel of an attempt that ended before anybody asked.
var closedchan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// cancelCtxKey is the standard library's private key with which context.Cause
// and propagateCancel look for the nearest *cancelCtx. An attempt that ended
// on its own answers nil to it, so that Cause reports the attempt's own error
// rather than a cause its caller's context acquired later. It is learnt once
// by letting context.Cause ask a probe.
var cancelCtxKey any

type causeProbe struct {
	context.Context
	key any
}

func (p *causeProbe) Err() error { return context.Canceled }
func (p *causeProbe) Value(k any) any {
	if p.key == nil {
		p.key = k
	}
	return nil
}

func init() {
	p := &causeProbe{Context: context.Background()}
	_ = context.Cause(p)
	if _, ok := p.key.(*int); ok {
		cancelCtxKey = p.key
	}
}

func (rt *Runtime) now() int64 { return int64(time.Since(rt.epoch)) }

func (c *attemptCtx) Deadline() (time.Time, bool) {
	if c.deadline == noDeadline {
		return c.parent.Deadline()
	}
	d := c.zone.rt.epoch.Add(time.Duration(c.deadline))
	if pd, ok := c.parent.Deadline(); ok && pd.Before(d) {
		return pd, true
	}
	return d, true
}

func (c *attemptCtx) Err() error {
	s := c.state.Load()
	if s&statusMask == statusRunning {
		s = c.poll()
	}
	var err error
	switch s & statusMask {
	case statusRunning:
		return nil
	case statusEnded:
		err = context.Canceled
	case statusExpired:
		err = context.DeadlineExceeded
	default:
		err = c.parent.Err()
	}
	if s&flagDone != 0 {
		<-c.done // a canceller may still be closing it: Err and Done agree
	}
	return err
}

// poll ends a running attempt whose caller's context is done or whose
// deadline has passed, and returns the state.
func (c *attemptCtx) poll() uint32 {
	if c.parent.Err() != nil {
		c.cancel(statusParent)
	} else if c.deadline != noDeadline && c.zone.rt.now() >= c.deadline {
		c.cancel(statusExpired)
	}
	return c.state.Load()
}

func (c *attemptCtx) Value(key any) any {
	if key == cancelCtxKey {
		if s := c.state.Load() & statusMask; s == statusEnded || s == statusExpired {
			return nil
		}
	}
	return c.parent.Value(key)
}

func (c *attemptCtx) Done() <-chan struct{} {
	if c.state.Load()&flagDone != 0 {
		return c.done
	}
	return c.makeDone()
}

func (c *attemptCtx) makeDone() <-chan struct{} {
	c.poll()
	c.mu.Lock()
	if c.state.Load()&flagDone == 0 {
		c.done = make(chan struct{})
		if !c.hook(0) {
			c.done = closedchan // ended already: nobody else will close it
		}
		c.state.Or(flagDone) // publishes done
	}
	d := c.done
	c.mu.Unlock()
	c.arm()
	return d
}

// hook marks a running attempt as needing the slow path when it ends, adding
// bits; it reports false (setting only the bits) when the attempt has ended.
func (c *attemptCtx) hook(bits uint32) bool {
	for {
		s := c.state.Load()
		if s&statusMask != statusRunning {
			c.state.Or(bits)
			return false
		}
		if c.state.CompareAndSwap(s, s|bits|flagHooked) {
			return true
		}
	}
}

// arm makes the attempt end by itself, once: at its deadline (the zone's
// deadline list) and when the caller's context ends.
func (c *attemptCtx) arm() {
	for {
		s := c.state.Load()
		if s&flagArmed != 0 || s&statusMask != statusRunning {
			return
		}
		if c.state.CompareAndSwap(s, s|flagArmed|flagHooked) {
			break
		}
	}
	if c.deadline != noDeadline {
		p := procPin()
		procUnpin()
		c.list = &c.zone.deadlines[p%len(c.zone.deadlines)]
		c.list.add(c)
	}
	if c.parent.Done() == nil {
		return // never cancelled
	}
	stop := context.AfterFunc(c.parent, c.parentEnded)
	c.mu.Lock()
	if c.state.Load()&statusMask == statusRunning {
		c.parentStop, stop = stop, nil
	}
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (c *attemptCtx) parentEnded() { c.cancel(statusParent) }

// AfterFunc registers f to run when the attempt ends, and is what the
// standard library's propagateCancel uses for contexts derived from this one
// (no goroutine per derived context). f runs synchronously in the goroutine
// that ends the attempt, so it must not block (a cancelCtx's cancel does
// not); if the attempt has already ended, f runs in a goroutine of its own
// (the caller may hold locks f takes, as propagateCancel does).
func (c *attemptCtx) AfterFunc(f func()) (stop func() bool) {
	c.poll()
	n := &afterFunc{c: c, f: f}
	c.mu.Lock()
	if !c.hook(0) {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	n.next = c.funcs
	if c.funcs != nil {
		c.funcs.prev = n
	}
	c.funcs = n
	c.mu.Unlock()
	c.arm()
	return n.stop
}

type afterFunc struct {
	c          *attemptCtx
	f          func()
	prev, next *afterFunc
	gone       bool // ran or stopped
}

func (n *afterFunc) stop() bool {
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.gone {
		return false
	}
	n.gone = true
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		c.funcs = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	}
	return true
}

// cancel ends a running attempt with status to; false if it had ended.
func (c *attemptCtx) cancel(to uint32) bool {
	for {
		s := c.state.Load()
		if s&statusMask != statusRunning {
			return false
		}
		if c.state.CompareAndSwap(s, s|to) {
			if s&flagHooked != 0 {
				c.finish(s)
			}
			return true
		}
	}
}

// finish is the slow path of ending: close the channel, leave the deadline
// list and the caller's context, run the registered functions.
func (c *attemptCtx) finish(s uint32) {
	if s&flagArmed != 0 && c.deadline != noDeadline {
		c.list.remove(c)
	}
	c.mu.Lock()
	if c.done != nil && c.done != closedchan {
		close(c.done)
	}
	stop := c.parentStop
	c.parentStop = nil
	var run []func()
	for n := c.funcs; n != nil; n = n.next {
		n.gone = true
		run = append(run, n.f)
	}
	c.funcs = nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	for _, f := range run {
		f()
	}
}

// end is called by Zone.Timed when the method returned: it ends the attempt
// and reports whether its own deadline had passed (failed: the method
// returned an error, so the clock is read to tell a timeout).
func (c *attemptCtx) end(failed bool) (expired bool) {
	if failed {
		c.poll()
	}
	if c.cancel(statusEnded) {
		return false
	}
	return c.state.Load()&statusMask == statusExpired
}

func (c *attemptCtx) String() string {
	d, _ := c.Deadline()
	return contextName(c.parent) + ".WithDeadline(" + d.String() + " [" + time.Until(d).String() + "])"
}

func contextName(c context.Context) string {
	if s, ok := c.(interface{ String() string }); ok {
		return s.String()
	}
	return "context"
}

// deadlineList holds armed attempts, sorted by deadline, under one timer set
// at (or before) the earliest. A zone has one per P, chosen when an attempt
// is armed, so that two cores arming attempts do not share a lock.
type deadlineList struct {
	mu         sync.Mutex
	head, tail *attemptCtx
	timer      *time.Timer
	at         int64 // when the timer fires, since the epoch; 0: not armed
	zone       *Zone
	_          [cacheLine - 48]byte
}

func newDeadlineLists(z *Zone) []deadlineList {
	ls := make([]deadlineList, len(slabCursors))
	for i := range ls {
		ls[i].zone = z
	}
	return ls
}

func (l *deadlineList) add(c *attemptCtx) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.state.Load()&statusMask != statusRunning {
		return // ended meanwhile: its finish found nothing to remove
	}
	p := l.tail
	for p != nil && p.deadline > c.deadline {
		p = p.prev
	}
	c.prev = p
	if p == nil {
		c.next, l.head = l.head, c
	} else {
		c.next, p.next = p.next, c
	}
	if c.next == nil {
		l.tail = c
	} else {
		c.next.prev = c
	}
	c.listed = true
	if l.at == 0 || c.deadline < l.at {
		l.armLocked(c.deadline)
	}
}

func (l *deadlineList) remove(c *attemptCtx) {
	l.mu.Lock()
	if c.listed {
		l.unlinkLocked(c)
	}
	l.mu.Unlock()
}

func (l *deadlineList) unlinkLocked(c *attemptCtx) {
	if c.prev == nil {
		l.head = c.next
	} else {
		c.prev.next = c.next
	}
	if c.next == nil {
		l.tail = c.prev
	} else {
		c.next.prev = c.prev
	}
	c.prev, c.next, c.listed = nil, nil, false
}

func (l *deadlineList) armLocked(at int64) {
	l.at = at
	d := time.Duration(at - l.zone.rt.now())
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.fire)
	} else {
		l.timer.Reset(d)
	}
}

// fire expires the attempts that are due and re-arms for the next one.
func (l *deadlineList) fire() {
	now := l.zone.rt.now()
	var due []*attemptCtx
	l.mu.Lock()
	for c := l.head; c != nil && c.deadline <= now; c = l.head {
		l.unlinkLocked(c)
		due = append(due, c)
	}
	l.at = 0
	if l.head != nil {
		l.armLocked(l.head.deadline)
	}
	l.mu.Unlock()
	for _, c := range due {
		c.cancel(statusExpired)
	}
}
