package shape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// cacheLine keeps the hot counters of one policy off the lines its slow path writes.
const cacheLine = 128

// Rate is a number of calls per period, as written in rate=: 100/s, 30/m, 500/h.
type Rate struct {
	N   int64
	Per time.Duration // time.Second, time.Minute or time.Hour
}

// ParseRate parses N/s, N/m or N/h with N a positive whole number.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/m or N/h", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("rate %q: N must be a positive whole number", s)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("rate %q: the period must be s, m or h", s)
	}
	if time.Duration(n) > per {
		return Rate{}, fmt.Errorf("rate %q: more than one call per nanosecond", s)
	}
	return Rate{N: n, Per: per}, nil
}

// String formats the rate as ParseRate reads it.
func (r Rate) String() string {
	unit := "s"
	switch r.Per {
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.FormatInt(r.N, 10) + "/" + unit
}

// interval is the time one token takes to come back, rounded up so that
// rounding never lets more than the rate through.
func (r Rate) interval() int64 { return (int64(r.Per) + r.N - 1) / r.N }

// DefaultBurst is the burst when burst= is not given: one second's worth of
// calls at r, at least 1 (rate=100/s → 100, 600/m → 10, 100/h → 1).
func (r Rate) DefaultBurst() int64 { return max(1, r.N*int64(time.Second)/int64(r.Per)) }

// LimiterSettings configures a Limiter. The zero value of each field but
// Rate means what its comment says.
type LimiterSettings struct {
	// Rate is the sustained rate (rate=). Required.
	Rate Rate
	// Burst is how many calls may go at once after a quiet spell (burst=);
	// 0 means Rate.DefaultBurst().
	Burst int64
	// Wait is how long a call may wait for a token (rate_wait=); 0 fails
	// fast with *RateLimitedError.
	Wait time.Duration
	// Clock is the time source; nil means clock.Real().
	Clock clock.Clock
	// Fleet, when set, shares one bucket with every process on the store
	// (rate_scope=fleet).
	Fleet *FleetSettings
	// Level, when set, is the emergency level in force (the runtime's one
	// atomic, an emergency.Level), read when the pool is refilled: from HIGH
	// each token costs two (the rate and the burst are halved).
	Level *atomic.Int32
}

// Limiter is a token bucket: in any interval T it admits at most
// Burst + Rate·T calls (a fleet-wide Limiter: plus one batch per process).
//
// The success path is one compare-and-swap on a local pool of tokens and
// reads no clock. The pool is filled in batches from the bucket (a GCRA
// bucket in memory, or the fleet's in the store) by the call that finds it
// empty, which reads the clock once per batch. So that the pool never lets
// more through than the bucket allows, the local bucket holds Burst − Batch + 1
// tokens and the pool at most Batch − 1: after a quiet spell at least that
// many calls go at once, and never more than Burst.
type Limiter struct {
	pool atomic.Int64 // tokens taken from the bucket and not yet spent
	_    [cacheLine - 8]byte

	limit    string
	interval int64 // ns per token
	burst    int64
	batch    int64
	localCap int64 // the local bucket's capacity: burst − batch + 1
	wait     time.Duration
	clock    clock.Clock
	epoch    time.Time

	mu  sync.Mutex
	tat int64 // the local bucket's theoretical arrival time (GCRA), ns since epoch

	fleet *fleet // nil unless rate_scope=fleet
	level *atomic.Int32

	limited atomic.Uint64
	waited  atomic.Uint64
}

// LimiterStats is what a Limiter counted since it was built.
type LimiterStats struct {
	Limited     uint64 // calls refused with *RateLimitedError
	Waited      uint64 // calls that waited for a token (rate_wait=)
	Leases      uint64 // fleet: batches leased from the store
	Returned    uint64 // fleet: tokens given back unspent
	LeaseErrors uint64 // fleet: leases that failed (the process then limits alone)
}

// maxSpan bounds burst × interval so that the bucket's arithmetic (in
// nanoseconds, int64) cannot overflow: a century.
const maxSpan = 100 * 365 * 24 * time.Hour

// NewLimiter checks s and builds its Limiter.
func NewLimiter(s LimiterSettings) (*Limiter, error) {
	if s.Rate.N <= 0 || s.Rate.Per <= 0 {
		return nil, errors.New("rate limiter: no rate")
	}
	if s.Burst < 0 || s.Wait < 0 {
		return nil, fmt.Errorf("rate limiter %s: negative burst or wait", s.Rate)
	}
	l := &Limiter{limit: s.Rate.String(), interval: s.Rate.interval(), burst: s.Burst, wait: s.Wait, clock: s.Clock, level: s.Level}
	if l.burst == 0 {
		l.burst = s.Rate.DefaultBurst()
	}
	if l.burst > int64(maxSpan)/l.interval {
		return nil, fmt.Errorf("rate limiter %s: burst %d is more than a century of tokens", s.Rate, l.burst)
	}
	if l.clock == nil {
		l.clock = clock.Real()
	}
	l.epoch = l.clock.Now()
	l.tat = 0 // full bucket: tat <= now
	l.batch = min(max(l.burst/4, 1), 32)
	if s.Fleet != nil {
		f, err := newFleet(l, *s.Fleet)
		if err != nil {
			return nil, err
		}
		l.fleet = f
		l.batch = f.batch
	}
	l.localCap = l.burst - l.batch + 1
	return l, nil
}

// Take admits a call or refuses it with *RateLimitedError (errors.Is
// ErrRateLimited). With a wait (rate_wait=) it waits for a token that comes
// within it; the wait ends early with ctx's error.
func (l *Limiter) Take(ctx context.Context) error {
	if l.Allow() {
		return nil
	}
	return l.take(ctx)
}

// Allow takes a token from the local pool if it has one: one look and one
// compare-and-swap, no clock, inlined into the caller. false says nothing
// about the bucket: call Take, which refills the pool, waits or refuses.
func (l *Limiter) Allow() bool {
	f := l.pool.Load()
	return f > 0 && l.pool.CompareAndSwap(f, f-1)
}

// take is Take's slow path, out of line so that Take inlines.
func (l *Limiter) take(ctx context.Context) error {
	if take(&l.pool) {
		return nil
	}
	if f := l.fleet; f != nil && !f.down(l.now()) {
		return l.fleetTake(ctx)
	}
	return l.localTake(ctx)
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

func (l *Limiter) now() int64 { return int64(l.clock.Now().Sub(l.epoch)) }

// cost is what one token takes from the bucket, in ns: the interval, twice
// it from the emergency level HIGH (half the rate, half the burst).
func (l *Limiter) cost() int64 {
	if lv := l.level; lv != nil && emergency.Level(lv.Load()) >= emergency.High {
		return 2 * l.interval
	}
	return l.interval
}

// Tokens is how many calls the limiter would admit at once now: the pool and
// what this process's bucket holds (a fleet limiter: the pool only, the
// shared bucket is in the store).
func (l *Limiter) Tokens() int64 {
	n := max(0, l.pool.Load())
	if l.fleet != nil && !l.fleet.down(l.now()) {
		return n
	}
	l.mu.Lock()
	now := l.now()
	avail := (now + l.localCap*l.interval - max(l.tat, now)) / l.cost()
	l.mu.Unlock()
	return n + max(0, avail)
}

// Halved reports whether the emergency level halves the limit now.
func (l *Limiter) Halved() bool { return l.cost() != l.interval }

func (l *Limiter) localTake(ctx context.Context) error {
	l.mu.Lock()
	if take(&l.pool) {
		l.mu.Unlock()
		return nil
	}
	now, cost := l.now(), l.cost()
	t := max(l.tat, now)
	if avail := (now + l.localCap*l.interval - t) / cost; avail > 0 {
		n := min(l.batch, avail)
		l.tat = t + n*cost
		l.pool.Add(n - 1)
		l.mu.Unlock()
		return nil
	}
	// No token now: reserve the next one if it comes within the wait.
	d := time.Duration(t + cost - l.localCap*l.interval - now)
	if d > l.wait {
		l.mu.Unlock()
		return l.refuse(d, false)
	}
	l.tat = t + cost
	l.mu.Unlock()
	return l.sleep(ctx, d)
}

func (l *Limiter) refuse(d time.Duration, fleet bool) error {
	l.limited.Add(1)
	return &RateLimitedError{Limit: l.limit, RetryAfter: d, Fleet: fleet}
}

// sleep waits d on the limiter's clock, or until ctx is done.
func (l *Limiter) sleep(ctx context.Context, d time.Duration) error {
	l.waited.Add(1)
	if d <= 0 {
		return nil
	}
	done := make(chan struct{})
	t := l.clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// Limit is the limit as written ("100/s").
func (l *Limiter) Limit() string { return l.limit }

// Burst is the bucket's size (burst=, or the default).
func (l *Limiter) Burst() int64 { return l.burst }

// Batch is how many tokens the limiter takes from its bucket at once.
func (l *Limiter) Batch() int64 { return l.batch }

// Stats returns the limiter's counters.
func (l *Limiter) Stats() LimiterStats {
	s := LimiterStats{Limited: l.limited.Load(), Waited: l.waited.Load()}
	if f := l.fleet; f != nil {
		s.Leases, s.Returned, s.LeaseErrors = f.leases.Load(), f.returned.Load(), f.errs.Load()
	}
	return s
}

// Close gives a fleet limiter's unspent tokens back to the store and stops
// its idle timer. A local limiter has nothing to release. Take keeps working
// after Close (on a fleet limiter, alone, without the store).
func (l *Limiter) Close() error {
	if l.fleet == nil {
		return nil
	}
	return l.fleet.close()
}

// inf is "no deadline" for waits.
const inf = math.MaxInt64
