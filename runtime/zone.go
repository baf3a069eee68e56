package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/chaos"
	"github.com/baldur-go/baldur/runtime/shape"
)

// ZoneSpec describes one protected method. The generated constructor writes
// one literal per method from the merged directive; the runtime turns it into a
// Zone once, so that no call ever looks anything up by name.
//
// ZoneSpec is part of the generated-code surface: exported for the code
// baldurgen writes, not an API to build zones by hand (its fields follow the
// directive, and change with it).
type ZoneSpec struct {
	Service string // name=: breaker, metrics label, DLQ and idempotency domain
	Method  string // the Go method name
	Breaker bool   // breaker=on
	// BreakerThreshold (breaker_threshold=) and BreakerRecovery
	// (breaker_recovery=) tune the service's breaker; 0 takes Config.Breaker
	// (BALDUR_CB_*). Every zone of a service must agree: the breaker is the
	// service's.
	BreakerThreshold int
	BreakerRecovery  time.Duration
	// Attempts is the total number of attempts (retry=); 0 and 1 mean no retry.
	Attempts int
	Backoff  backoff.Policy // backoff=; the zero value means backoff.Default
	Timeout  time.Duration  // timeout= per attempt; 0 means none
	// Bulkhead is the compartment's size (bulkhead=); 0 means no bulkhead.
	Bulkhead     int
	BulkheadWait time.Duration // bulkhead_wait=; 0 fails fast
	// Compartment names the bulkhead. With Bulkhead > 0: methods inheriting
	// the interface's bulkhead= share the compartment named after the
	// service; a method with its own bulkhead= gets "service.Method". With
	// Bulkhead 0 (compartment=NAME): the registered compartment NAME
	// (Config.Compartments), shared by every method that names it, in any
	// interface; an unregistered name is an error when the zone is built.
	Compartment string
	Fallback    string // fallback= function name, for -explain and logs
	// FallbackOn lists the failures the fallback answers (fallback_on=), comma-
	// separated: open, bulkhead, timeout, error (see FailureKind); the others
	// pass through to the caller. "": every failure. An unknown name is an
	// error when the zone is built.
	FallbackOn string
	// Deadline bounds the whole call, attempts and backoff together
	// (deadline=; see WithDeadline); 0 means none.
	Deadline time.Duration
	// DefaultTimeout marks a method that may take Config.DefaultTimeout
	// (BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS) as its timeout: it has a first
	// context.Context, no timeout= of its own (not even timeout=off) and no
	// result that outlives the call. Its wrapper calls WithTimeoutFor and Timed.
	DefaultTimeout bool
	Idempotency    string // idempotency= key path
	Operation      string // operation= label; defaults to Method
	// IdemTTL is the execution window (idem_ttl=): how long a running claim
	// is honoured before a crashed attempt becomes retryable; 0 means 30m.
	IdemTTL time.Duration
	// IdemFailOpen (idempotency_fail_open=on) runs the call unguarded when the
	// idempotency store is unreachable instead of failing it closed.
	IdemFailOpen bool
	// IdemReplay (idempotency_replay=on) answers a duplicate of a completed
	// call with the results its first execution stored.
	IdemReplay bool
	// IdemDegraded (idempotency_degraded=refuse|serve) is what the method
	// does while the store is DEGRADED; "" takes Config.IdempotencyDegraded.
	IdemDegraded string
	DLQ          bool // dlq=on
	// Criticality (criticality=high|normal|low) is what emergency mode
	// sheds last: low fails fast from HIGH, normal (the default, "") from
	// CRITICAL, high never.
	Criticality string

	// Result cache (zone_cache.go; the README's "Load shaping").
	Cache        time.Duration // cache=: how long a result answers calls of its key; 0 means no cache
	CacheKey     string        // cache_key= path, for -explain and logs; "" keys by the parameters
	StaleIfError time.Duration // stale_if_error=: a failed call gets a result up to Cache+this old; 0 means never

	// Load shaping (runtime/shape; the README's "Load shaping").
	Rate      string        // rate=N/s|m|h; "" means no rate limit
	Burst     int           // burst=; 0 means one second's worth at the rate, at least 1
	RateWait  time.Duration // rate_wait=; 0 fails fast with *RateLimitedError
	RateScope string        // rate_scope=fleet shares the limit with every process on the store; "" is this process
	// RateBucket names the limiter zones share: "" is the service's (the
	// interface's rate=); a method with its own rate= gets "service.Method".
	RateBucket  string
	RetryBudget string // retry_budget=P%; "" means retries are not budgeted
	// RetryBudgetScope: retry_budget_scope=fleet shares the budget with every
	// process on the store; "" is this process.
	RetryBudgetScope string
	Throttle         string // throttle=adaptive; "" means off
	Concurrency      string // concurrency=adaptive; "" means off

	// Hedging (zone_hedge.go): Hedge extra attempts (hedge=; 0 means off),
	// each HedgeDelay after the previous (hedge_delay=: a duration or pNN;
	// "" means p95).
	Hedge      int
	HedgeDelay string
}

