package store

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store/internal/wal"
)

// internalPrefix marks keys the store keeps for itself (the failover
// journal); Keys never lists them.
const internalPrefix = "\x00baldur/"

type kind uint8

const (
	kindString kind = iota + 1
	kindHash
	kindStream
)

type item struct {
	kind     kind
	str      []byte
	hash     map[string]string // replaced on change, never mutated: snapshots share it
	st       *stream
	expireAt int64 // unix nanoseconds, 0 = never
}

type streamEntry struct {
	id    ID
	value []byte
	dead  bool
}

// stream keeps entries sorted by ID; Remove marks them dead and the slice is
// rebuilt once the dead outnumber the live, so removing the oldest entries of
// a long DLQ does not shift the whole slice each time.
type stream struct {
	entries []streamEntry
	live    int
	last    ID
}

func (s *stream) find(id ID) (int, bool) {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].id.Compare(id) >= 0 })
	return i, i < len(s.entries) && s.entries[i].id == id
}

func (s *stream) compact() {
	dead := len(s.entries) - s.live
	if dead < 64 || dead < s.live {
		return
	}
	kept := make([]streamEntry, 0, s.live)
	for _, e := range s.entries {
		if !e.dead {
			kept = append(kept, e)
		}
	}
	s.entries = kept
}

// engine is the state machine shared by the memory and embedded stores:
// Redis-like keys in memory, optionally made durable by a write-ahead log.
type engine struct {
	mu     sync.RWMutex
	clock  clock.Clock
	items  map[string]*item
	exp    expiryHeap
	hub    *hub
	log    *wal.Log // nil for the memory store
	closed bool
	what   string // "memory store" or "embedded store", for error messages
}

func newEngine(c clock.Clock, what string) *engine {
	if c == nil {
		c = clock.Real()
	}
	return &engine{clock: c, items: make(map[string]*item), hub: newHub(), what: what}
}

func (e *engine) now() int64 { return e.clock.Now().UnixNano() }

// live returns the item at key unless it is missing or expired.
func (e *engine) live(key string, now int64) *item {
	it := e.items[key]
	if it == nil || (it.expireAt != 0 && it.expireAt <= now) {
		return nil
	}
	return it
}

// read runs fn under the read lock.
func (e *engine) read(ctx context.Context, fn func(now int64) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return errClosed
	}
	return fn(e.now())
}

// Get implements Store.
func (e *engine) Get(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := e.read(ctx, func(now int64) error {
		it := e.live(key, now)
		switch {
		case it == nil:
			return ErrNotFound
		case it.kind != kindString:
			return fmt.Errorf("get %q: %w", key, ErrWrongType)
		}
		out = slices.Clone(it.str)
		if out == nil {
			out = []byte{}
		}
		return nil
	})
	return out, err
}

