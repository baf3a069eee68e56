// Package dlq is the dead-letter queue: it parks the arguments of calls whose
// last attempt failed, durably in a store.Store, and replays them later through
// a typed replayer registered by the generated wrapper.
// Caps with overflow strategies, a replay budget per entry, leases that make a
// crashed replay come back, and one batch runner per domain across a fleet
// keep it from losing or double-running entries silently.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// Strategy is what Park does when a cap is reached.
type Strategy string

// Overflow strategies.
const (
	// DropOldest evicts the oldest entry of the domain (domain cap) or of the
	// whole queue (overall cap) to make room. The default.
	DropOldest Strategy = "drop_oldest"
	// Reject refuses the new entry with ErrFull.
	Reject Strategy = "reject"
	// CompressOldest folds the oldest entry into one aggregate record per
	// domain and failure type (see Aggregate) before evicting it.
	CompressOldest Strategy = "compress_oldest"
)

// ParseStrategy reads an overflow strategy by name ("" is DropOldest).
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case "", DropOldest:
		return DropOldest, nil
	case Reject, CompressOldest:
		return Strategy(s), nil
	}
	return "", fmt.Errorf("overflow strategy %q (want drop_oldest, reject or compress_oldest): %w", s, ErrInvalid)
}

// Defaults of Options.
const (
	DefaultMaxSize           = 100000
	DefaultReplayBudget      = 5
	DefaultReplayRate        = 100 // entries per second
	DefaultReplayConcurrency = 4
	DefaultLease             = 5 * time.Minute
	DefaultRunnerLease       = 30 * time.Second
	DefaultRetention         = 24 * time.Hour
	DefaultSweepInterval     = 15 * time.Second
	DefaultGCInterval        = 10 * time.Minute
	DefaultPrefix            = "{dlq}:"
)

// Options configure New. The zero value of every field means its default.
type Options struct {
	// Prefix starts every key the queue writes (after the store's own
	// prefix). It holds a Redis Cluster hash tag because one queue change
	// spans several keys; a tag in the store's prefix comes first and wins,
	// which is as good. Default "{dlq}:".
	Prefix string
	// MaxSize caps the unresolved entries of the whole queue
	// (BALDUR_DLQ_MAX_SIZE). Default 100000.
	MaxSize int
	// DomainMaxSize caps the unresolved entries of each domain. Default
	// MaxSize, i.e. only the overall cap applies.
	DomainMaxSize int
	// DomainCaps overrides DomainMaxSize for the domains it names.
	DomainCaps map[string]int
	// Overflow is what happens at a cap. Default DropOldest.
	Overflow Strategy
	// ReplayBudget is how many replays an entry gets before it needs review;
	// a redrive grants a fresh budget. Default 5.
	ReplayBudget int
	// ReplayRate caps batch replays, in entries per second per process.
	// Default 100; negative means no cap.
	ReplayRate float64
	// ReplayConcurrency is how many entries one batch replays at once.
	// Default 4.
	ReplayConcurrency int
	// Lease is how long a replay may hold its entry. The replayer's context
	// ends with the lease, and an entry whose lease expired (its runner
	// crashed) goes back to pending at the next reap. Default 5m.
	Lease time.Duration
	// RunnerLease is the time-to-live of a domain's batch lease, renewed while
	// the batch runs; a crashed runner's domain is free again after it.
	// Default 30s.
	RunnerLease time.Duration
	// Retention is how long resolved entries stay visible. Default 24h.
	Retention time.Duration
	// SweepInterval is how often the background loop (Start) reaps expired
	// leases and retries sweeps that found their domain busy. Default 15s.
	SweepInterval time.Duration
	// GCInterval is how often the background loop drops stale index entries
	// and trims the queue to its cap. Default 10m.
	GCInterval time.Duration
	// GCOutside leaves the GC after the first one (at Start) to the caller,
	// who runs Queue.GC every GCInterval: the runtime runs it as the
	// scheduled task dlq.retention, on the fleet's leader only.
	GCOutside bool
	// Beat, when set, is called at every tick of the background loop (at
	// least every SweepInterval): the watchdog's heartbeat.
	Beat func()
	// Clock is the time source. Default clock.Real().
	Clock clock.Clock
	// Logger receives dlq.* events. Default slog.Default().
	Logger *slog.Logger
	// Classify labels a captured error for grouping when Capture.FailureType
	// is empty; an empty label falls back to the error's type name.
	Classify func(error) string
	// Postpone reports replay errors that say "not now" rather than "failed"
	// (the breaker is open again, the bulkhead is full): the entry goes back
	// to pending without spending budget and the domain's batch stops.
	Postpone func(error) bool
	// OnEvict is called after every eviction (for a metric), with the
	// domain of the evicted entry and the strategy that evicted it.
	OnEvict func(domain string, strategy Strategy)
	// Hold, when set, is asked before each entry of an automatic sweep: a
	// non-empty answer (why) stops the sweep there, with the entries left
	// pending. The runtime holds sweeps in dry-run and while the kill switch
	// is DISABLED. Batches an operator starts are not asked.
	Hold func() string
	// OnBatch is called after every batch, automatic sweeps included.
	OnBatch func(BatchReport)
	// Owner names this runner in leases and entries. Default host:pid:random.
	Owner string
}

