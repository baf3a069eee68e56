package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/shape"
)

// Load shaping on the zone (rate=, throttle=adaptive, concurrency=adaptive,
// retry_budget=; the policies themselves are in runtime/shape). A call meets
// them in this order, after the breaker admitted it and before the bulkhead:
//
//	breaker → rate → throttle → concurrency → bulkhead → attempt (timeout) → retry (budget) → fallback
//
// Why the breaker first, not the rate: a call the
// open breaker refuses never reaches the dependency, so it must not spend a
// rate token, count as a request the throttle weighs, or hold a concurrency
// slot; the breaker's refusal is also the cheapest check. A call the rate
// refuses does not count as a throttle request, and one the throttle sheds
// takes no concurrency slot. Each applies to every attempt: a retry is one
// more call to the dependency.

// Errors of the load-shaping policies (the same values as runtime/shape's).
var (
	// ErrRateLimited: rate= had no token and rate_wait= did not allow
	// waiting for one (details: *RateLimitedError, with RetryAfter).
	ErrRateLimited = shape.ErrRateLimited
	// ErrThrottled: throttle=adaptive shed the call before sending it.
	ErrThrottled = shape.ErrThrottled
	// ErrConcurrencyLimited: concurrency=adaptive was at its limit and the
	// short queue full or its wait over (details: *ConcurrencyLimitedError).
	ErrConcurrencyLimited = shape.ErrConcurrencyLimited
)

// RateLimitedError and ConcurrencyLimitedError carry the details of those refusals.
type (
	RateLimitedError        = shape.RateLimitedError
	ConcurrencyLimitedError = shape.ConcurrencyLimitedError
)

// ThrottledError is the throttle's refusal; one value per zone, built once.
type ThrottledError struct {
	Service, Method string
}

