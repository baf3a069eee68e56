package dlq

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/store"
)

// Get returns entry id, or an error matching ErrNotFound.
func (q *Queue) Get(ctx context.Context, id string) (Entry, error) {
	_, r, err := q.load(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	return r.entry(), nil
}

// Filter selects entries for List; empty fields match everything. An empty
// State lists the unresolved entries (pending, replaying, needs_review);
// resolved ones are listed only with State resolved.
type Filter struct {
	Domain      string
	Operation   string
	FailureType string
	State       State
}

func (f Filter) match(r *record) bool {
	return (f.Domain == "" || r.Domain == f.Domain) && (f.Operation == "" || r.Op == f.Operation) &&
		(f.FailureType == "" || r.Type == f.FailureType) && (f.State == "" || r.State == f.State)
}

// Page asks for one page of a listing.
type Page struct {
	// Cursor is the Next of the previous page; empty starts at the beginning.
	Cursor string
	// Limit is the page size. Default 100, at most 1000.
	Limit int
}

// Listing is one page of entries.
type Listing struct {
	Entries []Entry `json:"entries"`
	// Next is the cursor of the next page; empty at the end.
	Next string `json:"next,omitempty"`
}

// Default and maximum List page sizes.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// List returns one page of the entries that match f. Unresolved entries come
// by domain (sorted by name), then in capture order; the entries of one state
// index (f.State other than pending) in the order they reached the state.
func (q *Queue) List(ctx context.Context, f Filter, p Page) (Listing, error) {
	if f.State != "" && !f.State.valid() {
		return Listing{}, fmt.Errorf("list: unknown state %q: %w", f.State, ErrInvalid)
	}
	limit := p.Limit
	switch {
	case limit <= 0:
		limit = DefaultPageSize
	case limit > MaxPageSize:
		limit = MaxPageSize
	}
	curDomain, from, err := decodeCursor(p.Cursor)
	if err != nil {
		return Listing{}, err
	}
	out := Listing{Entries: make([]Entry, 0, min(limit, 64))}
	var last store.ID
	var lastDomain string
	more := false // a match beyond the page exists
	collect := func(domain string) func(store.ID, []byte, *record) bool {
		return func(sid store.ID, _ []byte, r *record) bool {
			if !f.match(r) {
				return true
			}
			if len(out.Entries) == limit {
				more = true
				return false
			}
			out.Entries = append(out.Entries, r.entry())
			last, lastDomain = sid, domain
			return true
		}
	}
	if f.State != "" && f.State != StatePending {
		if err := q.scanIndex(ctx, f.State, from, false, needles(f), collect("")); err != nil {
			return Listing{}, err
		}
	} else {
		domains := []string{f.Domain}
		if f.Domain == "" {
			if domains, err = q.domainNames(ctx); err != nil {
				return Listing{}, err
			}
		}
		for _, d := range domains {
			if d < curDomain {
				continue
			}
			start := store.ID{}
			if d == curDomain {
				start = from
			}
			if err := q.scanDomain(ctx, d, start, needles(f), collect(d)); err != nil {
				return Listing{}, err
			}
			if more {
				break
			}
		}
	}
	if more {
		out.Next = encodeCursor(lastDomain, last.Next())
	}
	return out, nil
}

func encodeCursor(domain string, id store.ID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(domain + "\x00" + id.String()))
}

