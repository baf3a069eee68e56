package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/runtime/store"
)

type replayKey struct{}

type replayMark struct{ id, domain, op string }

// withReplay marks ctx as the replay of entry r, so that a failure of the
// replayed call is recorded on r instead of being parked again.
func withReplay(ctx context.Context, r *record) context.Context {
	return context.WithValue(ctx, replayKey{}, replayMark{id: r.ID, domain: r.Domain, op: r.Op})
}

// ReplayOf reports whether ctx is the replay of a dead-letter entry, and of
// which one. Park ignores captures of that entry's own method under it.
func ReplayOf(ctx context.Context) (id string, ok bool) {
	m, ok := ctx.Value(replayKey{}).(replayMark)
	return m.id, ok
}

// Park stores a failed call as a pending entry and returns its id. At a cap
// it applies the overflow strategy: Reject returns an error matching ErrFull
// and stores nothing; the others evict an older entry, logged as
// dlq.entry_evicted. Called under the replay of an entry of the same method,
// Park stores nothing and returns that entry's id: the replay's outcome is
// recorded on it.
func (q *Queue) Park(ctx context.Context, c Capture) (string, error) {
	if m, ok := ctx.Value(replayKey{}).(replayMark); ok && m.domain == c.Domain && m.op == c.Method {
		return m.id, nil
	}
	if c.Domain == "" || c.Method == "" {
		return "", fmt.Errorf("park %q.%q: domain and operation are required: %w", c.Domain, c.Method, ErrInvalid)
	}
	if c.Err == nil {
		return "", fmt.Errorf("park %s.%s without an error: %w", c.Domain, c.Method, ErrInvalid)
	}
	now := q.clk.Now()
	ftype := c.FailureType
	if ftype == "" && q.opts.Classify != nil {
		ftype = q.opts.Classify(c.Err)
	}
	if ftype == "" {
		ftype = failureType(c.Err)
	}
	first := now
	if !c.FirstFailure.IsZero() && c.FirstFailure.Before(now) {
		first = c.FirstFailure
	}
	args := c.Args
	if len(args) == 0 {
		args = json.RawMessage("null")
	}
	r := &record{
		ID: newID(now), Domain: c.Domain, Op: c.Method, Sig: c.Signature, Args: args,
		Err: c.Err.Error(), Type: ftype, Attempts: c.Attempts, First: first.UnixNano(), Last: now.UnixNano(),
		State: StatePending, Reason: "parked after " + strconv.Itoa(c.Attempts) + " failed attempt(s)",
		Updated: now.UnixNano(), V: 1,
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("park %s.%s: arguments are not valid JSON: %w: %w", c.Domain, c.Method, ErrInvalid, err)
	}
	domainCap := q.domainCap(c.Domain)
	if q.opts.Overflow == Reject {
		if err := q.checkRoom(ctx, c.Domain, domainCap); err != nil {
			return "", err
		}
	}
	g := group(c.Domain, ftype)
	// Every park writes its domain and group into the registries, in the
	// same transaction as the entry: List, Stats and the metrics find
	// entries only through them, and a Redis that comes back empty (or a
	// journal replayed into it) must not leave entries nobody can see. An
	// HSET of a field that is there already changes nothing.
	ops := []store.Op{
		store.SetOp(q.k.entry(r.ID), raw, 0),
		store.AppendOp(q.k.domain(c.Domain), []byte(r.ID)),
		store.IncrOp(q.k.total(), 1, 0),
		store.IncrOp(q.k.domainTotal(c.Domain), 1, 0),
		store.HSetOp(q.k.domains(), map[string]string{c.Domain: "1"}),
		store.HSetOp(q.k.groups(), map[string]string{g: "1"}),
		store.HSetOp(q.k.opGroups(), map[string]string{group(c.Domain, r.Op): "1"}),
	}
	ops = append(ops, q.k.count(r, StatePending, 1)...)
	res, err := q.st.Atomic(ctx, store.Txn{Ops: ops})
	if err != nil {
		return "", fmt.Errorf("park %s.%s: %w", c.Domain, c.Method, err)
	}
	sid, total, inDomain := res.Results[1].ID, res.Results[2].N, res.Results[3].N
	q.log.LogAttrs(ctx, slog.LevelDebug, "dlq.entry_parked", slog.String("id", r.ID),
		slog.String("domain", r.Domain), slog.String("operation", r.Op), slog.String("failure_type", ftype))
	overDomain, overAll := inDomain > int64(domainCap), total > int64(q.opts.MaxSize)
	if !overDomain && !overAll {
		return r.ID, nil
	}
	if q.opts.Overflow == Reject {
		return q.unpark(ctx, r, raw, sid, total, inDomain, domainCap)
	}
	// This park put one entry over a cap, so it evicts exactly one: parks
	// racing at the cap each evict their own surplus and no more. Evicting in
	// the domain also makes room overall.
	scope, cause := "", fmt.Sprintf("queue at its cap of %d", q.opts.MaxSize)
	if overDomain {
		scope, cause = c.Domain, fmt.Sprintf("domain %s at its cap of %d", c.Domain, domainCap)
	}
	if err := q.evictOne(ctx, scope, r.ID, cause); err != nil {
		// The new entry is parked; the cap is enforced again by the next
		// park or the next GC.
		q.log.Warn("dlq.evict_failed", slog.String("domain", c.Domain), slog.String("error", err.Error()))
	}
	return r.ID, nil
}

