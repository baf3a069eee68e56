package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// move changes entry from (stored as fromRaw) into to in one transaction:
// the record, the state counters, the caps' counters when it resolves, and
// the state index of to. extra ops ride along (index cleanup). It reports
// false when the record changed since it was read. idx is the ID to got in
// its state index.
func (q *Queue) move(ctx context.Context, from *record, fromRaw []byte, to *record, extra ...store.Op) (applied bool, toRaw []byte, idx store.ID, err error) {
	if toRaw, err = to.encode(); err != nil {
		return false, nil, idx, err
	}
	var ttl time.Duration
	if to.State == StateResolved {
		ttl = q.opts.Retention
	}
	ops := make([]store.Op, 0, 8+len(extra))
	ops = append(ops, store.SetOp(q.k.entry(from.ID), toRaw, ttl))
	if from.State != to.State {
		ops = append(ops, q.k.count(from, from.State, -1)...)
		ops = append(ops, q.k.count(from, to.State, 1)...)
		if to.State == StateResolved {
			ops = append(ops, store.IncrOp(q.k.total(), -1, 0), store.IncrOp(q.k.domainTotal(from.Domain), -1, 0))
		}
	}
	at := -1
	if ix := q.k.stateIndex(to.State); ix != "" {
		at = len(ops)
		ops = append(ops, store.AppendOp(ix, indexValue(to.ID, to.V)))
	}
	ops = append(ops, extra...)
	res, err := q.st.Atomic(ctx, store.Txn{Conds: []store.Cond{store.IfEquals(q.k.entry(from.ID), fromRaw)}, Ops: ops})
	if err != nil {
		return false, nil, idx, fmt.Errorf("move entry %s from %s to %s: %w", from.ID, from.State, to.State, err)
	}
	if !res.Applied {
		return false, nil, idx, nil
	}
	if at >= 0 {
		idx = res.Results[at].ID
	}
	if to.State == StateNeedsReview {
		q.log.LogAttrs(ctx, slog.LevelWarn, "dlq.entry_needs_review", slog.String("id", to.ID),
			slog.String("domain", to.Domain), slog.String("operation", to.Op), slog.String("reason", to.Reason))
	}
	return true, toRaw, idx, nil
}

// Outcome says how one replay ended.
type Outcome string

// Replay outcomes, as counted in BatchReport.
const (
	OutcomeResolved    Outcome = "resolved"     // the call succeeded
	OutcomeFailed      Outcome = "failed"       // back to pending, budget left
	OutcomeNeedsReview Outcome = "needs_review" // budget spent, no replayer, changed signature or undecodable
	OutcomePostponed   Outcome = "postponed"    // Options.Postpone: back to pending, budget kept
	OutcomeLost        Outcome = "lost"         // the entry changed while replaying (lease expired, purged)
)