// GetMany implements Store.
func (e *engine) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := validKeys(keys); err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	err := e.read(ctx, func(now int64) error {
		for i, k := range keys {
			if it := e.live(k, now); it != nil && it.kind == kindString {
				out[i] = append([]byte{}, it.str...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TTL implements Store.
func (e *engine) TTL(ctx context.Context, key string) (time.Duration, error) {
	var ttl time.Duration
	err := e.read(ctx, func(now int64) error {
		it := e.live(key, now)
		if it == nil {
			return ErrNotFound
		}
		if it.expireAt != 0 {
			ttl = time.Duration(it.expireAt - now)
		}
		return nil
	})
	return ttl, err
}

// Keys implements Store.
func (e *engine) Keys(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := e.read(ctx, func(now int64) error {
		for k := range e.items {
			if strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, internalPrefix) && e.live(k, now) != nil {
				out = append(out, k)
			}
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// HGetAll implements Store.
func (e *engine) HGetAll(ctx context.Context, key string) (map[string]string, error) {
	out := map[string]string{}
	err := e.read(ctx, func(now int64) error {
		it := e.live(key, now)
		if it == nil {
			return nil
		}
		if it.kind != kindHash {
			return fmt.Errorf("hgetall %q: %w", key, ErrWrongType)
		}
		maps.Copy(out, it.hash)
		return nil
	})
	return out, err
}

// Range implements Store.
func (e *engine) Range(ctx context.Context, key string, from ID, count int) ([]Entry, error) {
	var out []Entry
	err := e.read(ctx, func(now int64) error {
		st, err := e.streamAt(key, now)
		if err != nil || st == nil {
			return err
		}
		i, _ := st.find(from)
		for ; i < len(st.entries) && (count <= 0 || len(out) < count); i++ {
			if en := st.entries[i]; !en.dead {
				out = append(out, Entry{ID: en.id, Value: slices.Clone(en.value)})
			}
		}
		return nil
	})
	return out, err
}

// Len implements Store.
func (e *engine) Len(ctx context.Context, key string) (int64, error) {
	var n int64
	err := e.read(ctx, func(now int64) error {
		st, err := e.streamAt(key, now)
		if st != nil {
			n = int64(st.live)
		}
		return err
	})
	return n, err
}

func (e *engine) streamAt(key string, now int64) (*stream, error) {
	it := e.live(key, now)
	if it == nil {
		return nil, nil
	}
	if it.kind != kindStream {
		return nil, fmt.Errorf("stream %q: %w", key, ErrWrongType)
	}
	return it.st, nil
}

// Set implements Store.
func (e *engine) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := e.atomic(ctx, Txn{Ops: []Op{SetOp(key, value, ttl)}}, nil)
	return err
}

// SetNX implements Store.
func (e *engine) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := validTTL(ttl, false); err != nil {
		return false, err
	}
	res, err := e.atomic(ctx, Txn{Conds: []Cond{IfAbsent(key)}, Ops: []Op{SetOp(key, value, ttl)}}, nil)
	return res.Applied, err
}

// CompareAndSet implements Store.
func (e *engine) CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error) {
	res, err := e.atomic(ctx, Txn{Conds: []Cond{IfEquals(key, old)}, Ops: []Op{SetOp(key, newValue, ttl)}}, nil)
	return res.Applied, err
}

// Delete implements Store.
func (e *engine) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	ops := make([]Op, len(keys))
	for i, k := range keys {
		ops[i] = DeleteOp(k)
	}
	res, err := e.atomic(ctx, Txn{Ops: ops}, nil)
	var n int64
	for _, r := range res.Results {
		n += r.N
	}
	return n, err
}

// Incr implements Store.
func (e *engine) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	res, err := e.atomic(ctx, Txn{Ops: []Op{IncrOp(key, delta, ttl)}}, nil)
	if err != nil {
		return 0, err
	}
	return res.Results[0].N, nil
}

// HSet implements Store.
func (e *engine) HSet(ctx context.Context, key string, fields map[string]string) error {
	_, err := e.atomic(ctx, Txn{Ops: []Op{HSetOp(key, fields)}}, nil)
	return err
}

// Append implements Store.
func (e *engine) Append(ctx context.Context, key string, value []byte) (ID, error) {
	res, err := e.atomic(ctx, Txn{Ops: []Op{AppendOp(key, value)}}, nil)
	if err != nil {
		return ID{}, err
	}
	return res.Results[0].ID, nil
}

// Remove implements Store.
func (e *engine) Remove(ctx context.Context, key string, ids ...ID) (int64, error) {
	if len(ids) == 0 {
		return 0, validKey(key)
	}
	res, err := e.atomic(ctx, Txn{Ops: []Op{RemoveOp(key, ids...)}}, nil)
	if err != nil {
		return 0, err
	}
	return res.Results[0].N, nil
}

// Atomic implements Store.
func (e *engine) Atomic(ctx context.Context, txn Txn) (TxnResult, error) {
	return e.atomic(ctx, txn, nil)
}

// Publish implements Store: the change feed of the memory and embedded
// stores reaches subscribers in this process only.
func (e *engine) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := validKey(channel); err != nil {
		return err
	}
	if err := validValue(payload); err != nil {
		return err
	}
	return e.read(ctx, func(int64) error {
		e.hub.publish(Message{Channel: channel, Payload: payload})
		return nil
	})
}

// Subscribe implements Store.
func (e *engine) Subscribe(ctx context.Context, channels ...string) (Subscription, error) {
	return e.hub.subscribe(ctx, channels)
}

// Ping implements Store: it fails once the write-ahead log has failed.
func (e *engine) Ping(ctx context.Context) error {
	return e.read(ctx, func(int64) error { return e.logErr() })
}

func (e *engine) logErr() error {
	if e.log == nil {
		return nil
	}
	if err := e.log.Err(); err != nil {
		return fmt.Errorf("%s: %w: %w", e.what, ErrUnavailable, err)
	}
	return nil
}

// Close implements Store.
func (e *engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.hub.close()
	if e.log != nil {
		return e.log.Close()
	}
	return nil
}

// journalFunc builds the failover journal entry of an applied txn from its
// results and the time it was applied at; nil means no journal.
type journalFunc func(now int64, results []OpResult) []byte

// journalStream is the local stream Failover journals degraded writes to.
const journalStream = internalPrefix + "journal"

// atomic evaluates txn and applies it, logs it as one record and waits for
// that record to be durable before reporting success. With journal set, the
// journal entry is appended in the same record, so a write and its journal
// entry survive a crash together or not at all.
func (e *engine) atomic(ctx context.Context, txn Txn, journal journalFunc) (TxnResult, error) {
	return e.commit(ctx, txn, journal, false)
}

// commit is atomic; with always, the journal entry is written even when txn
// does not apply (its conditions fail, or it has no ops), in the same
// durable record as whatever did apply.
func (e *engine) commit(ctx context.Context, txn Txn, journal journalFunc, always bool) (TxnResult, error) {
	if len(txn.Ops) > 0 || !always {
		if err := txn.validate(); err != nil {
			return TxnResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return TxnResult{}, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return TxnResult{}, errClosed
	}
	if err := e.logErr(); err != nil {
		e.mu.Unlock()
		return TxnResult{}, err
	}
	now := e.now()
	e.sweep(now)
	applied := len(txn.Ops) > 0 && e.holds(txn.Conds, now)
	if !applied && !always {
		e.mu.Unlock()
		return TxnResult{}, nil
	}
	var (
		results []OpResult
		effs    []effect
		pubs    []Message
	)
	if applied {
		if err := e.check(txn.Ops, now); err != nil {
			e.mu.Unlock()
			return TxnResult{}, err
		}
		results, effs, pubs = e.apply(txn.Ops, now)
	}
	if journal != nil {
		st := e.streamOrNil(journalStream, now)
		eff := effect{kind: effAppend, key: journalStream, id: nextID(st, now), value: journal(now, results)}
		e.applyEffect(eff)
		effs = append(effs, eff)
	}
	var ticket *wal.Ticket
	if e.log != nil && len(effs) > 0 {
		var due bool
		ticket, due = e.log.Append(encodeRecord(nil, effs))
		if due {
			e.log.Compact(e.snapshot(now))
		}
	}
	e.mu.Unlock()
	if ticket != nil {
		// The change is visible to readers already; it is acknowledged only now.
		if err := ticket.Wait(); err != nil {
			return TxnResult{}, fmt.Errorf("%s: %w: %w", e.what, ErrUnavailable, err)
		}
	}
	if len(pubs) > 0 {
		e.hub.publish(pubs...)
	}
	return TxnResult{Applied: applied, Results: results}, nil
}

func (e *engine) holds(conds []Cond, now int64) bool {
	for _, c := range conds {
		it := e.live(c.key, now)
		var ok bool
		switch c.kind {
		case condAbsent:
			ok = it == nil
		case condExists:
			ok = it != nil
		case condEquals:
			ok = it != nil && it.kind == kindString && bytes.Equal(it.str, c.value)
		}
		if !ok {
			return false
		}
	}
	return true
}

// check finds every error before anything changes, following the kinds the
// txn's own earlier ops give its keys, so that apply cannot fail half-way.
func (e *engine) check(ops []Op, now int64) error {
	type staged struct {
		kind kind // 0: absent
		str  []byte
	}
	var overlay map[string]staged
	cur := func(key string) staged {
		if s, ok := overlay[key]; ok {
			return s
		}
		if it := e.live(key, now); it != nil {
			return staged{kind: it.kind, str: it.str}
		}
		return staged{}
	}
	set := func(key string, s staged) {
		if overlay == nil {
			overlay = make(map[string]staged)
		}
		overlay[key] = s
	}
	want := func(o Op, k kind) error {
		if got := cur(o.key).kind; got != 0 && got != k {
			return fmt.Errorf("%v: %w", o, ErrWrongType)
		}
		return nil
	}
	for _, o := range ops {
		switch o.kind {
		case opSet:
			set(o.key, staged{kind: kindString, str: o.value})
		case opDelete:
			set(o.key, staged{})
		case opIncr:
			if err := want(o, kindString); err != nil {
				return err
			}
			n, err := parseCounter(cur(o.key).str)
			if err != nil {
				return fmt.Errorf("%v: %w", o, err)
			}
			if (o.delta > 0 && n > math.MaxInt64-o.delta) || (o.delta < 0 && n < math.MinInt64-o.delta) {
				return fmt.Errorf("%v: increment would overflow: %w", o, ErrInvalid)
			}
			set(o.key, staged{kind: kindString, str: strconv.AppendInt(nil, n+o.delta, 10)})
		case opHSet:
			if err := want(o, kindHash); err != nil {
				return err
			}
			set(o.key, staged{kind: kindHash})
		case opAppend:
			if err := want(o, kindStream); err != nil {
				return err
			}
			set(o.key, staged{kind: kindStream})
		case opRemove:
			if err := want(o, kindStream); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseCounter reads a counter; a missing value (nil) counts as 0.
func parseCounter(b []byte) (int64, error) {
	if b == nil {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value is not an integer: %w", ErrWrongType)
	}
	return n, nil
}

// apply performs checked ops, returning their results, the effects to log and
// the messages to publish once the effects are durable.
func (e *engine) apply(ops []Op, now int64) ([]OpResult, []effect, []Message) {
	results := make([]OpResult, len(ops))
	effs := make([]effect, 0, len(ops))
	var pubs []Message
	do := func(eff effect) {
		e.applyEffect(eff)
		effs = append(effs, eff)
	}
	for i, o := range ops {
		switch o.kind {
		case opSet:
			var exp int64
			if o.ttl > 0 {
				exp = now + int64(o.ttl)
			} else if o.ttl == KeepTTL {
				if it := e.live(o.key, now); it != nil {
					exp = it.expireAt
				}
			}
			do(effect{kind: effSet, key: o.key, value: o.value, expireAt: exp})
		case opDelete:
			if e.live(o.key, now) != nil {
				results[i].N = 1
				do(effect{kind: effDel, key: o.key})
			} else {
				delete(e.items, o.key) // an expired leftover; replay drops it on its own
			}
		case opIncr:
			var n, exp int64
			if it := e.live(o.key, now); it != nil {
				n, _ = parseCounter(it.str)
				exp = it.expireAt
			} else if o.ttl > 0 {
				exp = now + int64(o.ttl)
			}
			n += o.delta
			results[i].N = n
			do(effect{kind: effSet, key: o.key, value: strconv.AppendInt(nil, n, 10), expireAt: exp})
		case opHSet:
			do(effect{kind: effHSet, key: o.key, fields: o.fields})
		case opAppend:
			id := nextID(e.streamOrNil(o.key, now), now)
			results[i].ID = id
			do(effect{kind: effAppend, key: o.key, id: id, value: o.value})
		case opRemove:
			st := e.streamOrNil(o.key, now)
			if st == nil {
				continue
			}
			var gone []ID
			for _, id := range o.ids {
				if j, ok := st.find(id); ok && !st.entries[j].dead && !slices.Contains(gone, id) {
					gone = append(gone, id)
				}
			}
			results[i].N = int64(len(gone))
			if len(gone) > 0 {
				do(effect{kind: effRemove, key: o.key, ids: gone})
			}
		case opPublish:
			pubs = append(pubs, Message{Channel: o.key, Payload: o.value})
		}
	}
	return results, effs, pubs
}

func (e *engine) streamOrNil(key string, now int64) *stream {
	if it := e.live(key, now); it != nil && it.kind == kindStream {
		return it.st
	}
	return nil
}

// nextID hands out stream IDs like Redis: the current millisecond, or the
// last ID's millisecond with the next sequence number when the clock has not
// moved on (or went back).
func nextID(st *stream, now int64) ID {
	var last ID
	if st != nil {
		last = st.last
	}
	ms := uint64(max(now/int64(time.Millisecond), 0))
	if ms > last.Ms {
		return ID{Ms: ms}
	}
	if last.IsZero() {
		return ID{Seq: 1} // 0-0 is the zero ID, which Range treats as "from the start"
	}
	return last.Next()
}

// applyEffect changes the state; it is the only code that does, live and
// during replay alike. It never fails: effects were checked before logging,
// and replay forces them through (a later effect fixes what an earlier one did).
func (e *engine) applyEffect(eff effect) {
	switch eff.kind {
	case effSet:
		e.items[eff.key] = &item{kind: kindString, str: eff.value, expireAt: eff.expireAt}
		if eff.expireAt != 0 {
			heap.Push(&e.exp, expiry{at: eff.expireAt, key: eff.key})
		}
	case effDel:
		delete(e.items, eff.key)
	case effHSet:
		it := e.items[eff.key]
		h := make(map[string]string, len(eff.fields))
		if it != nil && it.kind == kindHash {
			maps.Copy(h, it.hash)
		}
		maps.Copy(h, eff.fields)
		e.items[eff.key] = &item{kind: kindHash, hash: h}
	case effAppend:
		st := e.streamForWrite(eff.key)
		if st.last.Less(eff.id) {
			st.entries = append(st.entries, streamEntry{id: eff.id, value: eff.value})
			st.last = eff.id
			st.live++
		} else if i, ok := st.find(eff.id); !ok {
			st.entries = slices.Insert(st.entries, i, streamEntry{id: eff.id, value: eff.value})
			st.live++
		}
	case effRemove:
		st := e.streamForWrite(eff.key)
		for _, id := range eff.ids {
			if i, ok := st.find(id); ok && !st.entries[i].dead {
				st.entries[i].dead = true
				st.entries[i].value = nil
				st.live--
			}
		}
		st.compact()
	case effStream:
		st := e.streamForWrite(eff.key)
		if st.last.Less(eff.id) {
			st.last = eff.id
		}
	case effReset:
		e.items = make(map[string]*item)
		e.exp = nil
	}
}

func (e *engine) streamForWrite(key string) *stream {
	it := e.items[key]
	if it == nil || it.kind != kindStream {
		it = &item{kind: kindStream, st: &stream{}}
		e.items[key] = it
	}
	return it.st
}

// sweep deletes a bounded number of expired keys per write, so memory held by
// expired claims is returned without a background goroutine. Nothing is
// logged: replay finds the same keys expired.
func (e *engine) sweep(now int64) {
	for n := 0; n < 128 && len(e.exp) > 0 && e.exp[0].at <= now; n++ {
		x := heap.Pop(&e.exp).(expiry)
		if it := e.items[x.key]; it != nil && it.expireAt == x.at {
			delete(e.items, x.key)
		}
	}
}

type expiry struct {
	at  int64
	key string
}

// expiryHeap is a min-heap of deadlines. Overwritten keys leave stale entries
// behind; sweep recognises them because the key's deadline no longer matches.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// replay applies one logged record.
func (e *engine) replay(rec []byte) error {
	effs, err := decodeRecord(rec)
	if err != nil {
		return err
	}
	for _, eff := range effs {
		e.applyEffect(eff)
	}
	return nil
}

// snapshotRecordSize is the size a snapshot record grows to before the next
// one starts; big enough to amortise framing, small enough to stream.
const snapshotRecordSize = 256 << 10

// snapshot copies the live state (under e.mu, held by the caller) and returns
// the function that writes the copy as records on the log's background
// goroutine. Values are shared, not copied: stored byte slices and hash maps
// are never mutated once stored.
func (e *engine) snapshot(now int64) wal.SnapshotFunc {
	type entry struct {
		key     string
		it      item
		entries []streamEntry
	}
	state := make([]entry, 0, len(e.items))
	for k, it := range e.items {
		if e.live(k, now) == nil {
			continue
		}
		en := entry{key: k, it: *it}
		if it.kind == kindStream {
			en.it.st = &stream{last: it.st.last}
			en.entries = make([]streamEntry, 0, it.st.live)
			for _, se := range it.st.entries {
				if !se.dead {
					en.entries = append(en.entries, se)
				}
			}
		}
		state = append(state, en)
	}
	return func(emit func([]byte) error) error {
		var effs []effect
		size := 0
		add := func(eff effect) error {
			effs = append(effs, eff)
			size += len(eff.key) + len(eff.value) + 32
			for f, v := range eff.fields {
				size += len(f) + len(v)
			}
			if size < snapshotRecordSize {
				return nil
			}
			return flush(&effs, &size, emit)
		}
		for _, en := range state {
			var err error
			switch en.it.kind {
			case kindString:
				err = add(effect{kind: effSet, key: en.key, value: en.it.str, expireAt: en.it.expireAt})
			case kindHash:
				err = add(effect{kind: effHSet, key: en.key, fields: en.it.hash})
			case kindStream:
				// Entries first so that loading appends in order; then the
				// last ID, which may be past every entry still there.
				for _, se := range en.entries {
					if err = add(effect{kind: effAppend, key: en.key, id: se.id, value: se.value}); err != nil {
						break
					}
				}
				if err == nil {
					err = add(effect{kind: effStream, key: en.key, id: en.it.st.last})
				}
			}
			if err != nil {
				return err
			}
		}
		return flush(&effs, &size, emit)
	}
}

func flush(effs *[]effect, size *int, emit func([]byte) error) error {
	if len(*effs) == 0 {
		return nil
	}
	err := emit(encodeRecord(nil, *effs))
	*effs, *size = (*effs)[:0], 0
	return err
}

// resetAll deletes every key, durably: Failover's last step once Redis has
// everything written while degraded.
func (e *engine) resetAll(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	if err := e.logErr(); err != nil {
		e.mu.Unlock()
		return err
	}
	eff := effect{kind: effReset}
	e.applyEffect(eff)
	var ticket *wal.Ticket
	if e.log != nil {
		ticket, _ = e.log.Append(encodeRecord(nil, []effect{eff}))
	}
	e.mu.Unlock()
	if ticket != nil {
		if err := ticket.Wait(); err != nil {
			return fmt.Errorf("%s: %w: %w", e.what, ErrUnavailable, err)
		}
	}
	return nil
}

// hashes returns a copy of every live hash.
func (e *engine) hashes() map[string]map[string]string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := map[string]map[string]string{}
	for k, it := range e.items {
		if it.kind == kindHash {
			out[k] = maps.Clone(it.hash)
		}
	}
	return out
}

// empty reports whether the store holds no key at all, internal ones included.
func (e *engine) empty() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	now := e.now()
	for k := range e.items {
		if e.live(k, now) != nil {
			return false
		}
	}
	return true
}

func (e *engine) localEngine() *engine { return e }