// Policies lists the composed policies in the order a call meets them.
func (s ZoneSpec) Policies() []string {
	var p []string
	if s.Cache > 0 {
		p = append(p, "cache")
	}
	if s.Idempotency != "" {
		p = append(p, "idempotency")
	}
	if s.Breaker {
		p = append(p, "breaker")
	}
	if s.Rate != "" {
		p = append(p, "rate")
	}
	if s.Throttle != "" {
		p = append(p, "throttle")
	}
	if s.Concurrency != "" {
		p = append(p, "concurrency")
	}
	if s.Bulkhead > 0 || s.Compartment != "" {
		p = append(p, "bulkhead")
	}
	if s.Attempts > 1 {
		p = append(p, "retry")
	}
	if s.RetryBudget != "" {
		p = append(p, "retry_budget")
	}
	if s.Hedge > 0 {
		p = append(p, "hedge")
	}
	if s.Timeout > 0 {
		p = append(p, "timeout")
	}
	if s.Deadline > 0 {
		p = append(p, "deadline")
	}
	if s.Fallback != "" {
		p = append(p, "fallback")
	}
	if s.DLQ {
		p = append(p, "dlq")
	}
	return p
}

// Zone is part of the generated-code surface: it and its methods (Spec,
// Bypass, Timeout, Enter, WithTimeoutFor, WithTimeout, Inject, Timed, Done,
// Fallback, Park, RegisterReplayer and the idempotency methods), with the
// functions HedgeFor and Hedge, are exported for the code baldurgen writes,
// and change with it; call the generated constructor instead.
//
// Zone is the runtime side of one protected method. Generated code calls it in
// two steps around the real method: Enter (breaker, bulkhead) → call → Done
// (record the outcome, decide and wait for a retry). Its methods never
// allocate on the success path.
type Zone struct {
	rt       *Runtime
	spec     ZoneSpec
	breaker  *breaker.Breaker // nil when breaker=off
	bulkhead *Bulkhead        // nil without bulkhead= or compartment=
	// pol is the settings an override may change (retry, backoff, timeout,
	// bulkhead_wait) and the canaries' variants, swapped whole when the
	// overrides change (policy_zone.go): one atomic load reads them.
	pol        atomic.Pointer[zonePolicy]
	polGen     uint8         // the last zonePolicy.gen given, under rt.mu
	fallbackOn FailureKind   // the failures the fallback answers; 0: every one
	openErr    *OpenError    // built once: a rejection allocates nothing
	bounded    bool          // the generated wrapper calls WithTimeoutFor (timeout= or DefaultTimeout)
	stats      *callStats    // nil unless Config.CallStats
	idem       *idemCounters // nil without idempotency=
	shedLevel  int32         // the emergency level from which calls fail fast (criticality=)
	// shedAt is the level from which Enter leaves its fast path: shedLevel,
	// or below every level while a canary is staged on the zone, so that a
	// canary costs the other zones' calls nothing (setPolicy).
	shedAt atomic.Int32
	shape  *zoneShape  // nil without rate=, throttle=, concurrency= or retry_budget=
	cache  *cacheStats // nil without cache=
	caches map[any]any // (*Cache[K, V])(nil) → the zone's *Cache[K, V] (NewCache), under rt.mu
	traced bool        // Config.SpanEvents
	chaos  *chaos.Slot // the service's fault-injection experiment (Inject); never nil

	deadlines []deadlineList // armed attempts (timeout=), one list per P, see deadline.go
}