// replayOne replays pending entry r (read as raw). dsid is its place in the
// domain stream when known (zero otherwise), dropped once it resolves.
func (q *Queue) replayOne(ctx context.Context, r *record, raw []byte, dsid store.ID) (*record, Outcome, error) {
	now := q.clk.Now()
	fn, why := q.handlerFor(r)
	if fn == nil {
		to := r.next(StateNeedsReview, why, now)
		ok, _, _, err := q.move(ctx, r, raw, to)
		if err != nil {
			return r, "", err
		}
		if !ok {
			return r, "", fmt.Errorf("replay %s: entry changed meanwhile: %w", r.ID, ErrBusy)
		}
		return to, OutcomeNeedsReview, nil
	}
	claimed := r.next(StateReplaying, fmt.Sprintf("replay %d of %d started by %s", r.Replays+1, q.opts.ReplayBudget, q.opts.Owner), now)
	claimed.Replays++
	claimed.Lease = now.Add(q.opts.Lease).UnixNano()
	claimed.Owner = q.opts.Owner
	ok, claimedRaw, rsid, err := q.move(ctx, r, raw, claimed)
	if err != nil {
		return r, "", err
	}
	if !ok {
		return r, "", fmt.Errorf("replay %s: entry changed meanwhile: %w", r.ID, ErrBusy)
	}

	callErr := q.call(ctx, fn, claimed)

	now = q.clk.Now()
	var to *record
	var out Outcome
	extra := []store.Op{store.RemoveOp(q.k.replaying(), rsid)}
	switch {
	case callErr == nil:
		to, out = claimed.next(StateResolved, fmt.Sprintf("replay %d succeeded", claimed.Replays), now), OutcomeResolved
		to.LastErr = ""
		if !dsid.IsZero() {
			extra = append(extra, store.RemoveOp(q.k.domain(r.Domain), dsid))
		}
	case q.opts.Postpone != nil && q.opts.Postpone(callErr):
		to, out = claimed.next(StatePending, "replay postponed: "+callErr.Error(), now), OutcomePostponed
		to.Replays--
		to.LastErr = callErr.Error()
	case ctx.Err() != nil && errors.Is(callErr, ctx.Err()):
		// The caller gave up (or the queue is closing), not the method: the
		// attempt does not count. The lease's own deadline does count.
		to, out = claimed.next(StatePending, "replay interrupted: "+callErr.Error(), now), OutcomePostponed
		to.Replays--
		to.LastErr = callErr.Error()
	case errors.Is(callErr, ErrUndecodable):
		to, out = claimed.next(StateNeedsReview, "stored arguments do not decode: "+callErr.Error(), now), OutcomeNeedsReview
		to.LastErr, to.Last = callErr.Error(), now.UnixNano()
	case claimed.Replays >= q.opts.ReplayBudget:
		to, out = claimed.next(StateNeedsReview, fmt.Sprintf("replay budget of %d spent; last error: %v", q.opts.ReplayBudget, callErr), now), OutcomeNeedsReview
		to.LastErr, to.Last = callErr.Error(), now.UnixNano()
	default:
		to, out = claimed.next(StatePending, fmt.Sprintf("replay %d of %d failed: %v", claimed.Replays, q.opts.ReplayBudget, callErr), now), OutcomeFailed
		to.LastErr, to.Last = callErr.Error(), now.UnixNano()
	}
	// The outcome is recorded even if the caller gave up meanwhile: the
	// replay ran, and leaving it to the lease would run it again.
	ok, _, _, err = q.move(context.WithoutCancel(ctx), claimed, claimedRaw, to, extra...)
	if err != nil {
		return claimed, "", err
	}
	if !ok {
		q.log.Warn("dlq.replay_outcome_lost", slog.String("id", r.ID), slog.String("outcome", string(out)),
			slog.String("reason", "entry changed while replaying (lease expired or purged)"))
		return claimed, OutcomeLost, nil
	}
	level := slog.LevelInfo
	if out != OutcomePostponed {
		q.replayed.Add(1)
	}
	if out == OutcomeResolved {
		q.resolved.Add(1)
		level = slog.LevelDebug
	}
	q.log.LogAttrs(ctx, level, "dlq.entry_replayed", slog.String("id", r.ID), slog.String("domain", r.Domain),
		slog.String("operation", r.Op), slog.String("outcome", string(out)), slog.String("reason", to.Reason))
	return to, out, nil
}

// call runs the replayer under the entry's lease, turning a panic into an
// error.
func (q *Queue) call(ctx context.Context, fn Replayer, r *record) (err error) {
	cctx, cancel := context.WithTimeout(withReplay(ctx, r), q.opts.Lease)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("replayer of %s.%s panicked: %v", r.Domain, r.Op, p)
		}
	}()
	return fn(cctx, r.Args)
}

// Replay replays one pending entry now, whatever the replay rate, and
// returns the entry as it ends up (its Reason and LastError say how the
// call went). A replay handler's failure is not an error of Replay. Entries
// that need review must be redriven first (ErrState); one being replayed
// elsewhere is ErrBusy.
func (q *Queue) Replay(ctx context.Context, id string) (Entry, error) {
	raw, r, err := q.load(ctx, id)
	if err != nil {
		return Entry{}, fmt.Errorf("replay: %w", err)
	}
	switch r.State {
	case StateReplaying:
		return r.entry(), fmt.Errorf("replay %s: being replayed by %s until %s: %w",
			id, r.Owner, unixTime(r.Lease).Format(time.RFC3339), ErrBusy)
	case StateNeedsReview:
		return r.entry(), fmt.Errorf("replay %s: needs review (%s); redrive it first: %w", id, r.Reason, ErrState)
	case StateResolved:
		return r.entry(), fmt.Errorf("replay %s: already resolved: %w", id, ErrState)
	}
	to, out, err := q.replayOne(ctx, r, raw, store.ID{})
	if err != nil {
		return to.entry(), err
	}
	if out == OutcomeLost {
		return to.entry(), fmt.Errorf("replay %s: the entry changed while it replayed (lease expired or purged); outcome dropped: %w", id, ErrBusy)
	}
	return to.entry(), nil
}