func (q *Queue) domainCap(domain string) int {
	if v, ok := q.opts.DomainCaps[domain]; ok {
		return v
	}
	return q.opts.DomainMaxSize
}

// checkRoom fails with ErrFull when a cap is reached already, so that Reject
// usually refuses without writing.
func (q *Queue) checkRoom(ctx context.Context, domain string, domainCap int) error {
	total, err := q.counterValue(ctx, q.k.total())
	if err != nil {
		return fmt.Errorf("park in %s: %w", domain, err)
	}
	if total >= int64(q.opts.MaxSize) {
		return q.full(ctx, domain, fmt.Sprintf("queue holds %d entries, its cap is %d", total, q.opts.MaxSize))
	}
	inDomain, err := q.counterValue(ctx, q.k.domainTotal(domain))
	if err != nil {
		return fmt.Errorf("park in %s: %w", domain, err)
	}
	if inDomain >= int64(domainCap) {
		return q.full(ctx, domain, fmt.Sprintf("domain %s holds %d entries, its cap is %d", domain, inDomain, domainCap))
	}
	return nil
}

func (q *Queue) full(ctx context.Context, domain, why string) error {
	q.log.LogAttrs(ctx, slog.LevelWarn, "dlq.entry_rejected", slog.String("domain", domain), slog.String("reason", why))
	return fmt.Errorf("park in %s: %s: %w", domain, why, ErrFull)
}

// unpark takes back an entry that a concurrent park pushed over a cap.
func (q *Queue) unpark(ctx context.Context, r *record, raw []byte, sid store.ID, total, inDomain int64, domainCap int) (string, error) {
	res, err := q.st.Atomic(ctx, store.Txn{
		Conds: []store.Cond{store.IfEquals(q.k.entry(r.ID), raw)},
		Ops: append([]store.Op{
			store.DeleteOp(q.k.entry(r.ID)),
			store.RemoveOp(q.k.domain(r.Domain), sid),
			store.IncrOp(q.k.total(), -1, 0),
			store.IncrOp(q.k.domainTotal(r.Domain), -1, 0),
		}, q.k.count(r, StatePending, -1)...),
	})
	if err != nil {
		// Better over the cap than lost: the entry stays parked.
		q.log.Warn("dlq.unpark_failed", slog.String("id", r.ID), slog.String("error", err.Error()))
		return r.ID, nil
	}
	if !res.Applied {
		return r.ID, nil // already being replayed: it is in, keep it
	}
	why := fmt.Sprintf("queue holds %d entries, its cap is %d", total-1, q.opts.MaxSize)
	if inDomain > int64(domainCap) {
		why = fmt.Sprintf("domain %s holds %d entries, its cap is %d", r.Domain, inDomain-1, domainCap)
	}
	return "", q.full(ctx, r.Domain, why)
}

func (q *Queue) counterValue(ctx context.Context, key string) (int64, error) {
	b, err := q.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter %s holds %q: %w", key, b, store.ErrWrongType)
	}
	return n, nil
}

// victim is an entry chosen for eviction, with its place in the domain stream.
type victim struct {
	sid store.ID
	raw []byte
	r   *record
}

// oldestIn returns the oldest evictable entry of domain: pending or needing
// review, and not except (the entry whose park caused the eviction). Entries
// being replayed are left alone.
func (q *Queue) oldestIn(ctx context.Context, domain, except string) (*victim, error) {
	var v *victim
	err := q.scanDomain(ctx, domain, store.ID{}, nil, func(sid store.ID, raw []byte, r *record) bool {
		if r.State == StateReplaying || r.ID == except {
			return true
		}
		v = &victim{sid: sid, raw: raw, r: r}
		return false
	})
	return v, err
}

// evictOne evicts the oldest evictable entry of domain ("" for the whole
// queue) with the configured strategy.
func (q *Queue) evictOne(ctx context.Context, domain, except, cause string) error {
	for range 16 {
		var v *victim
		if domain != "" {
			var err error
			if v, err = q.oldestIn(ctx, domain, except); err != nil {
				return err
			}
		} else {
			domains, err := q.domainNames(ctx)
			if err != nil {
				return err
			}
			for _, d := range domains {
				c, err := q.oldestIn(ctx, d, except)
				if err != nil {
					return err
				}
				// Stream IDs carry the capture millisecond: across
				// domains, entries of one millisecond tie arbitrarily.
				if c != nil && (v == nil || c.sid.Less(v.sid)) {
					v = c
				}
			}
		}
		if v == nil {
			q.log.Warn("dlq.evict_skipped", slog.String("domain", domain),
				slog.String("reason", cause+"; every older entry is being replayed"))
			return nil
		}
		ok, err := q.evict(ctx, v, cause)
		if ok || err != nil {
			return err
		}
		// The victim changed under us (replayed, purged, evicted by another
		// park): choose again.
	}
	return fmt.Errorf("evict in %q: entries kept changing: %w", domain, ErrBusy)
}