// Permit is what Enter hands out and Done takes back: the breaker ticket and
// whether a bulkhead slot is held. It is a small value; keep it on the stack.
type Permit struct {
	ticket breaker.Ticket
	flags  uint8
	cohort uint8  // the per-call canaries the call is in, a bit each (zonePolicy.canaries)
	gen    uint8  // the zonePolicy.gen the cohort was picked under
	stripe uint16 // the bulkhead stripe the slot came from
	start  int64  // sampled attempts: nanoseconds since the runtime's epoch; 0 otherwise
	admit  shape.Admit
}

const (
	permitBreaker  uint8 = 1 << iota
	permitBulkhead       // a bulkhead slot is held
	permitQuiet          // the breaker need not hear of a success (Ticket.Quiet)
	permitCount          // calls are counted, and this attempt's duration is not sampled
	permitConc           // an adaptive concurrency slot is held (concurrency=adaptive)
	permitTraced         // Done adds the attempt's span event (Config.SpanEvents)
	permitCohort         // a canary is staged: Done counts the attempt in its cohorts (Permit.cohort)

	// permitQuietOnly is the common case Done answers inline. A permit with
	// permitQuiet is never sampled and, when calls are counted, has permitCount.
	permitQuietOnly = permitBreaker | permitQuiet
)

// Spec returns the zone's description.
func (z *Zone) Spec() ZoneSpec { return z.spec }

// Bypass reports whether the kill switch is off: the wrapper must then call the
// inner method directly and run no policy. One atomic load.
func (z *Zone) Bypass() bool { return z.rt.mode.Load()&modeDisabled != 0 }

// Timeout is the per-attempt bound (timeout=), for wrappers generated before
// WithTimeout. In dry-run it is no bound: the attempt runs under the caller's
// context alone (WithTimeout does the same and Timed records the would-have).
func (z *Zone) Timeout() time.Duration {
	if z.rt.mode.Load()&modeDryRun != 0 {
		return noBound
	}
	return z.pol.Load().timeout
}

// Enter asks the breaker and the bulkhead for a permit. A refusal returns
// *OpenError (errors.Is ErrOpen) or *BulkheadFullError (errors.Is ErrBulkheadFull);
// in dry-run the refusal is recorded as a would-have decision and the call goes on.
// It is EnterNext for a call's first attempt.
func (z *Zone) Enter(ctx context.Context) (Permit, error) { return z.EnterNext(ctx, Permit{}) }

