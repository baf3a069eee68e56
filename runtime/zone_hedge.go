package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/shape"
)

// Hedging (hedge=N, hedge_delay=D|pNN; the README's "Load shaping"). One
// attempt of the retry loop runs as a group: the first on the caller's
// goroutine, and while it has not answered, another every delay in a
// goroutine of its own, up to N more. The first success is the attempt's
// answer: the others' contexts are cancelled and their results discarded.
// When every started attempt failed, the last failure is the answer (the
// retry loop then decides). The group holds the one permit Enter gave (breaker
// ticket, rate token, concurrency or bulkhead slot): hedges are bounded by N
// and, when one is set, by the retry budget, each hedge counting as a retry.
//
// The quiet path (the first attempt answers before the delay) takes a group
// from the zone's pool, re-arms its timer and stops it: no lock, no
// goroutine, no allocation of its own (the wrapper's closure is one).

// maxHedge is hedge='s upper bound (the key table's).
const maxHedge = 10

type zoneHedge struct {
	extra                 int
	delay                 *shape.HedgeDelay
	started, won, refused atomic.Uint64
	// groups keeps the *hedgeGroup[R] of quiet calls (one R per zone: the
	// method's results), each with its timer: nothing else holds them, and a
	// reused group re-arms its stopped timer instead of making one.
	groups sync.Pool
}

func newZoneHedge(spec ZoneSpec) (*zoneHedge, error) {
	if spec.Hedge < 0 || spec.Hedge > maxHedge {
		return nil, fmt.Errorf("hedge %d: want 1..%d", spec.Hedge, maxHedge)
	}
	d, err := shape.NewHedgeDelay(spec.HedgeDelay)
	if err != nil {
		return nil, err
	}
	return &zoneHedge{extra: spec.Hedge, delay: d}, nil
}

// HedgeFor is part of the generated-code surface: a hedged method's wrapper
// calls it for each attempt, between Enter and Done, with the permit Enter
// gave and call running the inner method under the context it is given. It
// applies to every attempt of the group (the first and each hedge) the
// timeout= of the variant permit runs with (a staged canary's for a call of
// its cohort) and fault injection (Zone.Inject, under the attempt's context:
// an injected failure is one failed attempt of the group). Without hedge= on
// the zone, or in dry-run (recording the would-have hedge), it runs call once.
func HedgeFor[R any](ctx context.Context, z *Zone, permit Permit, call func(context.Context) (R, error)) (R, error) {
	timeout := z.pol.Load().settings(permit).timeout
	c := z.hedgeCtx(ctx, timeout)
	var h *zoneHedge
	if s := z.shape; s != nil {
		h = s.hedge
	}
	if h == nil {
		r, err := injectCall(c, z, call)
		return r, z.timed(ctx, c, err)
	}
	var start int64
	if h.delay.Percentile() {
		start = z.rt.clock.Now().UnixNano()
	}
	g, _ := h.groups.Get().(*hedgeGroup[R])
	if g == nil {
		g = &hedgeGroup[R]{z: z, h: h}
	}
	g.ctx, g.call, g.timeout, g.running, g.ctxs[0] = ctx, call, timeout, 1, c
	g.arm(h.delay.Delay())
	r, err := injectCall(c, z, call)
	err = z.timed(ctx, c, err)
	if start != 0 {
		h.delay.Observe(durationSince(z.rt.clock, start))
	}
	if g.timer.Stop() {
		// Quiet: answered before the delay, nothing hedged, and nothing
		// but the pool holds g now (its timer's function will not run).
		g.ctx, g.call, g.ctxs[0] = nil, nil, nil
		h.groups.Put(g)
		return r, err
	}
	return g.firstDone(r, err) // g stays out of the pool: hedges may hold it
}

// Hedge is HedgeFor for code generated before GeneratedCodeVersion4, which
// does not hand the permit over: its attempts take the baseline's timeout=
// whatever the call's canary cohort.
func Hedge[R any](ctx context.Context, z *Zone, call func(context.Context) (R, error)) (R, error) {
	return HedgeFor(ctx, z, Permit{}, call)
}

// injectCall is one attempt of a hedge group: the experiment's fault, if
// any, in place of or before the call.
func injectCall[R any](c *attemptCtx, z *Zone, call func(context.Context) (R, error)) (R, error) {
	if err := z.Inject(c); err != nil {
		var zero R
		return zero, err
	}
	return call(c)
}

// arm sets the group's timer to fire after d: a stopped *time.Timer is
// reset, another clock's timer (a fake one) is made anew.
func (g *hedgeGroup[R]) arm(d time.Duration) {
	if t, ok := g.timer.(*time.Timer); ok {
		t.Reset(d)
		return
	}
	g.timer = g.z.rt.clock.AfterFunc(d, g.fire)
}

func durationSince(c clock.Clock, startNanos int64) time.Duration {
	return time.Duration(c.Now().UnixNano() - startNanos)
}