// BatchFilter selects the pending entries ReplayBatch replays; empty fields
// match everything.
type BatchFilter struct {
	Domain      string
	Operation   string
	FailureType string
	// Limit bounds the entries replayed; 0 means all that match.
	Limit int

	automatic bool
}

// BatchReport says what a batch did.
type BatchReport struct {
	Domain     string          `json:"domain,omitempty"` // the filter's domain
	Automatic  bool            `json:"automatic"`        // a sweep after the breaker closed
	Replayed   int             `json:"replayed"`         // replays started
	Outcomes   map[Outcome]int `json:"outcomes"`
	Busy       []string        `json:"busy,omitempty"`    // domains skipped: another runner holds them
	Stopped    string          `json:"stopped,omitempty"` // why the batch ended early
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
}

// batchRun is a batch in progress; replays finish on their own goroutines.
type batchRun struct {
	mu        sync.Mutex
	rep       BatchReport
	postponed bool // a replay of the current domain was postponed
	err       error
	busyErr   error // why the last busy domain was busy
}

func (b *batchRun) done(out Outcome, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case errors.Is(err, ErrBusy):
		b.rep.Outcomes[OutcomeLost]++ // another runner claimed it first
	case err != nil:
		if b.err == nil {
			b.err = err
		}
	default:
		b.rep.Outcomes[out]++
		b.postponed = b.postponed || out == OutcomePostponed
	}
}

// stop reports whether the current domain's batch must end, and why.
func (b *batchRun) stop() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.postponed:
		return "a replay was postponed"
	case b.err != nil:
		return b.err.Error()
	}
	return ""
}

// ReplayBatch replays the pending entries that match f, oldest first, at
// most Options.ReplayRate per second and ReplayConcurrency at once. Each
// domain is replayed under its fleet-wide lease: a domain another runner
// holds is skipped and listed in Busy (and, when f names that one domain,
// the error matches ErrBusy). The batch over a domain stops when a replay is
// postponed (its breaker opened again), at a store error, or when ctx ends.
func (q *Queue) ReplayBatch(ctx context.Context, f BatchFilter) (BatchReport, error) {
	rep, err := q.batch(ctx, f)
	q.report(rep)
	return rep, err
}

// report hands a finished batch to Options.OnBatch.
func (q *Queue) report(rep BatchReport) {
	if q.opts.OnBatch != nil {
		q.opts.OnBatch(rep)
	}
}

// batch is ReplayBatch without the report to OnBatch.
func (q *Queue) batch(ctx context.Context, f BatchFilter) (BatchReport, error) {
	b := &batchRun{rep: BatchReport{Domain: f.Domain, Automatic: f.automatic, Outcomes: map[Outcome]int{}, StartedAt: q.clk.Now()}}
	err := q.replayBatch(ctx, f, b)
	b.mu.Lock()
	rep := b.rep
	b.mu.Unlock()
	rep.FinishedAt = q.clk.Now()
	if err == nil && f.Domain != "" && len(rep.Busy) == 1 {
		err = fmt.Errorf("replay batch: %w", b.busyErr)
	}
	q.log.LogAttrs(ctx, slog.LevelInfo, "dlq.batch_finished", slog.String("domain", f.Domain),
		slog.Bool("automatic", f.automatic), slog.Int("replayed", rep.Replayed),
		slog.Int("resolved", rep.Outcomes[OutcomeResolved]), slog.Int("needs_review", rep.Outcomes[OutcomeNeedsReview]),
		slog.Any("busy", rep.Busy), slog.String("stopped", rep.Stopped))
	return rep, err
}

func (q *Queue) replayBatch(ctx context.Context, f BatchFilter, b *batchRun) error {
	domains := []string{f.Domain}
	if f.Domain == "" {
		var err error
		if domains, err = q.domainNames(ctx); err != nil {
			return err
		}
	}
	for _, d := range domains {
		if err := q.replayDomain(ctx, d, f, b); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			b.rep.Stopped = "context ended: " + err.Error()
			return err
		}
		if f.Limit > 0 && b.rep.Replayed >= f.Limit {
			return nil
		}
	}
	return nil
}