// EnterNext is Enter for one attempt of a call whose attempt before had
// the permit prev (zero for the first attempt): a retry stays in the canary
// cohorts its call was drawn into, so that a canary of retry= changes
// whole calls. The generated wrapper calls it; prev costs nothing unless
// a canary is staged on the zone.
func (z *Zone) EnterNext(ctx context.Context, prev Permit) (Permit, error) {
	// Emergency mode and a staged canary: two atomic loads (the level in
	// force, the zone's threshold) and a compare.
	if z.rt.emg.level.Load() >= z.shedAt.Load() {
		return z.enterSlow(ctx, prev)
	}
	if z.traced {
		return z.enterTraced(ctx)
	}
	// Fast path: the breaker admits or rejects the call, load shaping (if
	// any) admits it, and the bulkhead, if any, has a permit on the first look.
	if b := z.breaker; b != nil {
		t, ok := b.Allow()
		if ok {
			f := permitBreaker
			if t.Quiet() {
				f = permitQuietOnly
			}
			var a shape.Admit
			if sh := z.shape; sh != nil {
				if !sh.admit() {
					var err error
					if a, f, err = z.shapeEnter(ctx, sh, t, f); err != nil {
						return Permit{}, err
					}
				} else if sh.counts {
					sh.count()
				}
			}
			var stripe uint16
			if bh := z.bulkhead; bh != nil {
				if stripe, ok = bh.tryAcquire(); !ok {
					return z.bulkheadFull(ctx, Permit{ticket: t, flags: permitBreaker | f&permitConc, admit: a})
				}
				f |= permitBulkhead
			}
			if s := z.stats; s != nil {
				if s.sample.Load() != 0 { // this attempt's duration is sampled: Done's slow path
					return Permit{ticket: t, flags: f &^ permitQuiet, stripe: stripe, start: z.rt.sampleStart(s), admit: a}, nil
				}
				f |= permitCount // Done counts the success
			}
			return Permit{ticket: t, flags: f, stripe: stripe, admit: a}, nil
		}
		if z.rt.mode.Load()&modeDryRun == 0 {
			if z.stats != nil {
				z.stats.rejected()
			}
			return Permit{}, z.openErr // rejected: no second look, no allocation
		}
	}
	return z.enter(ctx, Permit{})
}

// enter is Enter's general path; p is what the permit starts with (a
// canary's cohort).
func (z *Zone) enter(ctx context.Context, p Permit) (Permit, error) {
	if b := z.breaker; b != nil {
		t, ok := b.Allow()
		if !ok {
			if !z.rt.DryRun() {
				if z.stats != nil {
					z.stats.rejected()
				}
				return p, z.openErr
			}
			z.rt.wouldHave(z, "breaker", "reject", "circuit breaker is "+b.State().String())
		} else {
			p.ticket = t
			p.flags |= permitBreaker
			if z.stats == nil && t.Quiet() {
				p.flags |= permitQuietOnly
			}
		}
	}
	if s := z.shape; s != nil {
		var err error
		if p.admit, p.flags, err = z.shapeEnter(ctx, s, p.ticket, p.flags); err != nil {
			return Permit{}, err
		}
	}
	if bh := z.bulkhead; bh != nil {
		stripe, ok := bh.tryAcquire()
		if !ok {
			return z.bulkheadFull(ctx, p)
		}
		p.flags |= permitBulkhead
		p.stripe = stripe
	}
	if z.stats != nil {
		p.start = z.rt.sampleStart(z.stats)
	}
	return p, nil
}

// bulkheadFull is the slow path of a full compartment: wait for a slot if
// bulkhead_wait= allows, and in dry-run let the call through without one.
// p holds the breaker's ticket, given back if the call is refused.
func (z *Zone) bulkheadFull(ctx context.Context, p Permit) (Permit, error) {
	if z.stats != nil {
		p.start = z.rt.sampleStart(z.stats)
	}
	stripe, err := z.bulkhead.acquireFor(ctx, z.pol.Load().settings(p).bulkheadWait)
	if err == nil {
		p.flags |= permitBulkhead
		p.stripe = stripe
		return p, nil
	}
	if errors.Is(err, ErrBulkheadFull) && z.rt.wouldHave(z, "bulkhead", "reject", err.Error()) {
		return p, nil
	}
	if p.flags&permitBreaker != 0 {
		z.breaker.Ignore(p.ticket)
	}
	if p.flags&permitConc != 0 {
		z.shape.conc.Release(p.admit, false)
	}
	if z.stats != nil && errors.Is(err, ErrBulkheadFull) {
		z.stats.rejectedBulkhead.Add(1)
	}
	return Permit{}, err
}