func decodeCursor(c string) (string, store.ID, error) {
	if c == "" {
		return "", store.ID{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", store.ID{}, fmt.Errorf("list cursor %q: %w", c, ErrInvalid)
	}
	d, ids, ok := strings.Cut(string(b), "\x00")
	id, err := store.ParseID(ids)
	if !ok || err != nil {
		return "", store.ID{}, fmt.Errorf("list cursor %q: %w", c, ErrInvalid)
	}
	return d, id, nil
}

// Redrive gives an entry that needs review a fresh replay budget and puts it
// back in pending. Other states are ErrState.
func (q *Queue) Redrive(ctx context.Context, id string) (Entry, error) {
	for range 8 {
		raw, r, err := q.load(ctx, id)
		if err != nil {
			return Entry{}, fmt.Errorf("redrive: %w", err)
		}
		if r.State != StateNeedsReview {
			return r.entry(), fmt.Errorf("redrive %s: it is %s, only needs_review entries are redriven: %w", id, r.State, ErrState)
		}
		to := r.next(StatePending, "redriven by an operator (was: "+r.Reason+")", q.clk.Now())
		to.Replays = 0
		ok, _, _, err := q.move(ctx, r, raw, to)
		if err != nil {
			return r.entry(), err
		}
		if ok {
			q.log.Info("dlq.entry_redriven", slog.String("id", id), slog.String("domain", r.Domain), slog.String("operation", r.Op))
			return to.entry(), nil
		}
	}
	return Entry{}, fmt.Errorf("redrive %s: entry kept changing: %w", id, ErrBusy)
}

// Purge deletes an entry in any state. An entry being replayed is deleted
// too; its replay's outcome is then dropped (and logged).
func (q *Queue) Purge(ctx context.Context, id string) error {
	for range 8 {
		raw, r, err := q.load(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("purge: %w", err)
		}
		if r == nil && raw != nil {
			// Unreadable: the counters cannot be corrected, but the operator
			// asked for it to go.
			if _, err := q.st.Delete(ctx, q.k.entry(id)); err != nil {
				return fmt.Errorf("purge %s: %w", id, err)
			}
			q.log.Warn("dlq.entry_purged", slog.String("id", id), slog.String("note", "unreadable record; counters not adjusted"))
			return nil
		}
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		ops := []store.Op{store.DeleteOp(q.k.entry(id))}
		if r.State != StateResolved {
			ops = append(ops,
				store.IncrOp(q.k.total(), -1, 0),
				store.IncrOp(q.k.domainTotal(r.Domain), -1, 0))
			ops = append(ops, q.k.count(r, r.State, -1)...)
		}
		res, err := q.st.Atomic(ctx, store.Txn{Conds: []store.Cond{store.IfEquals(q.k.entry(id), raw)}, Ops: ops})
		if err != nil {
			return fmt.Errorf("purge %s: %w", id, err)
		}
		if res.Applied {
			q.log.Info("dlq.entry_purged", slog.String("id", id), slog.String("domain", r.Domain),
				slog.String("operation", r.Op), slog.String("state", string(r.State)))
			return nil
		}
	}
	return fmt.Errorf("purge %s: entry kept changing: %w", id, ErrBusy)
}

// Reap returns entries whose replay lease expired (their runner crashed or
// hung) to pending, or to needs_review when that replay spent the budget, and
// reports how many it moved. Start runs it every SweepInterval.
func (q *Queue) Reap(ctx context.Context) (int, error) {
	now := q.clk.Now()
	type expired struct {
		sid store.ID
		raw []byte
		r   *record
	}
	var due []expired
	err := q.scanIndex(ctx, StateReplaying, store.ID{}, true, nil, func(sid store.ID, raw []byte, r *record) bool {
		if r.Lease <= now.UnixNano() {
			due = append(due, expired{sid, raw, r})
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range due {
		why := fmt.Sprintf("lease of %s expired at %s during replay %d", e.r.Owner,
			unixTime(e.r.Lease).Format(time.RFC3339), e.r.Replays)
		to := e.r.next(StatePending, why+"; back to pending", now)
		if e.r.Replays >= q.opts.ReplayBudget {
			to = e.r.next(StateNeedsReview, fmt.Sprintf("%s; replay budget of %d spent", why, q.opts.ReplayBudget), now)
		}
		to.LastErr = "replay did not finish within its lease"
		ok, _, _, err := q.move(ctx, e.r, e.raw, to, store.RemoveOp(q.k.replaying(), e.sid))
		if err != nil {
			return n, err
		}
		if ok {
			n++
			q.log.Warn("dlq.lease_expired", slog.String("id", e.r.ID), slog.String("domain", e.r.Domain),
				slog.String("owner", e.r.Owner), slog.String("state", string(to.State)))
		}
	}
	return n, nil
}

// GC restores the registries from the keys the store holds, drops stale
// index entries (of purged, evicted, moved on or expired entries) and evicts
// down to the caps if they were lowered. Start runs it every GCInterval.
func (q *Queue) GC(ctx context.Context) error {
	if err := q.healRegistry(ctx); err != nil {
		return err
	}
	domains, err := q.domainNames(ctx)
	if err != nil {
		return err
	}
	keep := func(store.ID, []byte, *record) bool { return true }
	for _, d := range domains {
		if err := q.scanDomain(ctx, d, store.ID{}, nil, keep); err != nil {
			return err
		}
	}
	for _, s := range []State{StateReplaying, StateNeedsReview, StateResolved} {
		if err := q.scanIndex(ctx, s, store.ID{}, true, nil, keep); err != nil {
			return err
		}
	}
	for _, d := range domains {
		if err := q.trim(ctx, d, q.k.domainTotal(d), q.domainCap(d)); err != nil {
			return err
		}
	}
	return q.trim(ctx, "", q.k.total(), q.opts.MaxSize)
}

// healRegistry derives the domain and group registries from the keys the
// store holds: each domain stream and each group counter gets its field.
// Parks write both in their own transaction; this covers entries the
// registries lost otherwise (a hash deleted, entries written by a version
// that wrote them once per process). One scan of the key space per GC.
func (q *Queue) healRegistry(ctx context.Context) error {
	derive := func(prefix string, name func(rest string) string) (map[string]string, error) {
		keys, err := q.st.Keys(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		fields := make(map[string]string, len(keys))
		for _, k := range keys {
			if n := name(strings.TrimPrefix(k, prefix)); n != "" {
				fields[n] = "1"
			}
		}
		return fields, nil
	}
	domains, err := derive(q.k.domain(""), func(d string) string { return d })
	if err != nil {
		return err
	}
	groups, err := derive(q.k.counters(), func(rest string) string {
		if i := strings.LastIndexByte(rest, ':'); i > 0 {
			return rest[:i] // c:<domain>\x1f<type>:<state>
		}
		return ""
	})
	if err != nil {
		return err
	}
	for key, fields := range map[string]map[string]string{q.k.domains(): domains, q.k.groups(): groups} {
		if len(fields) == 0 {
			continue
		}
		if err := q.st.HSet(ctx, key, fields); err != nil {
			return fmt.Errorf("registry: %w", err)
		}
	}
	return nil
}

// trim evicts from domain ("" for all) while its counter is over limit.
func (q *Queue) trim(ctx context.Context, domain, counter string, limit int) error {
	for {
		n, err := q.counterValue(ctx, counter)
		if err != nil || n <= int64(limit) {
			return err
		}
		before := q.evicted.Load()
		if err := q.evictOne(ctx, domain, "", fmt.Sprintf("%d entries over the cap of %d", n, limit)); err != nil {
			return err
		}
		if q.evicted.Load() == before {
			return nil // nothing evictable now
		}
	}
}

// GroupStats counts the entries of one domain and failure type (or of a
// whole domain, with FailureType empty).
type GroupStats struct {
	Domain      string `json:"domain"`
	FailureType string `json:"failure_type,omitempty"`
	Pending     int64  `json:"pending"`
	Replaying   int64  `json:"replaying"`
	NeedsReview int64  `json:"needs_review"`
	Resolved    int64  `json:"resolved"`   // resolved since the queue began, retained or not
	Compressed  int64  `json:"compressed"` // folded into the aggregate by compress_oldest
}

// OperationStats counts the entries of one domain and operation. The
// counters start with the first park by a version that writes them: entries
// parked before are not in them (a count is never shown below 0).
type OperationStats struct {
	Domain      string `json:"domain"`
	Operation   string `json:"operation"`
	Pending     int64  `json:"pending"`
	Replaying   int64  `json:"replaying"`
	NeedsReview int64  `json:"needs_review"`
	Resolved    int64  `json:"resolved"`
}

// Stats is the queue at a glance.
type Stats struct {
	Total   int64        `json:"total"`   // unresolved entries, what MaxSize caps
	Evicted int64        `json:"evicted"` // evictions across the fleet
	Groups  []GroupStats `json:"groups"`  // by domain and failure type, sorted
	Domains []GroupStats `json:"domains"` // by domain, sorted
	// Operations are by domain and operation, sorted (progress bars of a
	// batch filtered by operation count these).
	Operations []OperationStats `json:"operations"`
}

// Stats counts entries by domain, failure type and state.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	var err error
	if s.Total, err = q.counterValue(ctx, q.k.total()); err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	if s.Evicted, err = q.counterValue(ctx, q.k.evicted()); err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	groups, err := q.st.HGetAll(ctx, q.k.groups())
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	byDomain := map[string]*GroupStats{}
	for _, g := range names {
		d, ft := splitGroup(g)
		gs := GroupStats{Domain: d, FailureType: ft}
		for st, dst := range map[State]*int64{StatePending: &gs.Pending, StateReplaying: &gs.Replaying,
			StateNeedsReview: &gs.NeedsReview, StateResolved: &gs.Resolved} {
			if *dst, err = q.counterValue(ctx, q.k.counter(g, st)); err != nil {
				return s, fmt.Errorf("stats: %w", err)
			}
		}
		if a, ok, err := q.aggregate(ctx, g); err != nil {
			return s, err
		} else if ok {
			gs.Compressed = a.Count
		}
		s.Groups = append(s.Groups, gs)
		dt := byDomain[d]
		if dt == nil {
			dt = &GroupStats{Domain: d}
			byDomain[d] = dt
		}
		dt.Pending += gs.Pending
		dt.Replaying += gs.Replaying
		dt.NeedsReview += gs.NeedsReview
		dt.Resolved += gs.Resolved
		dt.Compressed += gs.Compressed
	}
	for _, g := range names {
		d, _ := splitGroup(g)
		if dt := byDomain[d]; dt != nil {
			s.Domains = append(s.Domains, *dt)
			delete(byDomain, d)
		}
	}
	if s.Operations, err = q.operationStats(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// operationStats reads the counters by domain and operation.
func (q *Queue) operationStats(ctx context.Context) ([]OperationStats, error) {
	ogs, err := q.st.HGetAll(ctx, q.k.opGroups())
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	out := make([]OperationStats, 0, len(ogs))
	for og := range ogs {
		d, op := splitGroup(og)
		os := OperationStats{Domain: d, Operation: op}
		for st, dst := range map[State]*int64{StatePending: &os.Pending, StateReplaying: &os.Replaying,
			StateNeedsReview: &os.NeedsReview, StateResolved: &os.Resolved} {
			if *dst, err = q.counterValue(ctx, q.k.opCounter(og, st)); err != nil {
				return nil, fmt.Errorf("stats: %w", err)
			}
			*dst = max(*dst, 0)
		}
		out = append(out, os)
	}
	slices.SortFunc(out, func(a, b OperationStats) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Operation, b.Operation))
	})
	return out, nil
}

// Aggregates returns the summaries compress_oldest wrote, by domain and
// failure type.
func (q *Queue) Aggregates(ctx context.Context) ([]Aggregate, error) {
	groups, err := q.st.HGetAll(ctx, q.k.groups())
	if err != nil {
		return nil, fmt.Errorf("aggregates: %w", err)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	var out []Aggregate
	for _, g := range names {
		a, ok, err := q.aggregate(ctx, g)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

func (q *Queue) aggregate(ctx context.Context, g string) (Aggregate, bool, error) {
	b, err := q.st.Get(ctx, q.k.aggregate(g))
	if errors.Is(err, store.ErrNotFound) {
		return Aggregate{}, false, nil
	}
	if err != nil {
		return Aggregate{}, false, fmt.Errorf("read aggregate: %w", err)
	}
	var a Aggregate
	if err := json.Unmarshal(b, &a); err != nil {
		return Aggregate{}, false, fmt.Errorf("decode aggregate %s: %w", q.k.aggregate(g), err)
	}
	return a, true, nil
}