func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.DomainMaxSize == 0 {
		o.DomainMaxSize = o.MaxSize
	}
	var err error
	if o.Overflow, err = ParseStrategy(string(o.Overflow)); err != nil {
		return o, err
	}
	if o.ReplayBudget == 0 {
		o.ReplayBudget = DefaultReplayBudget
	}
	if o.ReplayRate == 0 {
		o.ReplayRate = DefaultReplayRate
	}
	if o.ReplayConcurrency == 0 {
		o.ReplayConcurrency = DefaultReplayConcurrency
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.RunnerLease == 0 {
		o.RunnerLease = DefaultRunnerLease
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.GCInterval == 0 {
		o.GCInterval = DefaultGCInterval
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = host + ":" + strconv.Itoa(os.Getpid()) + ":" + strconv.FormatUint(rand.Uint64()&0xffffff, 16)
	}
	for name, v := range map[string]int{"MaxSize": o.MaxSize, "DomainMaxSize": o.DomainMaxSize,
		"ReplayBudget": o.ReplayBudget, "ReplayConcurrency": o.ReplayConcurrency} {
		if v < 1 {
			return o, fmt.Errorf("option %s = %d, want >= 1: %w", name, v, ErrInvalid)
		}
	}
	for d, v := range o.DomainCaps {
		if v < 1 {
			return o, fmt.Errorf("cap of domain %q = %d, want >= 1: %w", d, v, ErrInvalid)
		}
	}
	for name, v := range map[string]time.Duration{"Lease": o.Lease, "RunnerLease": o.RunnerLease,
		"Retention": o.Retention, "SweepInterval": o.SweepInterval, "GCInterval": o.GCInterval} {
		if v < 0 {
			return o, fmt.Errorf("option %s = %v, want > 0: %w", name, v, ErrInvalid)
		}
	}
	return o, nil
}

// Replayer decodes the stored arguments and calls the protected method
// through its wrapper. Decode failures should be wrapped with Undecodable.
type Replayer func(ctx context.Context, args []byte) error

type handler struct {
	sig string
	fn  Replayer
}

// Queue is the dead-letter queue of one runtime. Its methods are safe for
// concurrent use, also by several processes sharing one store.
type Queue struct {
	st   store.Store
	k    keys
	opts Options
	clk  clock.Clock
	log  *slog.Logger

	mu       sync.RWMutex
	handlers map[string]handler // domain + "\x00" + operation

	heads   sync.Map // domain → store.ID before which the domain stream holds only garbage
	evicted atomic.Uint64
	// replayed and resolved count this process's replays that ran to an
	// outcome, and those that resolved their entry (the daily report's
	// automated actions: each replay runs in one process, so a fleet's
	// reports add them up).
	replayed, resolved atomic.Uint64
	pace               pacer

	bg struct {
		sync.Mutex
		started, closed bool
		ctx             context.Context
		cancel          context.CancelFunc
		kick            chan struct{}
		sweeps          map[string]bool // domains waiting for a sweep
		running         map[string]bool // domains being swept
		timer           clock.Timer
		nextReap        time.Time
		nextGC          time.Time
	}
	wg sync.WaitGroup
}

// New returns a queue over st. It starts nothing: call Start for automatic
// sweeps and lease reaping, and Close when done. Closing the queue does not
// close the store.
func New(st store.Store, opts Options) (*Queue, error) {
	if st == nil {
		return nil, fmt.Errorf("without a store: %w", ErrInvalid)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	q := &Queue{st: st, k: keys{o.Prefix}, opts: o, clk: o.Clock, log: o.Logger,
		handlers: make(map[string]handler)}
	q.pace.setRate(o.ReplayRate)
	q.bg.kick = make(chan struct{}, 1)
	q.bg.sweeps = make(map[string]bool)
	q.bg.running = make(map[string]bool)
	return q, nil
}

// Owner returns the name this queue uses in leases.
func (q *Queue) Owner() string { return q.opts.Owner }

// Evicted returns how many entries this process evicted since New.
func (q *Queue) Evicted() uint64 { return q.evicted.Load() }

// Replays returns how many replays this process ran to an outcome since
// New (postponed ones not counted), and how many of them resolved their
// entry.
func (q *Queue) Replays() (replayed, resolved uint64) { return q.replayed.Load(), q.resolved.Load() }

// Register sets the replayer of domain.operation for entries captured with
// signature; a later registration replaces an earlier one and a nil fn
// removes it. Entries whose method has no replayer, or one with another
// signature, go to needs_review instead of being replayed.
func (q *Queue) Register(domain, operation, signature string, fn Replayer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if fn == nil {
		delete(q.handlers, domain+"\x00"+operation)
		return
	}
	q.handlers[domain+"\x00"+operation] = handler{sig: signature, fn: fn}
}

// handlerFor returns the replayer for r, or why it cannot be replayed.
func (q *Queue) handlerFor(r *record) (Replayer, string) {
	q.mu.RLock()
	h, ok := q.handlers[r.Domain+"\x00"+r.Op]
	q.mu.RUnlock()
	switch {
	case !ok:
		return nil, fmt.Sprintf("no replayer registered for %s.%s (method removed, renamed or no longer dlq)", r.Domain, r.Op)
	case h.sig != r.Sig:
		return nil, fmt.Sprintf("signature of %s.%s changed since capture (entry %q, method now %q): arguments may not fit",
			r.Domain, r.Op, r.Sig, h.sig)
	}
	return h.fn, ""
}

// Start runs the background loop until Close: it reaps entries whose lease
// expired, sweeps domains reported by BreakerClosed, and every GCInterval
// drops stale index entries and trims the queue to its cap. The first reap
// and GC run at once, which is what returns entries stuck by a crash.
func (q *Queue) Start() error {
	q.bg.Lock()
	defer q.bg.Unlock()
	switch {
	case q.bg.closed:
		return ErrClosed
	case q.bg.started:
		return nil
	}
	q.bg.started = true
	q.bg.ctx, q.bg.cancel = context.WithCancel(context.Background())
	q.wg.Add(1)
	go q.loop(q.bg.ctx)
	q.signal()
	return nil
}

// Close stops the background loop and waits for running sweeps, whose
// context it cancels; a replay that gives up on that goes back to pending
// without spending budget. Close is idempotent.
func (q *Queue) Close() error {
	q.bg.Lock()
	if q.bg.closed {
		q.bg.Unlock()
		return nil
	}
	q.bg.closed = true
	if q.bg.cancel != nil {
		q.bg.cancel()
	}
	if q.bg.timer != nil {
		q.bg.timer.Stop()
	}
	q.bg.Unlock()
	q.wg.Wait()
	return nil
}

// BreakerClosed tells the queue that domain's breaker closed again: the
// background loop sweeps the domain's pending entries (at the replay rate).
// It never blocks; before Start the sweep waits for Start.
func (q *Queue) BreakerClosed(domain string) {
	q.bg.Lock()
	defer q.bg.Unlock()
	if q.bg.closed {
		return
	}
	q.bg.sweeps[domain] = true
	q.signal()
}

func (q *Queue) signal() {
	select {
	case q.bg.kick <- struct{}{}:
	default:
	}
}

func (q *Queue) loop(ctx context.Context) {
	defer q.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.bg.kick:
		}
		q.tick(ctx)
	}
}