// WithTimeoutFor starts an attempt bounded by the timeout= of the variant
// permit's attempt runs with (a staged canary's for a call of its cohort,
// else the baseline's) and returns the context to hand to the inner method;
// Timed must end it. The context keeps the whole context.Context contract
// and costs no allocation unless the method asks for Done (see deadline.go).
//
// A method without a bound (one marked DefaultTimeout while no default is
// configured, or a variant with timeout=off) gets ctx itself, at the cost of
// one inlined comparison.
func (z *Zone) WithTimeoutFor(ctx context.Context, permit Permit) context.Context {
	t := z.pol.Load().settings(permit).timeout
	if t <= 0 {
		return ctx
	}
	return z.withTimeout(ctx, t)
}

// WithTimeout is WithTimeoutFor for code generated before
// GeneratedCodeVersion4, which does not hand the permit over: its attempts
// take the baseline's timeout= whatever the call's canary cohort.
func (z *Zone) WithTimeout(ctx context.Context) context.Context {
	t := z.pol.Load().timeout
	if t <= 0 {
		return ctx
	}
	return z.withTimeout(ctx, t)
}

func (z *Zone) withTimeout(ctx context.Context, timeout time.Duration) context.Context {
	c := newAttempt()
	c.parent, c.zone = ctx, z
	c.start = z.rt.now()
	c.deadline = noDeadline
	if timeout > 0 {
		if z.rt.mode.Load()&modeDryRun != 0 {
			// Dry-run: no bound from timeout=; Timed records a would-have
			// timeout for an attempt that ran longer, on the runtime's clock.
			c.dryTimeout, c.dryStart = timeout, int64(z.rt.clock.Now().Sub(z.rt.epoch))
			return c
		}
		c.deadline = c.start + int64(timeout)
	}
	return c
}

// Timed ends the attempt started by WithTimeoutFor (its context is cancelled,
// as a cancel func would) and turns an error returned after the attempt's own
// deadline passed (and not the caller's) into a *TimeoutError (errors.Is
// ErrTimeout). Generated code calls it right after the inner call. It also
// accepts a context from context.WithTimeout, which the caller cancels.
func (z *Zone) Timed(ctx, actx context.Context, err error) error {
	if _, ok := actx.(*attemptCtx); !ok && z.pol.Load().timeout <= 0 {
		return err // WithTimeoutFor made no attempt context
	}
	return z.timed(ctx, actx, err)
}

func (z *Zone) timed(ctx, actx context.Context, err error) error {
	timeout := z.pol.Load().timeout
	if c, ok := actx.(*attemptCtx); ok {
		if c.dryTimeout > 0 {
			z.dryTimed(c.dryStart, c.dryTimeout, err)
		}
		if c.deadline != noDeadline {
			timeout = time.Duration(c.deadline - c.start) // the attempt's own, whatever an override says now
		}
		if !c.end(err != nil) || err == nil || ctx.Err() != nil {
			return err
		}
	} else if err == nil || ctx.Err() != nil || actx.Err() != context.DeadlineExceeded {
		return err
	}
	if z.stats != nil {
		z.stats.timeouts.Add(1)
	}
	return &TimeoutError{Service: z.spec.Service, Method: z.spec.Method, Timeout: timeout, Err: err}
}

// Done reports the attempt's outcome and releases the permit. It returns true
// when the call should be attempted again, after it has waited the backoff
// (the wait ends early, returning false, if ctx is done). attempt counts from 1.
func (z *Zone) Done(ctx context.Context, p Permit, err error, attempt int) bool {
	// Inlined into the wrapper: a success that the breaker need not hear
	// about (CLOSED, not counting calls) and that holds no bulkhead slot.
	if err == nil && p.flags == permitQuietOnly {
		return false
	}
	return z.done(ctx, p, err, attempt)
}

