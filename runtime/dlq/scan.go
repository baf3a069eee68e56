package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/baldur-go/baldur/runtime/store"
)

// Scans read streams in chunks that start small (an eviction wants the
// first live entry, usually the very first) and double up to scanChunk.
const (
	firstChunk = 8
	scanChunk  = 128
)

// load reads entry id.
func (q *Queue) load(ctx context.Context, id string) ([]byte, *record, error) {
	raw, err := q.st.Get(ctx, q.k.entry(id))
	if errors.Is(err, store.ErrNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read entry %s: %w", id, err)
	}
	return examine(id, raw, nil)
}

// examine decodes raw, the record of entry id as read (nil: gone), unless
// it lacks one of needles: then it returns raw with a nil record and error.
func examine(id string, raw []byte, needles [][]byte) ([]byte, *record, error) {
	if raw == nil {
		return nil, nil, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	for _, n := range needles {
		if !bytes.Contains(raw, n) {
			return raw, nil, nil
		}
	}
	r, err := decodeRecord(id, raw)
	if err != nil {
		return raw, nil, err
	}
	return raw, r, nil
}

// loadMany reads the records of the ids in one round trip; a record that
// is gone is nil.
func (q *Queue) loadMany(ctx context.Context, what string, ids []string) ([][]byte, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = q.k.entry(id)
	}
	raws, err := q.st.GetMany(ctx, keys...)
	if err != nil {
		return nil, fmt.Errorf("read %s entries: %w", what, err)
	}
	return raws, nil
}

// needles returns byte strings every stored record matching f contains, so
// that scans skip most others without decoding them: a field's JSON as
// json.Marshal writes it. A needle may also match inside the arguments;
// the decoded record is checked against f anyway.
func needles(f Filter) [][]byte {
	var out [][]byte
	add := func(field, v string) {
		b, _ := json.Marshal(v) // a string always marshals
		out = append(out, append([]byte(`"`+field+`":`), b...))
	}
	if f.Operation != "" {
		add("o", f.Operation)
	}
	if f.FailureType != "" {
		add("t", f.FailureType)
	}
	if f.State != "" {
		add("s", string(f.State))
	}
	return out
}

// scanDomain calls fn with the unresolved entries of domain whose stream ID
// is >= from, in capture order, until fn returns false. It drops garbage
// from the stream as it goes: ids whose record is gone or resolved, which
// never come back. A record that does not decode is logged and skipped, not
// dropped.
//
// Records that lack one of needles (see needles) are skipped undecoded.
func (q *Queue) scanDomain(ctx context.Context, domain string, from store.ID, needles [][]byte, fn func(sid store.ID, raw []byte, r *record) bool) error {
	stream := q.k.domain(domain)
	// The head hint is only learnt by scans that start at the head: a scan
	// from a cursor knows nothing of the entries before it.
	onlyGarbage := from.IsZero()
	if h, ok := q.heads.Load(domain); ok && from.Less(h.(store.ID)) {
		from, onlyGarbage = h.(store.ID), true
	}
	head := from
	var garbage []store.ID
	defer func() { q.dropGarbage(ctx, stream, garbage) }()
	for chunk := firstChunk; ; chunk = min(2*chunk, scanChunk) {
		batch, err := q.st.Range(ctx, stream, from, chunk)
		if err != nil {
			return fmt.Errorf("scan domain %s: %w", domain, err)
		}
		ids := make([]string, len(batch))
		for i, en := range batch {
			ids[i] = string(en.Value)
		}
		raws, err := q.loadMany(ctx, "domain "+domain, ids)
		if err != nil {
			return err
		}
		for i, en := range batch {
			from = en.ID.Next()
			id := ids[i]
			raw, r, err := examine(id, raws[i], needles)
			switch {
			case raw != nil && r == nil && err == nil:
				// Skipped by the needles: not garbage as far as we know.
			case errors.Is(err, ErrNotFound) || (err == nil && r.State == StateResolved):
				garbage = append(garbage, en.ID)
				if onlyGarbage {
					head = en.ID.Next()
				}
				continue
			case raw != nil && r == nil:
				q.log.Warn("dlq.entry_unreadable", slog.String("id", id), slog.String("error", err.Error()))
			case err != nil:
				return err
			default:
				if onlyGarbage {
					onlyGarbage = false
					q.advanceHead(domain, head)
				}
				if !fn(en.ID, raw, r) {
					return nil
				}
				continue
			}
			if onlyGarbage {
				onlyGarbage = false
				q.advanceHead(domain, head)
			}
		}
		if len(batch) < chunk {
			if onlyGarbage {
				q.advanceHead(domain, head)
			}
			return nil
		}
		if len(garbage) >= scanChunk {
			q.dropGarbage(ctx, stream, garbage)
			garbage = garbage[:0]
		}
	}
}