// hedgeCtx is one attempt's context: cancellable by a winning hedge, and
// bounded by timeout (the permit's variant's timeout=) when there is one
// (see deadline.go; no allocation, and no clock read without a timeout).
func (z *Zone) hedgeCtx(ctx context.Context, timeout time.Duration) *attemptCtx {
	if timeout > 0 {
		return z.withTimeout(ctx, timeout).(*attemptCtx)
	}
	c := newAttempt()
	c.parent, c.zone, c.deadline = ctx, z, noDeadline
	return c
}

// hedgeGroup is one hedged attempt: its attempts' contexts and the answer.
type hedgeGroup[R any] struct {
	z       *Zone
	h       *zoneHedge
	ctx     context.Context
	call    func(context.Context) (R, error)
	timeout time.Duration // every attempt's timeout=: the permit's variant's

	mu      sync.Mutex
	ctxs    [maxHedge + 1]*attemptCtx
	started int  // hedges started (the first attempt not included)
	running int  // attempts still running
	over    bool // the caller has its answer: start nothing, discard the rest
	won     bool
	r       R
	err     error       // the last failure
	next    clock.Timer // the next hedge's timer
	wait    chan struct{}

	timer clock.Timer // the first hedge's: only the caller touches it
}

// fire starts a hedge, unless the group is over, the runtime is in dry-run
// (a would-have hedge) or the retry budget refuses it.
func (g *hedgeGroup[R]) fire() {
	z, h := g.z, g.h
	g.mu.Lock()
	if g.over {
		g.mu.Unlock()
		return
	}
	if z.rt.DryRun() {
		g.mu.Unlock()
		z.rt.wouldHave(z, "hedge", "hedge", "attempt still running after "+h.delay.Delay().String())
		return
	}
	if b := z.shape.budget; b != nil && !b.TryRetry() {
		g.mu.Unlock()
		h.refused.Add(1)
		z.logHedge(g.ctx, "hedge.attempt_refused", g.started+1, slog.String("budget", b.String()))
		return
	}
	c := z.hedgeCtx(g.ctx, g.timeout)
	g.started++
	n := g.started
	g.ctxs[n] = c
	g.running++
	if n < h.extra {
		g.next = z.rt.clock.AfterFunc(h.delay.Delay(), g.fire)
	}
	g.mu.Unlock()
	h.started.Add(1)
	z.logHedge(g.ctx, "hedge.attempt_started", n, slog.Duration("delay", h.delay.Delay()))
	go g.run(c, n)
}

// run is hedge n's goroutine.
func (g *hedgeGroup[R]) run(c *attemptCtx, n int) {
	r, err := injectCall(c, g.z, g.call)
	err = g.z.timed(g.ctx, c, err)
	g.mu.Lock()
	g.running--
	won := false
	switch {
	case g.over || g.won:
	case err == nil:
		g.won, g.r, won = true, r, true
	default:
		g.err = err
	}
	if g.wait != nil && (g.won || g.running == 0) {
		close(g.wait)
		g.wait = nil
	}
	g.mu.Unlock()
	if won {
		g.h.won.Add(1)
		g.z.logHedge(g.ctx, "hedge.attempt_won", n)
		g.cancelAll() // the first attempt too: the caller returns as soon as it gives back
	}
}

// firstDone is the first attempt's end once a hedge may have started: its
// success wins unless a hedge's did; its failure waits for the running hedges.
func (g *hedgeGroup[R]) firstDone(r R, err error) (R, error) {
	g.mu.Lock()
	g.running--
	switch {
	case g.won:
		r, err = g.r, nil
	case err == nil:
		g.won = true
	default:
		if g.err == nil {
			g.err = err
		}
		if g.running > 0 {
			w := make(chan struct{})
			g.wait = w
			g.mu.Unlock()
			select {
			case <-w:
			case <-g.ctx.Done():
			}
			g.mu.Lock()
			if g.won {
				r, err = g.r, nil
			} else {
				err = g.err
			}
		}
	}
	g.over = true
	next := g.next
	g.mu.Unlock()
	if next != nil {
		next.Stop()
	}
	g.cancelAll()
	return r, err
}

// cancelAll cancels every attempt still running (an ended one is left as it is).
func (g *hedgeGroup[R]) cancelAll() {
	g.mu.Lock()
	ctxs := g.ctxs
	g.mu.Unlock()
	for _, c := range ctxs {
		if c != nil {
			c.cancel(statusEnded)
		}
	}
}

// logHedge is a DEBUG event of the hedge family.
func (z *Zone) logHedge(ctx context.Context, event string, hedge int, attrs ...slog.Attr) {
	if !z.rt.log.Enabled(ctx, levelDebug) {
		return
	}
	attrs = append(attrs, slog.String("service", z.spec.Service), slog.String("method", z.spec.Method),
		slog.String("hedge", strconv.Itoa(hedge)))
	z.rt.log.LogAttrs(ctx, levelDebug, event, attrs...)
}
