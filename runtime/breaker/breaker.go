// Package breaker is the circuit breaker that guards every protected call: it stops calling a
// service that keeps failing and probes it again after a pause. It is built for the hot path: in
// CLOSED, Allow plus Success is one atomic load, no clock read, no shared write and no allocation.
//
// How the speed is bought: the whole decision state (state, generation, half-open probe count) is
// one atomic word, read by Allow and copied into the Ticket. Successes in CLOSED change nothing, so
// they are not recorded unless MinimumCalls asks for a call count. Only failures take the mutex and
// read the clock, and time-driven moves (OPEN → HALF_OPEN, the half-open wait cap) are timers armed
// on the transition, so a rejection never reads the clock either.
package breaker

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// State is the position of a breaker.
type State uint32

// The states. Forced states are operator orders: they ignore outcomes and timers until Auto or Reset.
const (
	Closed       State = iota // calls pass; failures are counted
	Open                      // calls are rejected until RecoveryTimeout passes
	HalfOpen                  // a few probe calls pass; they decide between CLOSED and OPEN
	ForcedOpen                // operator: reject everything
	ForcedClosed              // operator: pass everything, count nothing
)

func (s State) String() string {
	switch s {
	case Closed:
		return "CLOSED"
	case Open:
		return "OPEN"
	case HalfOpen:
		return "HALF_OPEN"
	case ForcedOpen:
		return "FORCED_OPEN"
	case ForcedClosed:
		return "FORCED_CLOSED"
	}
	return "State(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// Forced reports whether s is an operator-forced state.
func (s State) Forced() bool { return s == ForcedOpen || s == ForcedClosed }

// Restriction ranks s by how much it cuts a service off, for every
// most-restrictive-wins merge (fleet sync, reconcile after an outage, the
// report's merge of several processes): FORCED_OPEN 3 > OPEN 2 > HALF_OPEN 1 >
// CLOSED and FORCED_CLOSED 0.
func (s State) Restriction() int {
	switch s {
	case ForcedOpen:
		return 3
	case Open:
		return 2
	case HalfOpen:
		return 1
	}
	return 0
}

// ParseState reads a state as String writes it ("HALF_OPEN").
func ParseState(name string) (State, bool) {
	for s := Closed; s <= ForcedClosed; s++ {
		if s.String() == name {
			return s, true
		}
	}
	return 0, false
}

// Defaults applied by New to zero (or negative) settings.
const (
	DefaultFailureThreshold = 5
	DefaultWindow           = 60 * time.Second
	DefaultRecoveryTimeout  = 60 * time.Second
	DefaultHalfOpenMaxCalls = 3
)

// buckets is how many time buckets the failure window is cut into: a failure is forgotten between
// Window-Window/buckets and Window after it happened.
const buckets = 10

// Settings configures a Breaker. Every zero value means the documented default, so Settings{} works.
type Settings struct {
	// Name identifies the breaker in transitions and snapshots (the service name).
	Name string
	// FailureThreshold is how many failures in the window open the breaker. 0 means 5.
	FailureThreshold int
	// MinimumCalls is how many calls (successes plus failures) the window must hold before the
	// breaker may open. 0 means FailureThreshold, and any value up to FailureThreshold is implied by
	// the threshold itself, so successes are not counted at all. A larger value makes every CLOSED
	// success do an out-of-line call and an atomic add on a counter shared by all cores (about 3 ns
	// instead of about 1 ns on one core; more as cores contend for that cache line), and arms a
	// timer per window bucket so that successes still never read the clock.
	MinimumCalls int
	// Window is the span over which failures (and calls) are counted, in 10 time buckets.
	// 0 means 60s. Values under 10ns are raised to 10ns.
	Window time.Duration
	// RecoveryTimeout is how long the breaker stays OPEN before it lets probes through (HALF_OPEN).
	// 0 means 60s.
	RecoveryTimeout time.Duration
	// HalfOpenMaxCalls is how many probes HALF_OPEN admits; that many successes close the breaker and
	// one failure re-opens it. 0 means 3.
	HalfOpenMaxCalls int
	// HalfOpenMaxWait caps HALF_OPEN: if the probes have not concluded by then (a probe hung, or
	// nobody called), the breaker opens again. 0 means RecoveryTimeout.
	HalfOpenMaxWait time.Duration
	// Clock is the time source. nil means clock.Real().
	Clock clock.Clock
	// OnStateChange, when set, is called on every change of State, outside the breaker's lock, in
	// transition order. It runs on the goroutine that caused the transition (a caller of
	// Failure/Success/ForceOpen..., or a timer), except that a transition made while another goroutine
	// is still delivering is handed to that goroutine, which keeps the order. It may call back into
	// the breaker. nil means no hook.
	OnStateChange func(Transition)
}

// Transition records one change of State.
type Transition struct {
	Name     string
	From, To State
	At       time.Time
	Reason   string
}

// Limits returns the settings a breaker built from s uses: every zero or
// negative value replaced by its documented default, Window raised to 10ns
// and HalfOpenMaxCalls capped at 16777215.
func (s Settings) Limits() Limits {
	l := Limits{
		FailureThreshold: s.FailureThreshold,
		MinimumCalls:     s.MinimumCalls,
		Window:           s.Window,
		RecoveryTimeout:  s.RecoveryTimeout,
		HalfOpenMaxCalls: s.HalfOpenMaxCalls,
		HalfOpenMaxWait:  s.HalfOpenMaxWait,
	}
	if l.FailureThreshold <= 0 {
		l.FailureThreshold = DefaultFailureThreshold
	}
	if l.MinimumCalls <= 0 {
		l.MinimumCalls = l.FailureThreshold
	}
	if l.Window <= 0 {
		l.Window = DefaultWindow
	}
	if l.Window < buckets {
		l.Window = buckets
	}
	if l.RecoveryTimeout <= 0 {
		l.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if l.HalfOpenMaxCalls <= 0 {
		l.HalfOpenMaxCalls = DefaultHalfOpenMaxCalls
	}
	if l.HalfOpenMaxCalls > maxProbes {
		l.HalfOpenMaxCalls = maxProbes
	}
	if l.HalfOpenMaxWait <= 0 {
		l.HalfOpenMaxWait = l.RecoveryTimeout
	}
	return l
}

// Limits are the effective settings of a breaker, after defaults.
type Limits struct {
	FailureThreshold int
	MinimumCalls     int
	Window           time.Duration
	RecoveryTimeout  time.Duration
	HalfOpenMaxCalls int
	HalfOpenMaxWait  time.Duration
}

// Snapshot is a consistent view of a breaker for admin pages and the shared-state layer.
type Snapshot struct {
	Name  string
	State State
	// Failures is the failure count in the current window (CLOSED only, else 0).
	Failures int
	// Calls is the call count in the current window when CallsCounted (MinimumCalls > FailureThreshold).
	Calls        int
	CallsCounted bool
	// HalfOpenAdmitted and HalfOpenSucceeded count the probes of the current HALF_OPEN.
	HalfOpenAdmitted  int
	HalfOpenSucceeded int
	// OpenedAt is when the breaker last opened (or the remote time adopted by Apply); HalfOpenAt when
	// it last went HALF_OPEN. Zero if never.
	OpenedAt       time.Time
	HalfOpenAt     time.Time
	LastTransition Transition // zero if the breaker never moved
	Limits         Limits
}

// Ticket is what Allow hands out and the outcome methods take back. It pins the generation it was
// issued in, so an outcome reported after the breaker moved on is ignored. The zero Ticket is stale.
type Ticket struct{ w uint64 }

// Quiet reports whether Success on this ticket would do nothing (CLOSED and
// not counting calls), so that a caller may skip the call altogether.
func (t Ticket) Quiet() bool { return t.w&trackBit == 0 }

// Probe reports whether the ticket is a HALF_OPEN probe.
func (t Ticket) Probe() bool { return stateOf(t.w) == HalfOpen }

// The state word, read by Allow on every call:
//
//	bit 0      gate:  Allow must take the slow path (OPEN, HALF_OPEN, FORCED_OPEN)
//	bit 1      track: Success must take the slow path (HALF_OPEN probe, or CLOSED counting calls)
//	bits 2-4   State
//	bits 8-31  HALF_OPEN probes admitted (CAS by Allow and Ignore)
//	bits 32-63 generation, bumped under the mutex on every transition; starts at 1
//
// A Ticket is the word with the probe bits cleared.
const (
	gateBit    = 1 << 0
	trackBit   = 1 << 1
	stateShift = 2
	stateMask  = 7 << stateShift
	probeShift = 8
	probeOne   = 1 << probeShift
	probeMask  = (1<<24 - 1) << probeShift
	genShift   = 32
	maxProbes  = 1<<24 - 1
)

func stateOf(w uint64) State { return State((w & stateMask) >> stateShift) }
func genOf(w uint64) uint32  { return uint32(w >> genShift) }
func probesOf(w uint64) int  { return int((w & probeMask) >> probeShift) }

// cacheLine pads hot fields apart so that the word everyone reads never shares a line with one that
// is written (128 covers adjacent-line prefetch on x86 and the 128-byte lines of Apple silicon).
const cacheLine = 128

// Breaker is a circuit breaker. Use New; all methods are safe for concurrent use.
type Breaker struct {
	_ [cacheLine]byte
	// Read on every call, written only on transitions and half-open admissions. Accessed only through
	// sync/atomic functions (not atomic.Uint64, whose method call costs Allow its inlining); its
	// offset is a multiple of 8, which keeps it 64-bit aligned on 32-bit platforms too.
	word uint64
	// Read-only after New.
	countCalls bool
	maxProbes  uint64
	_          [cacheLine - 24]byte

	// Written by every CLOSED success when countCalls: on a line of its own.
	calls atomic.Uint64
	_     [cacheLine - 8]byte

	name        string
	limits      Limits // guarded by mu: SetLimits changes it
	waitFollows bool   // HalfOpenMaxWait follows RecoveryTimeout (unset or equal at New)
	clock       clock.Clock
	onChange    func(Transition)
	width       time.Duration // one bucket

	mu         sync.Mutex
	closed     bool // Close was called: arm no more timers
	stateTimer clock.Timer
	tickTimer  clock.Timer
	base       time.Time // start of epoch 0 of the current CLOSED period
	lastEpoch  int64
	failures   [buckets]bucket
	callStarts [buckets]bucket // calls counter at the start of each epoch (countCalls only)
	succeeded  int             // probe successes in the current HALF_OPEN
	since      time.Time       // when the current state was entered (zero: never moved)
	openedAt   time.Time
	halfOpenAt time.Time
	last       Transition
	pending    []Transition
	delivering bool
}

// bucket is one epoch's value; epoch -1 marks an empty slot.
type bucket struct {
	epoch int64
	n     uint64
}

// New returns a CLOSED breaker configured by s (zero fields take their defaults).
func New(s Settings) *Breaker {
	l := s.Limits()
	b := &Breaker{
		countCalls:  l.MinimumCalls > l.FailureThreshold,
		maxProbes:   uint64(l.HalfOpenMaxCalls),
		name:        s.Name,
		limits:      l,
		waitFollows: l.HalfOpenMaxWait == l.RecoveryTimeout,
		clock:       s.Clock,
		onChange:    s.OnStateChange,
		width:       l.Window / buckets,
	}
	if b.clock == nil {
		b.clock = clock.Real()
	}
	b.mu.Lock()
	atomic.StoreUint64(&b.word, b.makeWord(1, Closed))
	b.resetCountsLocked(b.clock.Now())
	b.mu.Unlock()
	return b
}

func (b *Breaker) load() uint64 { return atomic.LoadUint64(&b.word) }

// Name returns Settings.Name.
func (b *Breaker) Name() string { return b.name }

// Limits returns the effective settings.
func (b *Breaker) Limits() Limits {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limits
}

// SetLimits changes, while the breaker runs, how many failures in the window
// open it and how long it stays OPEN before it probes (0 or less: the
// documented default), and returns the limits in force. HalfOpenMaxWait
// follows the new RecoveryTimeout when it followed the old one (unset, or
// equal to it, at New).
//
// What the state word and the window are built from stays as New set it:
// whether calls are counted (MinimumCalls above FailureThreshold),
// HalfOpenMaxCalls and Window; without call counting MinimumCalls follows
// the threshold. A new threshold is compared with the window's failures at
// the next failure, so lowering it below the failures already counted opens
// the breaker on the next one, not at once. A new RecoveryTimeout (and
// HalfOpenMaxWait) arms the next OPEN (HALF_OPEN) period: a breaker OPEN or
// HALF_OPEN now keeps its timer.
func (b *Breaker) SetLimits(failureThreshold int, recoveryTimeout time.Duration) Limits {
	b.mu.Lock()
	defer b.mu.Unlock()
	if failureThreshold <= 0 {
		failureThreshold = DefaultFailureThreshold
	}
	if recoveryTimeout <= 0 {
		recoveryTimeout = DefaultRecoveryTimeout
	}
	b.limits.FailureThreshold = failureThreshold
	if !b.countCalls {
		b.limits.MinimumCalls = failureThreshold
	}
	b.limits.RecoveryTimeout = recoveryTimeout
	if b.waitFollows {
		b.limits.HalfOpenMaxWait = recoveryTimeout
	}
	return b.limits
}

// State returns the current state (one atomic load).
func (b *Breaker) State() State { return stateOf(b.load()) }

// Allow asks to make a call. It returns false when the call must not be made: OPEN, FORCED_OPEN, or
// HALF_OPEN with every probe slot taken. Otherwise the caller makes the call and reports it with
// exactly one of Success, Failure or Ignore.
func (b *Breaker) Allow() (t Ticket, ok bool) {
	// Shaped to stay under the inlining budget: CLOSED and FORCED_CLOSED (whose probe bits are
	// zero) answer here; the gated states go out of line.
	t.w = atomic.LoadUint64(&b.word)
	return t, t.w&gateBit == 0 || b.admit(&t)
}

// admit decides for the gated states: it admits a probe (setting t to the probe ticket) or
// rejects. It is kept out of line so that Allow inlines into the generated wrappers.
//
//go:noinline
func (b *Breaker) admit(t *Ticket) bool {
	w := t.w
	for {
		switch stateOf(w) {
		case HalfOpen:
			if uint64(probesOf(w)) >= b.maxProbes {
				t.w = 0
				return false
			}
			if atomic.CompareAndSwapUint64(&b.word, w, w+probeOne) {
				t.w = w &^ probeMask
				return true
			}
			w = b.load() // another admission or a transition: look again
		case Closed, ForcedClosed:
			t.w = w
			return true
		default:
			t.w = 0
			return false
		}
	}
}

// Success reports that an allowed call succeeded. In CLOSED it does nothing unless calls are counted.
func (b *Breaker) Success(t Ticket) {
	if t.w&trackBit == 0 {
		return
	}
	b.successSlow(t)
}

func (b *Breaker) successSlow(t Ticket) {
	switch stateOf(t.w) {
	case Closed:
		// Counting calls for MinimumCalls. A success racing a transition may land in the fresh
		// counter; one call of slack is harmless and keeps this path lock-free.
		if b.load() == t.w {
			b.calls.Add(1)
		}
	case HalfOpen:
		b.mu.Lock()
		if b.load()&^probeMask != t.w {
			b.mu.Unlock()
			return
		}
		b.succeeded++
		if b.succeeded >= b.limits.HalfOpenMaxCalls {
			b.toLocked(Closed, b.clock.Now(), fmt.Sprintf("%d half-open probes succeeded", b.succeeded))
		}
		b.unlockAndDeliver()
	}
}

// Failure reports that an allowed call failed. In CLOSED the failure is counted and may open the
// breaker; a failed probe re-opens it. Stale tickets and forced states count nothing.
func (b *Breaker) Failure(t Ticket) {
	s := stateOf(t.w)
	if s != Closed && s != HalfOpen {
		return
	}
	if b.load()&^probeMask != t.w { // stale: don't even take the lock
		return
	}
	b.mu.Lock()
	if b.load()&^probeMask != t.w {
		b.mu.Unlock()
		return
	}
	now := b.clock.Now()
	if s == HalfOpen {
		b.toLocked(Open, now, "half-open probe failed")
		b.unlockAndDeliver()
		return
	}
	e := b.epochLocked(now)
	if b.countCalls {
		// Note where epoch e starts if its tick has not run yet, so that this failure is always
		// inside the calls it is compared with (successes already in e slip into e-1: harmless).
		if cs := &b.callStarts[e%buckets]; cs.epoch != e {
			*cs = bucket{epoch: e, n: b.calls.Load()}
		}
		b.calls.Add(1)
	}
	slot := &b.failures[e%buckets]
	if slot.epoch != e {
		*slot = bucket{epoch: e}
	}
	slot.n++
	if failures := b.failuresLocked(e); failures >= uint64(b.limits.FailureThreshold) {
		// Without call counting, MinimumCalls <= FailureThreshold <= failures <= calls holds already.
		if !b.countCalls {
			b.toLocked(Open, now, fmt.Sprintf("%d failures in %s", failures, b.limits.Window))
		} else if calls := b.callsLocked(e); calls >= uint64(b.limits.MinimumCalls) {
			b.toLocked(Open, now, fmt.Sprintf("%d failures in %d calls in %s", failures, calls, b.limits.Window))
		}
	}
	b.unlockAndDeliver()
}

// Ignore reports that an allowed call ended without a verdict (for example the caller cancelled).
// It counts nothing; a probe gives its slot back so that another probe may run.
func (b *Breaker) Ignore(t Ticket) {
	if stateOf(t.w) != HalfOpen {
		return
	}
	for {
		w := b.load()
		if w&^probeMask != t.w || probesOf(w) == 0 {
			return
		}
		if atomic.CompareAndSwapUint64(&b.word, w, w-probeOne) {
			return
		}
	}
}

// ForceOpen rejects every call until Auto or Reset, whatever the outcomes and timers.
func (b *Breaker) ForceOpen(reason string) { b.force(ForcedOpen, reason) }

// ForceClose lets every call through and counts nothing until Auto or Reset.
func (b *Breaker) ForceClose(reason string) { b.force(ForcedClosed, reason) }

func (b *Breaker) force(s State, reason string) {
	b.mu.Lock()
	if b.State() != s {
		b.toLocked(s, b.clock.Now(), reason)
	}
	b.unlockAndDeliver()
}

// Auto ends a forced state: the breaker goes back to automatic operation in CLOSED with empty
// counts. On a breaker that is not forced it does nothing.
func (b *Breaker) Auto(reason string) {
	b.mu.Lock()
	if b.State().Forced() {
		b.toLocked(Closed, b.clock.Now(), reason)
	}
	b.unlockAndDeliver()
}

// Reset puts the breaker in CLOSED with empty counts, from any state (forced ones included).
// Outstanding tickets become stale. OnStateChange fires only if the state was not already CLOSED.
func (b *Breaker) Reset(reason string) {
	b.mu.Lock()
	b.toLocked(Closed, b.clock.Now(), reason)
	b.unlockAndDeliver()
}

// Apply adopts a state seen elsewhere in the fleet, for the shared-state layer; openedAt is when
// the remote's OPEN episode began (zero: unknown, taken as now).
//
// Automatic states merge by restriction: a remote state is adopted if it is more restrictive than
// the local one (OPEN > HALF_OPEN > CLOSED) and newer, that is, its openedAt is after the local
// breaker entered its current state (a breaker that never moved takes anything); older news is an
// episode this breaker has already been through, and adopting it would only make the fleet flap.
// Between two OPENs the later openedAt wins. An adopted OPEN recovers RecoveryTimeout after the
// remote openedAt (at once if that has passed; never later than RecoveryTimeout from now, against
// clock skew). Automatic remote states never override a local forced state.
//
// Forced states are operator orders and are adopted as they are; ending one remotely is Auto's job.
// Apply reports whether anything changed; OnStateChange fires (with reason) only if the State did.
func (b *Breaker) Apply(state State, openedAt time.Time, reason string) bool {
	b.mu.Lock()
	now := b.clock.Now()
	fresh := openedAt.IsZero() || openedAt.After(b.since)
	if openedAt.IsZero() {
		openedAt = now
	}
	cur := b.State()
	changed := false
	switch {
	case state.Forced():
		if cur != state {
			b.toLocked(state, now, reason)
			changed = true
		}
	case state > ForcedClosed, cur.Forced():
	case state.Restriction() > cur.Restriction() && fresh:
		b.toLocked(state, now, reason)
		if state == Open {
			b.adoptOpenedAtLocked(now, openedAt)
		}
		changed = true
	case state == Open && cur == Open && openedAt.After(b.openedAt):
		b.adoptOpenedAtLocked(now, openedAt)
		changed = true
	}
	b.unlockAndDeliver()
	return changed
}

// adoptOpenedAtLocked moves the OPEN period to start at openedAt and re-arms the recovery timer.
func (b *Breaker) adoptOpenedAtLocked(now, openedAt time.Time) {
	b.openedAt = openedAt
	d := openedAt.Add(b.limits.RecoveryTimeout).Sub(now)
	d = min(max(d, 0), b.limits.RecoveryTimeout)
	b.armStateLocked(d, genOf(b.load()), Open, b.recoveryDue)
}

// Snapshot returns the breaker's state and counts, read under its lock.
func (b *Breaker) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.load()
	s := Snapshot{
		Name:           b.name,
		State:          stateOf(w),
		CallsCounted:   b.countCalls,
		OpenedAt:       b.openedAt,
		HalfOpenAt:     b.halfOpenAt,
		Limits:         b.limits,
		LastTransition: b.last,
	}
	switch s.State {
	case Closed:
		e := b.epochLocked(b.clock.Now())
		s.Failures = int(b.failuresLocked(e))
		if b.countCalls {
			s.Calls = int(b.callsLocked(e))
		}
	case HalfOpen:
		s.HalfOpenAdmitted = probesOf(w)
		s.HalfOpenSucceeded = b.succeeded
	}
	return s
}

// Close stops the breaker's timers; no timer of it outlives Close (a real-clock callback already
// started when Close runs finds the breaker closed and returns at once). The breaker keeps
// answering, but no longer moves by time (an OPEN breaker stays OPEN until Reset, Auto or Apply).
func (b *Breaker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.stopTimersLocked()
}

func (b *Breaker) makeWord(gen uint32, s State) uint64 {
	w := uint64(gen)<<genShift | uint64(s)<<stateShift
	switch s {
	case Open, ForcedOpen:
		w |= gateBit
	case HalfOpen:
		w |= gateBit | trackBit
	case Closed:
		if b.countCalls {
			w |= trackBit
		}
	}
	return w
}

// toLocked moves the breaker to s in a new generation, re-arms timers and queues the transition.
func (b *Breaker) toLocked(s State, now time.Time, reason string) {
	old := b.load()
	gen := genOf(old) + 1
	if gen == 0 { // the zero generation is reserved for the zero Ticket
		gen = 1
	}
	b.stopTimersLocked()
	atomic.StoreUint64(&b.word, b.makeWord(gen, s))
	b.since = now
	switch s {
	case Closed:
		b.resetCountsLocked(now)
	case Open:
		b.openedAt = now
		b.armStateLocked(b.limits.RecoveryTimeout, gen, Open, b.recoveryDue)
	case HalfOpen:
		b.halfOpenAt = now
		b.succeeded = 0
		b.armStateLocked(b.limits.HalfOpenMaxWait, gen, HalfOpen, b.halfOpenExpired)
	}
	from := stateOf(old)
	if from == s {
		return
	}
	tr := Transition{Name: b.name, From: from, To: s, At: now, Reason: reason}
	b.last = tr
	if b.onChange != nil {
		b.pending = append(b.pending, tr)
	}
}

func (b *Breaker) recoveryDue() {
	b.toLocked(HalfOpen, b.clock.Now(), "recovery timeout elapsed")
}

func (b *Breaker) halfOpenExpired() {
	b.toLocked(Open, b.clock.Now(), fmt.Sprintf("half-open not concluded within %s", b.limits.HalfOpenMaxWait))
}

// armStateLocked arms the single state timer: after d, if the breaker is still in state s of
// generation gen, run fire under the lock.
func (b *Breaker) armStateLocked(d time.Duration, gen uint32, s State, fire func()) {
	if b.stateTimer != nil {
		b.stateTimer.Stop()
		b.stateTimer = nil
	}
	if b.closed {
		return
	}
	b.stateTimer = b.clock.AfterFunc(d, func() {
		b.mu.Lock()
		w := b.load()
		if !b.closed && genOf(w) == gen && stateOf(w) == s {
			b.stateTimer = nil
			fire()
		}
		b.unlockAndDeliver()
	})
}

func (b *Breaker) stopTimersLocked() {
	if b.stateTimer != nil {
		b.stateTimer.Stop()
		b.stateTimer = nil
	}
	if b.tickTimer != nil {
		b.tickTimer.Stop()
		b.tickTimer = nil
	}
}

// resetCountsLocked empties the window and starts epoch 0 at now.
func (b *Breaker) resetCountsLocked(now time.Time) {
	b.base = now
	b.lastEpoch = 0
	for i := range b.failures {
		b.failures[i] = bucket{epoch: -1}
		b.callStarts[i] = bucket{epoch: -1}
	}
	b.calls.Store(0)
	b.callStarts[0] = bucket{epoch: 0}
	if b.countCalls {
		b.armTickLocked(now, genOf(b.load()))
	}
}

// armTickLocked arms the bucket clock used when calls are counted: at each epoch boundary it notes
// the calls counter, so that successes need no clock read of their own.
func (b *Breaker) armTickLocked(now time.Time, gen uint32) {
	if b.closed {
		return
	}
	next := b.base.Add(time.Duration(b.lastEpoch+1) * b.width)
	b.tickTimer = b.clock.AfterFunc(next.Sub(now), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		w := b.load()
		if b.closed || genOf(w) != gen || stateOf(w) != Closed {
			return
		}
		now := b.clock.Now()
		e := b.epochLocked(now)
		if slot := &b.callStarts[e%buckets]; slot.epoch != e {
			*slot = bucket{epoch: e, n: b.calls.Load()}
		}
		b.armTickLocked(now, gen)
	})
}