func (z *Zone) done(ctx context.Context, p Permit, err error, attempt int) bool {
	if p.flags&permitTraced != 0 {
		p.flags &^= permitTraced
		z.traceAttempt(ctx, err, attempt)
	}
	if p.flags&permitCohort != 0 {
		p = z.cohortDone(ctx, p, err)
	}
	// The common cases with counting or a bulkhead on: a first-attempt
	// success the breaker need not hear about, not sampled.
	if err == nil && attempt == 1 && p.flags&^(permitCount|permitBulkhead|permitConc) == permitQuietOnly {
		if p.flags&permitBulkhead != 0 {
			z.bulkhead.release(p.stripe)
		}
		if p.flags&permitConc != 0 {
			z.shape.conc.Release(p.admit, false)
		}
		if p.flags&permitCount != 0 {
			z.stats.success()
		}
		return false
	}
	if p.start != 0 {
		z.stats.observe(time.Since(z.rt.epoch) - time.Duration(p.start))
	}
	if err != nil {
		return z.failed(ctx, p, err, attempt)
	}
	if z.stats != nil {
		z.stats.success()
		if attempt > 1 {
			z.stats.retriedOK.Add(1)
		}
	}
	if p.flags&permitBreaker != 0 {
		z.breaker.Success(p.ticket)
	}
	if p.flags&permitBulkhead != 0 {
		z.bulkhead.release(p.stripe)
	}
	if p.flags&permitConc != 0 {
		z.shape.conc.Release(p.admit, false)
	}
	return false
}

func (z *Zone) failed(ctx context.Context, p Permit, err error, attempt int) bool {
	o := classify(ctx, err, z.rt.cfg.Classifier)
	if s := z.stats; s != nil {
		switch o {
		case Success:
			s.success()
		case Failure:
			s.failures.Add(1)
		default:
			s.ignored.Add(1)
		}
	}
	if p.flags&permitBreaker != 0 {
		switch o {
		case Success:
			z.breaker.Success(p.ticket)
		case Failure:
			z.breaker.Failure(p.ticket)
		default:
			z.breaker.Ignore(p.ticket)
		}
	}
	if p.flags&permitBulkhead != 0 {
		z.bulkhead.release(p.stripe)
	}
	if z.shape != nil {
		z.shape.shapeDone(p, o == Failure)
	}
	set := z.pol.Load().settings(p)
	if o != Failure || attempt >= z.attemptsNow(set.attempts) || errors.Is(err, ErrPermanent) {
		return false
	}
	delay := set.backoff.Delay(attempt)
	if hint, ok := retryAfter(err); ok {
		delay = hint
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
		return false // the caller's deadline would pass while we wait
	}
	if z.budgetRefuses(ctx, attempt, err) {
		return false // the caller gets this attempt's error
	}
	if z.rt.DryRun() {
		z.rt.wouldHave(z, "retry", "retry", "attempt "+strconv.Itoa(attempt)+" failed: "+err.Error())
		return false
	}
	z.rt.log.LogAttrs(ctx, levelDebug, "retry.attempt_scheduled",
		slog.String("service", z.spec.Service), slog.String("method", z.spec.Method),
		slog.Int("attempt", attempt), slog.Duration("delay", delay), slog.String("error", err.Error()))
	if z.stats != nil {
		z.stats.retries.Add(1)
	}
	if z.traced {
		z.traceRetryWait(ctx, attempt, delay)
	}
	if delay <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Fallback reports whether the fallback function should answer for err: not
// when fallback_on= leaves err's kind out (KindOf). In dry-run it records the
// would-have decision and returns false. ctx is the call's, for its span
// event (Config.SpanEvents).
func (z *Zone) Fallback(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if on := z.fallbackOn; on != 0 && on&KindOf(err) == 0 {
		return false // fallback_on= does not name this failure: it passes through
	}
	if z.rt.DryRun() {
		z.rt.wouldHave(z, "fallback", "fallback", err.Error())
		return false
	}
	if z.stats != nil {
		z.stats.fallbacks.Add(1)
	}
	if z.traced {
		z.traceFallback(ctx, err)
	}
	return true
}
