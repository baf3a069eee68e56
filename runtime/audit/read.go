package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/store"
)

// ErrNoRecord is returned by Get for a Seq the chain does not hold.
var ErrNoRecord = errors.New("no such audit record")

// Query filters List. Its zero value is the newest records, a page of
// DefaultLimit.
type Query struct {
	// Actor matches a key name or a CLI operator, exactly.
	Actor string `json:"actor,omitempty"`
	// Action matches exactly, or as a prefix when it ends with "*" ("dlq.*").
	Action string `json:"action,omitempty"`
	// Target matches exactly.
	Target string `json:"target,omitempty"`
	// Outcome matches exactly (OutcomeOK, OutcomeRefused, OutcomeFailed).
	Outcome string `json:"outcome,omitempty"`
	// Since and Until bound Time: Since <= Time < Until; zero is unbounded.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// Before pages: only records with Seq < Before (0: from the newest).
	Before uint64 `json:"before,omitempty"`
	// Limit is the page size, 1..MaxLimit; 0 means DefaultLimit.
	Limit int `json:"limit,omitempty"`
	// PendingReview keeps the records that carry ReviewRequired and have no
	// acknowledgement yet.
	PendingReview bool `json:"pending_review,omitempty"`
}

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

func (q Query) normalised() Query {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	return q
}

func (q *Query) match(r *Record) bool {
	if q.Actor != "" && r.Key != q.Actor && r.Operator != q.Actor {
		return false
	}
	if prefix, ok := strings.CutSuffix(q.Action, "*"); ok {
		if !strings.HasPrefix(r.Action, prefix) {
			return false
		}
	} else if q.Action != "" && r.Action != q.Action {
		return false
	}
	switch {
	case q.Target != "" && r.Target != q.Target,
		q.Outcome != "" && r.Outcome != q.Outcome,
		!q.Since.IsZero() && r.Time.Before(q.Since),
		!q.Until.IsZero() && !r.Time.Before(q.Until),
		q.Before > 0 && r.Seq >= q.Before,
		q.PendingReview && !r.ReviewRequired:
		return false
	}
	return true
}

// Page is one page of List, newest first.
type Page struct {
	Chain   string   `json:"chain"`
	Records []Record `json:"records"`
	// Next is the Before of the next page; 0 when this is the last.
	Next uint64 `json:"next,omitempty"`
}

// pageOf cuts recs (newest first, up to limit+1 of them) to a page.
func pageOf(recs []Record, limit int) Page {
	p := Page{Records: recs}
	if len(recs) > limit {
		p.Records = recs[:limit]
		p.Next = recs[limit-1].Seq
	}
	if p.Records == nil {
		p.Records = []Record{}
	}
	return p
}

// chainID is the chain the trail reads: the store's, or, before the store
// has one (a store emptied since), PostgreSQL's most recent.
func (t *Trail) chainID(ctx context.Context) (head, error) {
	h, _, err := t.readHead(ctx)
	if err != nil || h.Chain != "" || t.sql == nil {
		return h, err
	}
	chains, err := t.sql.Chains(ctx)
	if err != nil || len(chains) == 0 {
		return h, err
	}
	return head{Chain: chains[0]}, nil
}

// List returns a page of the chain's records matching q, newest first:
// from PostgreSQL when it is configured, else from the store.
func (t *Trail) List(ctx context.Context, q Query) (Page, error) {
	if t == nil {
		return Page{}, ErrDisabled
	}
	q = q.normalised()
	t.catchUp(ctx)
	h, err := t.chainID(ctx)
	if err != nil {
		return Page{}, err
	}
	if t.sql != nil {
		p, err := t.sql.List(ctx, h.Chain, q)
		p.Chain = h.Chain
		return p, err
	}
	var keep, review []Record
	acked := map[uint64]bool{}
	err = t.walkStore(ctx, func(r *Record) bool {
		if r.Action == ActionAcknowledge {
			acked[r.Acknowledges] = true
		}
		if !q.match(r) {
			return true
		}
		if q.PendingReview {
			review = append(review, *r)
			return true
		}
		keep = append(keep, *r)
		if len(keep) > 4*(q.Limit+1) {
			keep = slices.Delete(keep, 0, len(keep)-(q.Limit+1))
		}
		return true
	})
	if err != nil {
		return Page{}, err
	}
	for _, r := range review {
		if !acked[r.Seq] {
			keep = append(keep, r)
		}
	}
	if len(keep) > q.Limit+1 {
		keep = keep[len(keep)-(q.Limit+1):]
	}
	slices.Reverse(keep)
	p := pageOf(keep, q.Limit)
	p.Chain = h.Chain
	return p, nil
}