// epochLocked returns the bucket epoch of now; time never runs backwards for the window.
func (b *Breaker) epochLocked(now time.Time) int64 {
	e := int64(now.Sub(b.base) / b.width)
	if e < b.lastEpoch {
		return b.lastEpoch
	}
	b.lastEpoch = e
	return e
}

// failuresLocked sums the failures of epochs (e-buckets, e].
func (b *Breaker) failuresLocked(e int64) uint64 {
	var n uint64
	for _, f := range b.failures {
		if f.epoch > e-buckets && f.epoch <= e {
			n += f.n
		}
	}
	return n
}

// callsLocked returns the calls in epochs (e-buckets, e]: the counter now minus its value when the
// oldest of those epochs began. If the tick for that epoch was missed (a late timer, a jumping
// clock) it falls back to the nearest later note (counting fewer calls, so never opening early),
// and failing that to the nearest earlier one.
func (b *Breaker) callsLocked(e int64) uint64 {
	now := b.calls.Load()
	want := e - buckets + 1
	if want <= 0 {
		return now
	}
	if s := b.callStarts[want%buckets]; s.epoch == want {
		return now - min(s.n, now)
	}
	var later, earlier *bucket
	for i := range b.callStarts {
		s := &b.callStarts[i]
		switch {
		case s.epoch > want && s.epoch <= e:
			if later == nil || s.epoch < later.epoch {
				later = s
			}
		case s.epoch >= 0 && s.epoch < want:
			if earlier == nil || s.epoch > earlier.epoch {
				earlier = s
			}
		}
	}
	switch {
	case later != nil:
		return now - min(later.n, now)
	case earlier != nil:
		return now - min(earlier.n, now)
	}
	return now
}

// unlockAndDeliver releases the lock and runs OnStateChange for queued transitions, in order. Only
// one goroutine delivers at a time; others leave their transitions to it.
func (b *Breaker) unlockAndDeliver() {
	if len(b.pending) == 0 || b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	for len(b.pending) > 0 {
		batch := b.pending
		b.pending = nil
		b.mu.Unlock()
		b.deliver(batch)
		b.mu.Lock()
	}
	b.delivering = false
	b.mu.Unlock()
}

// deliver runs the hook; if it panics, the delivering flag is cleared so later transitions still
// reach the hook, and the panic goes on to the caller.
func (b *Breaker) deliver(batch []Transition) {
	done := false
	defer func() {
		if !done {
			b.mu.Lock()
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	for _, tr := range batch {
		b.onChange(tr)
	}
	done = true
}