// dropGarbage removes stale ids from an index stream. A failure only costs a
// later scan the same work, so it is logged, not returned.
func (q *Queue) dropGarbage(ctx context.Context, stream string, ids []store.ID) {
	if len(ids) == 0 {
		return
	}
	if _, err := q.st.Remove(context.WithoutCancel(ctx), stream, ids...); err != nil {
		q.log.Warn("dlq.index_cleanup_failed", slog.String("stream", stream), slog.String("error", err.Error()))
	}
}

// advanceHead remembers that the stream of domain holds only garbage before
// id, so that scans from the start skip it (the memory and embedded stores
// keep removed entries as tombstones for a while).
func (q *Queue) advanceHead(domain string, id store.ID) {
	for {
		cur, ok := q.heads.Load(domain)
		if ok && !cur.(store.ID).Less(id) {
			return
		}
		if !ok {
			if _, loaded := q.heads.LoadOrStore(domain, id); !loaded {
				return
			}
			continue
		}
		if q.heads.CompareAndSwap(domain, cur, id) {
			return
		}
	}
}

// scanIndex calls fn with the entries a state index points at whose stream ID
// is >= from, until fn returns false. Stale index entries (the entry moved
// on or is gone) are skipped, and dropped when prune is set.
func (q *Queue) scanIndex(ctx context.Context, state State, from store.ID, prune bool, needles [][]byte, fn func(sid store.ID, raw []byte, r *record) bool) error {
	stream := q.k.stateIndex(state)
	var stale []store.ID
	defer func() {
		if prune {
			q.dropGarbage(ctx, stream, stale)
		}
	}()
	for chunk := firstChunk; ; chunk = min(2*chunk, scanChunk) {
		batch, err := q.st.Range(ctx, stream, from, chunk)
		if err != nil {
			return fmt.Errorf("scan %s entries: %w", state, err)
		}
		type ref struct {
			id string
			v  uint64
			ok bool
		}
		refs := make([]ref, len(batch))
		ids := make([]string, 0, len(batch))
		for i, en := range batch {
			id, v, ok := parseIndexValue(en.Value)
			refs[i] = ref{id, v, ok}
			if ok {
				ids = append(ids, id)
			}
		}
		raws, err := q.loadMany(ctx, string(state), ids)
		if err != nil {
			return err
		}
		for i, en := range batch {
			from = en.ID.Next()
			id, v := refs[i].id, refs[i].v
			if !refs[i].ok {
				stale = append(stale, en.ID)
				continue
			}
			raw, r, err := examine(id, raws[0], needles)
			raws = raws[1:]
			switch {
			case raw != nil && r == nil && err == nil:
				continue // skipped by the needles
			case errors.Is(err, ErrNotFound):
				stale = append(stale, en.ID)
				continue
			case raw != nil && r == nil:
				q.log.Warn("dlq.entry_unreadable", slog.String("id", id), slog.String("error", err.Error()))
				continue
			case err != nil:
				return err
			}
			if r.V != v || r.State != state {
				stale = append(stale, en.ID)
				continue
			}
			if !fn(en.ID, raw, r) {
				return nil
			}
		}
		if len(batch) < chunk {
			return nil
		}
	}
}

// domainNames returns every domain that ever parked an entry, sorted.
func (q *Queue) domainNames(ctx context.Context) ([]string, error) {
	h, err := q.st.HGetAll(ctx, q.k.domains())
	if err != nil {
		return nil, fmt.Errorf("read dlq domains: %w", err)
	}
	out := make([]string, 0, len(h))
	for d := range h {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}