func (e *ThrottledError) Error() string {
	return e.Service + "." + e.Method + ": adaptive throttle shed the call (the dependency refuses too many)"
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// zoneShape holds a zone's load-shaping policies; nil fields are off.
type zoneShape struct {
	rate        *shape.Limiter
	throttle    *shape.Throttle
	conc        *shape.Concurrency
	budget      *shape.RetryBudget
	hedge       *zoneHedge // hedge= (zone_hedge.go)
	throttleErr *ThrottledError
	countsCalls bool // the budget counts attempts itself: the zone has no per-call counters
	// quick: no concurrency limit, so Enter may admit inline (admit)
	// without shapeEnter; countThrottle and countBudget are the policies
	// that count each call themselves (no per-call counters on the zone).
	quick         bool
	countThrottle *shape.Throttle
	countBudget   *shape.RetryBudget
	counts        bool // either is set
}

// admit is the quiet success path of a quick zoneShape, inlined into
// Enter: the throttle is not shedding (one load, no side effect), then a
// token from the rate's pool (one compare-and-swap), the only step that
// takes anything, last; Enter then counts (count) for the policies that
// keep their own counts. false: take shapeEnter's path; nothing was taken.
func (s *zoneShape) admit() bool {
	return s.quick && (s.throttle == nil || !s.throttle.Shedding()) && (s.rate == nil || s.rate.Allow())
}

// count is what admit counts for the policies that keep their own counts.
func (s *zoneShape) count() {
	if s.countThrottle != nil {
		s.countThrottle.Sent()
	}
	if s.countBudget != nil {
		s.countBudget.Call()
	}
}

// shapeRegistry keeps the limiters shared by name (a fleet limiter gives
// its unspent tokens back on Close) and the concurrency limits, for metrics.
type shapeRegistry struct {
	mu       sync.Mutex
	limiters map[string]*shape.Limiter
	budgets  []*shape.RetryBudget // fleet-wide: their syncs stop on Close
}

// DefaultConcurrencyQueueWait is how long a call waits in the adaptive
// concurrency limit's queue before it is refused.
const DefaultConcurrencyQueueWait = shape.DefaultConcurrencyWait

// Values of ZoneSpec.RateScope, Throttle and Concurrency.
const (
	RateScopeFleet = "fleet"
	Adaptive       = "adaptive"
)

// newZoneShape builds the policies spec asks for, or nil. A value the
// generator would have refused (a hand-written ZoneSpec) panics with what
// and where: Zone cannot return an error, and a rate limit silently off is
// worse than a constructor that stops.
//
// With per-call counting on (Config.CallStats), the budget and the throttle
// read the zone's counters instead of counting each call again, so that
// their success path writes nothing.
func (rt *Runtime) newZoneShape(spec ZoneSpec, stats *callStats) *zoneShape {
	if spec.Rate == "" && spec.Throttle == "" && spec.Concurrency == "" && spec.RetryBudget == "" && spec.Hedge == 0 {
		return nil
	}
	fail := func(err error) {
		panic(fmt.Sprintf("baldur/runtime: zone %s.%s: %v", spec.Service, spec.Method, err))
	}
	s := &zoneShape{}
	var attempts func() int64
	if stats != nil {
		attempts = stats.attempts
	}
	if spec.Rate != "" {
		l, err := rt.limiter(spec)
		if err != nil {
			fail(err)
		}
		s.rate = l
	}
	switch spec.Throttle {
	case "":
	case Adaptive:
		t, err := shape.NewThrottle(shape.ThrottleSettings{Clock: rt.clock, Sent: attempts})
		if err != nil {
			fail(err)
		}
		s.throttle, s.throttleErr = t, &ThrottledError{Service: spec.Service, Method: spec.Method}
	default:
		fail(fmt.Errorf("throttle %q: want %s", spec.Throttle, Adaptive))
	}
	switch spec.Concurrency {
	case "":
	case Adaptive:
		c, err := shape.NewConcurrency(shape.ConcurrencySettings{Clock: rt.clock})
		if err != nil {
			fail(err)
		}
		c.Emergency(rt.EmergencyLevel() >= emergency.High) // built while the level halves it
		s.conc = c
	default:
		fail(fmt.Errorf("concurrency %q: want %s", spec.Concurrency, Adaptive))
	}
	if spec.RetryBudget != "" {
		ratio, err := shape.ParsePercent(spec.RetryBudget)
		if err != nil {
			fail(fmt.Errorf("retry_budget %w", err))
		}
		settings := shape.BudgetSettings{Ratio: ratio, Clock: rt.clock, Attempts: attempts, Level: &rt.emg.level}
		switch spec.RetryBudgetScope {
		case "", "local":
		case RateScopeFleet:
			settings.Fleet = &shape.BudgetFleetSettings{Store: rt.store, Node: rt.node,
				Key: "baldur:budget:{" + spec.Service + "." + spec.Method + "}"}
		default:
			fail(fmt.Errorf("retry_budget_scope %q: want fleet", spec.RetryBudgetScope))
		}
		b, err := shape.NewRetryBudget(settings)
		if err != nil {
			fail(err)
		}
		if b.Fleet() {
			rt.shaping.mu.Lock()
			rt.shaping.budgets = append(rt.shaping.budgets, b)
			rt.shaping.mu.Unlock()
		}
		s.budget, s.countsCalls = b, attempts == nil
	}
	if spec.Hedge > 0 {
		h, err := newZoneHedge(spec)
		if err != nil {
			fail(err)
		}
		s.hedge = h
	}
	s.quick = s.conc == nil
	if s.throttle != nil && attempts == nil {
		s.countThrottle = s.throttle
	}
	if s.countsCalls {
		s.countBudget = s.budget
	}
	s.counts = s.countThrottle != nil || s.countBudget != nil
	return s
}

// limiter returns the rate limiter of spec, shared by the zones naming the
// same bucket (RateBucket; the service when the interface sets rate=).
func (rt *Runtime) limiter(spec ZoneSpec) (*shape.Limiter, error) {
	r, err := shape.ParseRate(spec.Rate)
	if err != nil {
		return nil, err
	}
	name := (&Zone{spec: spec}).rateBucket()
	rt.shaping.mu.Lock()
	defer rt.shaping.mu.Unlock()
	if l, ok := rt.shaping.limiters[name]; ok {
		return l, nil
	}
	settings := shape.LimiterSettings{Rate: r, Burst: int64(spec.Burst), Wait: spec.RateWait, Clock: rt.clock, Level: &rt.emg.level}
	switch spec.RateScope {
	case "", "local":
	case RateScopeFleet:
		settings.Fleet = &shape.FleetSettings{Store: rt.store, Key: "baldur:rate:{" + name + "}"}
	default:
		return nil, fmt.Errorf("rate_scope %q: want fleet", spec.RateScope)
	}
	l, err := shape.NewLimiter(settings)
	if err != nil {
		return nil, err
	}
	if rt.shaping.limiters == nil {
		rt.shaping.limiters = map[string]*shape.Limiter{}
	}
	rt.shaping.limiters[name] = l
	return l, nil
}

// shapeEmergency halves the adaptive concurrency limits from HIGH, and gives
// their ceiling back below it. The rate limits and retry budgets read the
// level themselves on their slow paths.
func (rt *Runtime) shapeEmergency(l emergency.Level) {
	rt.mu.Lock()
	var cs []*shape.Concurrency
	for _, z := range rt.zones {
		if z.shape != nil && z.shape.conc != nil {
			cs = append(cs, z.shape.conc)
		}
	}
	rt.mu.Unlock()
	for _, c := range cs {
		c.Emergency(l >= emergency.High)
	}
}

// closeLimiters gives the fleet limiters' unspent tokens back, before the
// store closes.
func (rt *Runtime) closeLimiters() error {
	rt.shaping.mu.Lock()
	ls := make([]*shape.Limiter, 0, len(rt.shaping.limiters))
	for _, l := range rt.shaping.limiters {
		ls = append(ls, l)
	}
	bs := rt.shaping.budgets
	rt.shaping.budgets = nil
	rt.shaping.mu.Unlock()
	for _, b := range bs {
		b.Close()
	}
	var errs []error
	for _, l := range ls { // outside the lock: a fleet limiter writes to the store
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// shapeEnter runs rate → throttle → concurrency for one attempt that the
// breaker admitted with ticket t (when f has permitBreaker). On a refusal it
// gives the ticket back and returns the error for the caller; in dry-run it
// records the would-have decision and lets the attempt through (without a
// concurrency slot). It returns the concurrency slot to give back in Done,
// with permitConc added to f.
func (z *Zone) shapeEnter(ctx context.Context, s *zoneShape, t breaker.Ticket, f uint8) (shape.Admit, uint8, error) {
	var a shape.Admit
	if b := s.budget; b != nil && s.countsCalls {
		b.Call()
	}
	err := s.rateThrottle(ctx, z)
	if err == nil && s.conc != nil {
		var ok bool
		if a, ok = s.conc.Acquire(); ok {
			return a, f | permitConc, nil
		}
		if a, err = s.conc.Wait(ctx); err == nil {
			return a, f | permitConc, nil
		}
		if errors.Is(err, ErrConcurrencyLimited) && z.rt.wouldHave(z, "concurrency", "reject", err.Error()) {
			err = nil
		}
	}
	if err != nil {
		if f&permitBreaker != 0 {
			z.breaker.Ignore(t)
		}
		z.logRefusal(ctx, err)
	}
	return a, f, err
}

// logRefusal is the DEBUG event of a load-shaping refusal: rate.call_refused,
// throttle.call_shed or concurrency.call_refused.
func (z *Zone) logRefusal(ctx context.Context, err error) {
	if !z.rt.log.Enabled(ctx, levelDebug) {
		return
	}
	event := "concurrency.call_refused"
	switch {
	case errors.Is(err, ErrRateLimited):
		event = "rate.call_refused"
	case errors.Is(err, ErrThrottled):
		event = "throttle.call_shed"
	case !errors.Is(err, ErrConcurrencyLimited):
		return // the caller's context ended while waiting
	}
	z.rt.log.LogAttrs(ctx, levelDebug, event, slog.String("service", z.spec.Service),
		slog.String("method", z.spec.Method), slog.String("error", err.Error()))
}

// shapeAttrs describes the zone's load shaping for protect.composer_built:
// shaping names the policies in the order a call meets them, then each
// one's settings.
func (z *Zone) shapeAttrs() []slog.Attr {
	s := z.shape
	if s == nil {
		return nil
	}
	var names []string
	for _, p := range [...]struct {
		on   bool
		name string
	}{{s.rate != nil, "rate"}, {s.throttle != nil, "throttle"}, {s.conc != nil, "concurrency"}, {s.budget != nil, "retry_budget"}} {
		if p.on {
			names = append(names, p.name)
		}
	}
	attrs := []slog.Attr{slog.Any("shaping", names)}
	if l := s.rate; l != nil {
		attrs = append(attrs, slog.String("rate", l.Limit()), slog.Int64("burst", l.Burst()),
			slog.String("rate_bucket", z.rateBucket()), slog.Bool("rate_fleet", z.spec.RateScope == RateScopeFleet))
	}
	if s.budget != nil {
		attrs = append(attrs, slog.String("retry_budget", s.budget.String()), slog.Bool("retry_budget_fleet", s.budget.Fleet()))
	}
	if s.throttle != nil {
		attrs = append(attrs, slog.Float64("throttle_k", s.throttle.K()))
	}
	if s.conc != nil {
		attrs = append(attrs, slog.Int64("concurrency_limit", s.conc.Limit()))
	}
	if s.hedge != nil {
		attrs = append(attrs, slog.Int("hedge", s.hedge.extra), slog.String("hedge_delay", s.hedge.delay.String()))
	}
	return attrs
}

// rateThrottle runs the rate limit and the throttle.
func (s *zoneShape) rateThrottle(ctx context.Context, z *Zone) error {
	if l := s.rate; l != nil && !l.Allow() {
		if err := l.Take(ctx); err != nil {
			if !errors.Is(err, ErrRateLimited) || !z.rt.wouldHave(z, "rate", "reject", err.Error()) {
				return err
			}
		}
	}
	if t := s.throttle; t != nil && !t.Allow() {
		if !z.rt.wouldHave(z, "throttle", "reject", s.throttleErr.Error()) {
			return s.throttleErr
		}
	}
	return nil
}

// shapeDone ends an attempt for the throttle and the concurrency limit.
// failed is the attempt's classification as a failure of the dependency.
func (s *zoneShape) shapeDone(p Permit, failed bool) {
	if p.flags&permitConc != 0 {
		s.conc.Release(p.admit, failed)
	}
	if failed && s.throttle != nil {
		s.throttle.Failure()
	}
}

// budgetRefuses reports whether the retry budget refuses the retry of
// attempt; counted, logged at DEBUG, and in dry-run a would-have decision.
func (z *Zone) budgetRefuses(ctx context.Context, attempt int, err error) bool {
	s := z.shape
	if s == nil || s.budget == nil || s.budget.TryRetry() {
		return false
	}
	reason := "retry budget " + s.budget.String() + " spent; attempt " + strconv.Itoa(attempt) + " failed: " + err.Error()
	if !z.rt.wouldHave(z, "retry_budget", "reject", reason) {
		z.rt.log.LogAttrs(ctx, levelDebug, "retry.attempt_refused",
			slog.String("service", z.spec.Service), slog.String("method", z.spec.Method),
			slog.Int("attempt", attempt), slog.String("budget", s.budget.String()))
	}
	return true
}

// attempts is the number of attempts that ran to an outcome (successes,
// failures, ignored errors): a running count the budget and the throttle
// read on their slow paths.
func (s *callStats) attempts() int64 {
	n := s.overflow.successes.Load() + s.failures.Load() + s.ignored.Load()
	for i := range s.cells {
		n += s.cells[i].successes.Load()
	}
	return int64(n)
}
