package shape

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// BudgetSettings configures a RetryBudget. Zero values mean the defaults.
type BudgetSettings struct {
	// Ratio is the share of calls that may be retried (retry_budget=20% is
	// 0.2). Required, above 0.
	Ratio float64
	// MinPerSecond is the floor of retries a second allowed whatever the
	// traffic, so that a quiet service can still retry; 0 means 10.
	MinPerSecond float64
	// Window is the span the ratio is measured over; 0 means 10s.
	Window time.Duration
	// Clock is the time source; nil means clock.Real().
	Clock clock.Clock
	// Attempts, when set, is a running count of attempts kept elsewhere
	// (the runtime's per-call counters); the budget reads it on each retry
	// and Call need not be called. nil: Call counts.
	Attempts func() int64
	// Level, when set, is the emergency level in force (the runtime's one
	// atomic, an emergency.Level), read on each retry: from ELEVATED the
	// ratio and the floor are halved.
	Level *atomic.Int32
	// Fleet, when set, shares the budget with every process on the store
	// (retry_budget_scope=fleet); Close stops its syncs.
	Fleet *BudgetFleetSettings
}

// Budget defaults, as Finagle's RetryBudget has them.
const (
	DefaultBudgetMinPerSecond = 10
	DefaultBudgetWindow       = 10 * time.Second
)

// RetryBudget caps retries (and hedges) at a share of the calls: over the
// trailing window, retries may not exceed Ratio × calls + MinPerSecond ×
// window, calls being first attempts. A retry beyond it is not attempted; the caller gets the last error.
// Without a budget, retry=N multiplies the load on a dependency that fails
// every call by N (see the README).
//
// Calls are counted on the hot path with one atomic add and no clock read
// (Call); the clock is read on the slow path of each retry (TryRetry).
type RetryBudget struct {
	w         *window
	ratio     float64
	reserve   float64 // MinPerSecond × window
	spec      string
	level     *atomic.Int32
	fleet     *budgetFleet // nil unless retry_budget_scope=fleet
	exhausted atomic.Uint64
	granted   atomic.Uint64
}

// ParsePercent reads retry_budget=: a percentage such as 20% (0 < p ≤ 1000).
func ParsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, fmt.Errorf("%q: want a percentage such as 20%%", s)
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || p <= 0 || p > 1000 {
		return 0, fmt.Errorf("%q: want a percentage above 0%% and at most 1000%%", s)
	}
	return p / 100, nil
}

// NewRetryBudget checks s and builds its budget.
func NewRetryBudget(s BudgetSettings) (*RetryBudget, error) {
	if s.Ratio <= 0 || s.Ratio > 10 {
		return nil, fmt.Errorf("retry budget: ratio %v is not above 0 and at most 10", s.Ratio)
	}
	if s.MinPerSecond < 0 || s.Window < 0 {
		return nil, fmt.Errorf("retry budget: negative minimum or window")
	}
	if s.MinPerSecond == 0 {
		s.MinPerSecond = DefaultBudgetMinPerSecond
	}
	if s.Window == 0 {
		s.Window = DefaultBudgetWindow
	}
	if s.Window < 10*time.Millisecond {
		return nil, fmt.Errorf("retry budget: window %s is under 10ms", s.Window)
	}
	b := &RetryBudget{
		w: newWindow(s.Clock, s.Window, 10, s.Attempts), ratio: s.Ratio, reserve: s.MinPerSecond * s.Window.Seconds(),
		spec: strconv.FormatFloat(s.Ratio*100, 'f', -1, 64) + "%", level: s.Level,
	}
	if s.Fleet != nil {
		f, err := newBudgetFleet(b, *s.Fleet)
		if err != nil {
			return nil, err
		}
		b.fleet = f
		f.start()
	}
	return b, nil
}

// Call counts one attempt, a retry's too: the budget is a share of the
// first attempts, which are the attempts less the retries it granted.
func (b *RetryBudget) Call() { b.w.calls.Add(1) }

// TryRetry spends one retry (or hedge) from the budget and reports whether
// there was one. A false is counted as exhausted.
func (b *RetryBudget) TryRetry() bool {
	b.w.mu.Lock()
	now := b.w.now()
	b.w.fold(now)
	var ok, shared bool
	if f := b.fleet; f != nil {
		ok, shared = f.take(now)
	}
	if !shared {
		c := b.w.sumLocked()
		first := max(0, c.calls-c.a)
		ratio, reserve := b.limits()
		ok = float64(c.a+1) <= ratio*float64(first)+reserve
	}
	if ok {
		b.w.slots[b.w.head].a++
	}
	b.w.mu.Unlock()
	if !ok {
		b.exhausted.Add(1)
		return false
	}
	b.granted.Add(1)
	return true
}

// limits are the ratio and the floor in force: halved from the emergency
// level ELEVATED.
func (b *RetryBudget) limits() (ratio, reserve float64) {
	if b.Shrunk() {
		return b.ratio / 2, b.reserve / 2
	}
	return b.ratio, b.reserve
}

// Use is the budget's state over the trailing window: the retries it
// granted and how many it allows in all (the ratio of the first attempts
// plus the floor, as in force now). A fleet budget answers the fleet's
// figures as of the last sync, and this process's own while it keeps the
// budget alone.
func (b *RetryBudget) Use() (retries int64, allowed float64) {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	now := b.w.now()
	b.w.fold(now)
	if f := b.fleet; f != nil && now < f.liveUntil {
		return f.retries, f.allowed
	}
	c := b.w.sumLocked()
	ratio, reserve := b.limits()
	return c.a, ratio*float64(max(0, c.calls-c.a)) + reserve
}

// Shrunk reports whether the emergency level halves the budget now.
func (b *RetryBudget) Shrunk() bool {
	return b.level != nil && emergency.Level(b.level.Load()) >= emergency.Elevated
}

// BudgetStats is what a budget counted since it was built.
type BudgetStats struct {
	Granted   uint64 // retries and hedges the budget allowed
	Exhausted uint64 // retries and hedges refused: the caller got the last error
	Syncs     uint64 // fleet: syncs with the shared record that succeeded
	SyncErrs  uint64 // fleet: syncs that failed (the process then keeps the budget alone)
	Processes int64  // fleet: processes in the shared record at the last sync
}

// Stats returns the budget's counters.
func (b *RetryBudget) Stats() BudgetStats {
	s := BudgetStats{Granted: b.granted.Load(), Exhausted: b.exhausted.Load()}
	if f := b.fleet; f != nil {
		s.Syncs, s.SyncErrs, s.Processes = f.syncsOK.Load(), f.errs.Load(), f.fleetSeen.Load()
	}
	return s
}

// Fleet reports whether the budget is shared with the fleet (retry_budget_scope=fleet).
func (b *RetryBudget) Fleet() bool { return b.fleet != nil }

// Close stops a fleet budget's syncs (the budget then keeps working alone).
// A local budget has nothing to stop.
func (b *RetryBudget) Close() {
	if b.fleet != nil {
		b.fleet.close()
	}
}

// window is the span the budget is measured over.
func (b *RetryBudget) window() time.Duration {
	return time.Duration(b.w.slotSpan * int64(len(b.w.slots)))
}

// String is the budget as written ("20%").
func (b *RetryBudget) String() string { return b.spec }