// Get returns the record seq of the chain, or an error wrapping ErrNoRecord.
func (t *Trail) Get(ctx context.Context, seq uint64) (Record, error) {
	if t == nil {
		return Record{}, ErrDisabled
	}
	t.catchUp(ctx)
	h, err := t.chainID(ctx)
	if err != nil {
		return Record{}, err
	}
	if t.sql != nil {
		r, err := t.sql.Get(ctx, h.Chain, seq)
		if !errors.Is(err, ErrNoRecord) {
			return r, err
		}
		// Not drained yet: the store still has it.
	}
	var found *Record
	err = t.walkStore(ctx, func(r *Record) bool {
		if r.Seq == seq {
			c := *r
			found = &c
			return false
		}
		return r.Seq < seq
	})
	if err != nil {
		return Record{}, err
	}
	if found == nil {
		return Record{}, fmt.Errorf("record %d: %w", seq, ErrNoRecord)
	}
	return *found, nil
}

// catchUp seals what is pending and drains it before a read, so that an
// action is listed as soon as its answer is out (the admin server records it
// before the answer leaves). A failure is the read's to meet: PostgreSQL
// away fails the read from it, with its own error.
func (t *Trail) catchUp(ctx context.Context) {
	_ = t.Sync(ctx)
}

// walkStore calls fn for each record of the store's chain stream, oldest
// first, until fn returns false.
func (t *Trail) walkStore(ctx context.Context, fn func(*Record) bool) error {
	from := store.ID{}
	for {
		entries, err := t.st.Range(ctx, keyChain, from, 1000)
		if err != nil {
			return err
		}
		for _, e := range entries {
			var r Record
			if err := json.Unmarshal(e.Value, &r); err != nil {
				r = Record{Action: "audit.record_unreadable", Target: e.ID.String()} // never verifies
			}
			if !fn(&r) {
				return nil
			}
		}
		if len(entries) < 1000 {
			return nil
		}
		from = entries[len(entries)-1].ID.Next()
	}
}

// Verify walks the chain and names the first record where it breaks:
// PostgreSQL's copy (when configured) followed by the records still only in
// the store, ending at the head the store keeps. It sets Stats.ChainBroken.
func (t *Trail) Verify(ctx context.Context) (Verification, error) {
	if t == nil {
		return Verification{}, ErrDisabled
	}
	t.catchUp(ctx)
	h, err := t.chainID(ctx)
	if err != nil {
		return Verification{}, err
	}
	d, err := t.readDrained(ctx)
	if err != nil {
		return Verification{}, err
	}
	v := Verifier{AnchorSeq: h.Seq, AnchorHash: h.Hash}
	if t.sql != nil {
		err = t.sql.Walk(ctx, h.Chain, func(r *Record) bool { return v.Add(r) == nil })
		if err != nil {
			return Verification{}, err
		}
	} else {
		// Without PostgreSQL the store holds the whole chain, unless an
		// earlier configuration drained and trimmed it.
		v.FromMiddle = d.Chain == h.Chain && d.Seq > 0
	}
	last := v.res.Last
	err = t.walkStore(ctx, func(r *Record) bool {
		if t.sql != nil && r.Seq <= last {
			return true // drained but not trimmed yet: PostgreSQL's copy was checked
		}
		return v.Add(r) == nil
	})
	if err != nil {
		return Verification{}, err
	}
	res := v.Finish()
	res.Chain = h.Chain
	t.broken.Store(res.Broken != nil)
	if res.Broken != nil {
		t.log.Error("audit.chain_broken", "chain", h.Chain, "seq", res.Broken.Seq, "reason", res.Broken.Reason)
	}
	return res, nil
}

// Errors of Acknowledge.
var (
	// ErrNotForReview: the record does not carry ReviewRequired.
	ErrNotForReview = errors.New("the record does not require a review")
	// ErrAlreadyAcknowledged: an acknowledgement of the record exists.
	ErrAlreadyAcknowledged = errors.New("the record's review is already acknowledged")
)

// Acknowledge records an admin's acknowledgement of the record seq, which
// must carry ReviewRequired and have none yet: a record of its own
// (ActionAcknowledge, the note as its Reason), in the same chain.
func (t *Trail) Acknowledge(ctx context.Context, seq uint64, who Actor, note, requestID string) error {
	if t == nil {
		return ErrDisabled
	}
	// What was recorded before is read back from where it lies: sealed,
	// and in PostgreSQL when it is configured.
	if err := t.Sync(ctx); err != nil {
		return err
	}
	r, err := t.Get(ctx, seq)
	if err != nil {
		return err
	}
	if !r.ReviewRequired {
		return fmt.Errorf("record %d (%s): %w", seq, r.Action, ErrNotForReview)
	}
	page, err := t.List(ctx, Query{PendingReview: true, Before: seq + 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(page.Records) == 0 || page.Records[0].Seq != seq {
		return fmt.Errorf("record %d: %w", seq, ErrAlreadyAcknowledged)
	}
	return t.Record(ctx, Record{Actor: who, Action: ActionAcknowledge, Target: strconv.FormatUint(seq, 10),
		Reason: note, Detail: "review of " + r.Action + " on " + r.Target, RequestID: requestID, Acknowledges: seq})
}