// Kick wakes the background loop and re-arms its timer: the watchdog's
// remedy when the loop stops beating (a lost timer). A loop stuck inside a
// store call stays stuck until the call returns.
func (q *Queue) Kick() {
	q.bg.Lock()
	defer q.bg.Unlock()
	if q.bg.started && !q.bg.closed {
		q.signal()
	}
}

// tick does what is due and arms the timer for the next tick.
func (q *Queue) tick(ctx context.Context) {
	if q.opts.Beat != nil {
		q.opts.Beat()
	}
	now := q.clk.Now()
	if !now.Before(q.bg.nextReap) {
		q.bg.nextReap = now.Add(q.opts.SweepInterval)
		if n, err := q.Reap(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("dlq.reap_failed", slog.String("error", err.Error()))
		} else if n > 0 {
			q.log.Info("dlq.leases_reaped", slog.Int("entries", n))
		}
	}
	gcDue := !now.Before(q.bg.nextGC) && !(q.opts.GCOutside && !q.bg.nextGC.IsZero())
	if gcDue {
		q.bg.nextGC = now.Add(q.opts.GCInterval)
		if err := q.GC(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("dlq.gc_failed", slog.String("error", err.Error()))
		}
	}
	next := q.bg.nextReap
	if !q.opts.GCOutside {
		next = earlier(next, q.bg.nextGC)
	}
	q.bg.Lock()
	defer q.bg.Unlock()
	if q.bg.closed {
		return
	}
	// The timer is armed before any sweep starts, so that whatever a sweep
	// leaves for the next tick (a busy domain) finds the tick on its way.
	if q.bg.timer != nil {
		q.bg.timer.Stop()
	}
	q.bg.timer = q.clk.AfterFunc(next.Sub(now), func() {
		q.bg.Lock()
		defer q.bg.Unlock()
		if !q.bg.closed {
			q.signal()
		}
	})
	for d := range q.bg.sweeps {
		if q.bg.running[d] {
			continue // swept again once the running sweep ends
		}
		delete(q.bg.sweeps, d)
		q.bg.running[d] = true
		q.wg.Add(1)
		go q.sweep(ctx, d)
	}
}

// sweep replays the pending entries of domain after its breaker closed.
func (q *Queue) sweep(ctx context.Context, domain string) {
	defer q.wg.Done()
	rep, err := q.batch(ctx, BatchFilter{Domain: domain, automatic: true})
	// Reported once the loop knows what is left to do.
	defer q.report(rep)
	busy := errors.Is(err, ErrBusy) || len(rep.Busy) > 0
	if err != nil && !busy && ctx.Err() == nil {
		q.log.Warn("dlq.sweep_failed", slog.String("domain", domain), slog.String("error", err.Error()))
	}
	q.bg.Lock()
	defer q.bg.Unlock()
	delete(q.bg.running, domain)
	if busy && !q.bg.closed {
		// Another runner holds the domain: try again on the next tick, after
		// its batch (or its lease, if it crashed) ends.
		q.bg.sweeps[domain] = true
		q.log.Info("dlq.sweep_deferred", slog.String("domain", domain), slog.String("reason", "domain lease held by another runner"))
	} else if q.bg.sweeps[domain] && !q.bg.closed {
		q.signal()
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