func (q *Queue) evict(ctx context.Context, v *victim, cause string) (bool, error) {
	r := v.r
	txn := store.Txn{
		Conds: []store.Cond{store.IfEquals(q.k.entry(r.ID), v.raw)},
		Ops: append([]store.Op{
			store.DeleteOp(q.k.entry(r.ID)),
			store.RemoveOp(q.k.domain(r.Domain), v.sid),
			store.IncrOp(q.k.total(), -1, 0),
			store.IncrOp(q.k.domainTotal(r.Domain), -1, 0),
			store.IncrOp(q.k.evicted(), 1, 0),
		}, q.k.count(r, r.State, -1)...),
	}
	if q.opts.Overflow == CompressOldest {
		cond, op, err := q.foldIntoAggregate(ctx, r)
		if err != nil {
			return false, err
		}
		txn.Conds = append(txn.Conds, cond)
		txn.Ops = append(txn.Ops, op)
	}
	res, err := q.st.Atomic(ctx, txn)
	if err != nil {
		return false, fmt.Errorf("evict %s: %w", r.ID, err)
	}
	if !res.Applied {
		return false, nil
	}
	q.evicted.Add(1)
	q.log.LogAttrs(ctx, slog.LevelWarn, "dlq.entry_evicted", slog.String("id", r.ID),
		slog.String("domain", r.Domain), slog.String("operation", r.Op), slog.String("failure_type", r.Type),
		slog.String("state", string(r.State)), slog.String("strategy", string(q.opts.Overflow)),
		slog.String("reason", cause))
	if q.opts.OnEvict != nil {
		q.opts.OnEvict(r.Domain, q.opts.Overflow)
	}
	return true, nil
}

// Aggregate summarises the entries compress_oldest evicted from one domain
// and failure type.
type Aggregate struct {
	Domain       string           `json:"domain"`
	FailureType  string           `json:"failure_type"`
	Count        int64            `json:"count"`
	Operations   map[string]int64 `json:"operations"` // evicted entries per operation
	Attempts     int64            `json:"attempts"`   // attempts of the original calls, summed
	FirstFailure time.Time        `json:"first_failure"`
	LastFailure  time.Time        `json:"last_failure"`
	LastError    string           `json:"last_error"` // the error text of the newest evicted entry
	SampleIDs    []string         `json:"sample_ids"` // the last few evicted ids, newest last
}

const aggregateSamples = 5

// foldIntoAggregate returns the condition and write that add r to its
// aggregate, in the same transaction as the eviction.
func (q *Queue) foldIntoAggregate(ctx context.Context, r *record) (store.Cond, store.Op, error) {
	key := q.k.aggregate(group(r.Domain, r.Type))
	old, err := q.st.Get(ctx, key)
	cond := store.IfEquals(key, old)
	a := Aggregate{Domain: r.Domain, FailureType: r.Type, Operations: map[string]int64{}}
	switch {
	case errors.Is(err, store.ErrNotFound):
		cond = store.IfAbsent(key)
	case err != nil:
		return cond, store.Op{}, fmt.Errorf("read aggregate of %s/%s: %w", r.Domain, r.Type, err)
	default:
		if err := json.Unmarshal(old, &a); err != nil {
			// A broken summary must not block evictions: start a new one and say so.
			q.log.Warn("dlq.aggregate_reset", slog.String("key", key), slog.String("error", err.Error()))
			a = Aggregate{Domain: r.Domain, FailureType: r.Type, Operations: map[string]int64{}}
		}
		if a.Operations == nil {
			a.Operations = map[string]int64{}
		}
	}
	a.Count++
	a.Operations[r.Op]++
	a.Attempts += int64(r.Attempts)
	if first := unixTime(r.First); a.FirstFailure.IsZero() || first.Before(a.FirstFailure) {
		a.FirstFailure = first
	}
	if last := unixTime(r.Last); last.After(a.LastFailure) {
		a.LastFailure = last
		a.LastError = r.Err
	}
	a.SampleIDs = append(a.SampleIDs, r.ID)
	if n := len(a.SampleIDs); n > aggregateSamples {
		a.SampleIDs = slices.Clone(a.SampleIDs[n-aggregateSamples:])
	}
	b, err := json.Marshal(a)
	if err != nil {
		return cond, store.Op{}, fmt.Errorf("encode aggregate: %w", err)
	}
	return cond, store.SetOp(key, b, 0), nil
}