func (q *Queue) replayDomain(ctx context.Context, domain string, f BatchFilter, b *batchRun) error {
	lease, err := q.acquire(ctx, domain)
	if errors.Is(err, ErrBusy) {
		b.rep.Busy = append(b.rep.Busy, domain)
		b.busyErr = err
		return nil
	}
	if err != nil {
		return err
	}
	defer lease.release()
	b.mu.Lock()
	b.postponed = false
	b.mu.Unlock()

	var wg sync.WaitGroup
	slots := make(chan struct{}, q.opts.ReplayConcurrency)
	stop := func(why string) bool {
		b.mu.Lock()
		b.rep.Stopped = why
		b.mu.Unlock()
		return false
	}
	scanErr := q.scanDomain(ctx, domain, store.ID{}, needles(Filter{Operation: f.Operation, FailureType: f.FailureType, State: StatePending}), func(sid store.ID, raw []byte, r *record) bool {
		if r.State != StatePending || (f.Operation != "" && r.Op != f.Operation) || (f.FailureType != "" && r.Type != f.FailureType) {
			return true
		}
		if f.Limit > 0 && b.rep.Replayed >= f.Limit {
			return false
		}
		if err := q.pace.wait(ctx, q.clk); err != nil {
			return false
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		// Checked once a slot is free, so that the replays before this one
		// (all of them, without concurrency) have had their say.
		if why := b.stop(); why != "" {
			<-slots
			return stop(domain + ": " + why)
		}
		if f.automatic && q.opts.Hold != nil {
			if why := q.opts.Hold(); why != "" {
				<-slots
				return stop(domain + ": held: " + why)
			}
		}
		if err := lease.renew(ctx); err != nil {
			<-slots
			return stop(err.Error())
		}
		b.mu.Lock()
		b.rep.Replayed++
		b.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			_, out, err := q.replayOne(ctx, r, raw, sid)
			b.done(out, err)
		}()
		return true
	})
	wg.Wait()
	if scanErr != nil {
		return scanErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// domainLease is a held batch lease on one domain.
type domainLease struct {
	q       *Queue
	key     string
	token   []byte
	renewed time.Time
}

// acquire takes the batch lease of domain, or fails with ErrBusy naming the
// runner that holds it.
func (q *Queue) acquire(ctx context.Context, domain string) (*domainLease, error) {
	l := &domainLease{q: q, key: q.k.lease(domain),
		token: []byte(q.opts.Owner + "#" + strconv.FormatUint(rand.Uint64(), 36)), renewed: q.clk.Now()}
	ok, err := q.st.SetNX(ctx, l.key, l.token, q.opts.RunnerLease)
	if err != nil {
		return nil, fmt.Errorf("take replay lease of %s: %w", domain, err)
	}
	if !ok {
		holder, _ := q.st.Get(ctx, l.key)
		return nil, fmt.Errorf("replay lease of %s held by %s: %w", domain, holder, ErrBusy)
	}
	return l, nil
}

// renew extends the lease once a third of it has passed.
func (l *domainLease) renew(ctx context.Context) error {
	now := l.q.clk.Now()
	if now.Sub(l.renewed) < l.q.opts.RunnerLease/3 {
		return nil
	}
	ok, err := l.q.st.CompareAndSet(ctx, l.key, l.token, l.token, l.q.opts.RunnerLease)
	if err != nil {
		return fmt.Errorf("renew replay lease %s: %w", l.key, err)
	}
	if !ok {
		return fmt.Errorf("replay lease %s lost (expired and taken by another runner): %w", l.key, ErrBusy)
	}
	l.renewed = now
	return nil
}

func (l *domainLease) release() {
	_, err := l.q.st.Atomic(context.Background(), store.Txn{
		Conds: []store.Cond{store.IfEquals(l.key, l.token)},
		Ops:   []store.Op{store.DeleteOp(l.key)},
	})
	if err != nil {
		// It expires on its own after RunnerLease.
		l.q.log.Warn("dlq.lease_release_failed", slog.String("key", l.key), slog.String("error", err.Error()))
	}
}

// pacer spaces batch replays to a rate: each reservation is one interval
// after the previous one, and a pacer that fell behind does not burst.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func (p *pacer) setRate(perSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if perSecond <= 0 {
		p.interval = 0
		return
	}
	p.interval = time.Duration(float64(time.Second) / perSecond)
}

// reserve returns how long to wait for the next slot after now.
func (p *pacer) reserve(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.interval <= 0 {
		return 0
	}
	if p.next.Before(now) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.interval)
	return d
}

// wait blocks until the next slot, or until ctx ends.
func (p *pacer) wait(ctx context.Context, clk clock.Clock) error {
	d := p.reserve(clk.Now())
	if d <= 0 {
		return ctx.Err()
	}
	ready := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(ready) })
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
