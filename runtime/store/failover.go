package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is whether Failover serves from Redis or from its local store.
type Mode int32

const (
	// ModeNormal: every call goes to Redis.
	ModeNormal Mode = iota
	// ModeDegraded: Redis is unreachable; calls are served by the local
	// store and writes are journaled for replay.
	ModeDegraded
)

func (m Mode) String() string {
	if m == ModeDegraded {
		return "DEGRADED"
	}
	return "NORMAL"
}

// Local is the store Failover falls back to: *Embedded in production (writes
// made while degraded survive a crash) or *Memory in tests.
type Local interface {
	Store
	localEngine() *engine
}

// Conflict is a write made while degraded that Redis refused on replay: the
// same idempotency key claimed on another worker meanwhile, or a
// compare-and-set whose old value Redis no longer holds.
type Conflict struct {
	// Key is the key whose condition failed (or the first key of the write).
	Key string
	// Op describes the write: "setnx", "compare-and-set" or the op list of an Atomic.
	Op string
	// Local is the value this worker wrote while degraded, if it was a string.
	Local []byte
	// Remote is what Redis holds now; nil when the key is absent or not a string.
	Remote []byte
	// Reason says why the replay did not apply.
	Reason string
	// WrittenAt is when the write was made locally.
	WrittenAt time.Time
}

// HashReconciler merges the hashes written while degraded into Redis. It
// gets every hash the local store holds (all written during the outage) and
// the Redis store, and must leave Redis with the merged result; the breaker
// runtime plugs in most-restrictive-wins here. It runs with writers paused
// and must not call the Failover itself. An error wrapping ErrUnavailable
// keeps the store degraded and the whole reconciliation is retried later;
// any other error is reported as a Conflict and recovery goes on.
type HashReconciler func(ctx context.Context, remote Store, hashes map[string]map[string]string) error

// FailoverOptions configure NewFailover. The zero value is usable.
type FailoverOptions struct {
	// PingInterval is how often Redis is pinged, to notice it going away and
	// coming back. Default 250ms.
	PingInterval time.Duration
	// PingTimeout bounds each ping. Default 400ms, so a lost Redis is
	// noticed within PingInterval+PingTimeout < 1s even with no traffic.
	PingTimeout time.Duration
	// ReconcileTimeout bounds one reconciliation attempt. Default 30s.
	ReconcileTimeout time.Duration
	// ReplayBatch is how many journaled writes go to Redis per pipelined
	// round trip. Default 256.
	ReplayBatch int
	// Logger receives store.degraded_entered, store.degraded_exited and
	// store.reconcile_conflict. Default slog.Default().
	Logger *slog.Logger
	// OnModeChange is called on every switch, from the goroutine that
	// switched. It must return quickly and must not call the Failover.
	OnModeChange func(Mode)
	// OnConflict is called for every write Redis refused on replay, after it
	// was logged and counted. It must return quickly and must not call the Failover.
	OnConflict func(Conflict)
	// ReconcileHashes merges hashes written while degraded; nil writes them
	// to Redis as they are (local wins field by field).
	ReconcileHashes HashReconciler
}

// FailoverStats counts what Failover did since it was built.
type FailoverStats struct {
	Mode          Mode
	DegradedSince time.Time // zero in ModeNormal
	Degradations  int64     // switches to ModeDegraded
	Replayed      int64     // journaled writes pushed to Redis
	Conflicts     int64     // journaled writes Redis refused (see Conflict)
	Expired       int64     // journaled writes whose TTL ran out before replay
}

// Failover is a Store on Redis that keeps serving when Redis goes away. A
// failed command (ErrUnavailable) or a failed background ping switches it to
// DEGRADED: calls go to the local store, and every write is journaled there
// in the same durable record as the write itself. Once Redis answers again
// the journal is replayed (DLQ appends, claims, counters, deletes), hashes
// go through ReconcileHashes, the local store is emptied, and NORMAL resumes.
//
// Replay is at-least-once: a write that timed out on Redis and was then
// made locally may reach Redis twice (an append twice; a claim with the same
// value is recognised and not reported). Reads while degraded see only what
// was written while degraded.
type Failover struct {
	remote Store
	local  Local
	eng    *engine
	opts   FailoverOptions
	logger *slog.Logger

	mode          atomic.Int32
	degradedSince atomic.Int64
	// modeMu is held shared by every call and exclusively by the last step of
	// reconciliation, so that no degraded write slips in between the final
	// journal drain and the switch back to Redis.
	modeMu sync.RWMutex
	// idMap translates local stream IDs appended while degraded to the IDs
	// Redis gave them, for removals journaled later. Kept across failed
	// reconciliation attempts; owned by the monitor goroutine.
	idMap map[string]map[ID]ID

	degradations, replayed, conflicts, expired atomic.Int64

	closed   atomic.Bool
	stopCtx  context.Context
	stop     context.CancelFunc
	monitorD chan struct{}
}

var _ Store = (*Failover)(nil)

// NewFailover builds a Failover over remote (normally *Redis opened with
// LazyConnect) and local (normally *Embedded); it owns both and closes them.
// It starts DEGRADED when Redis does not answer, and replays a journal left
// by a previous process before serving from Redis. It fails only for bad
// arguments: an unreachable Redis is what it is for.
func NewFailover(ctx context.Context, remote Store, local Local, opts FailoverOptions) (*Failover, error) {
	if remote == nil || local == nil {
		return nil, fmt.Errorf("failover needs a remote and a local store: %w", ErrInvalid)
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 250 * time.Millisecond
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 400 * time.Millisecond
	}
	if opts.ReconcileTimeout <= 0 {
		opts.ReconcileTimeout = 30 * time.Second
	}
	if opts.ReplayBatch <= 0 {
		opts.ReplayBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &Failover{remote: remote, local: local, eng: local.localEngine(), opts: opts, logger: opts.Logger,
		idMap: map[string]map[ID]ID{}, monitorD: make(chan struct{})}
	f.stopCtx, f.stop = context.WithCancel(context.Background())

	pctx, cancel := context.WithTimeout(ctx, opts.PingTimeout)
	err := remote.Ping(pctx)
	cancel()
	switch {
	case err != nil:
		f.enterDegraded(err)
	case !f.eng.empty():
		// A previous process left writes made while degraded: Redis gets
		// them before anything is read from it.
		f.enterDegraded(errors.New("local store holds writes from an earlier outage"))
		rctx, cancel := context.WithTimeout(ctx, opts.ReconcileTimeout)
		if err := f.reconcile(rctx); err != nil {
			f.logger.Warn("store.reconcile_failed", "error", err)
		}
		cancel()
	}
	go f.monitor()
	return f, nil
}

// Mode returns the current mode.
func (f *Failover) Mode() Mode { return Mode(f.mode.Load()) }

// Stats returns the counters.
func (f *Failover) Stats() FailoverStats {
	st := FailoverStats{Mode: f.Mode(), Degradations: f.degradations.Load(), Replayed: f.replayed.Load(),
		Conflicts: f.conflicts.Load(), Expired: f.expired.Load()}
	if since := f.degradedSince.Load(); since != 0 && st.Mode == ModeDegraded {
		st.DegradedSince = time.Unix(0, since)
	}
	return st
}

func (f *Failover) enterDegraded(cause error) {
	if !f.mode.CompareAndSwap(int32(ModeNormal), int32(ModeDegraded)) {
		return
	}
	f.degradedSince.Store(time.Now().UnixNano())
	f.degradations.Add(1)
	f.logger.Warn("store.degraded_entered", "reason", cause.Error())
	if f.opts.OnModeChange != nil {
		f.opts.OnModeChange(ModeDegraded)
	}
}

// unavailable reports whether err should send calls to the local store.
func unavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrClosed)
}

// write runs a write on Redis, or journaled on the local store when degraded
// or when Redis fails it.
func write[T any](f *Failover, ctx context.Context, txn Txn, remote func() (T, error), local func(TxnResult) T) (T, error) {
	var zero T
	if f.closed.Load() {
		return zero, errClosed
	}
	f.modeMu.RLock()
	defer f.modeMu.RUnlock()
	if f.Mode() == ModeNormal {
		v, err := remote()
		if !unavailable(err) {
			return v, err
		}
		f.enterDegraded(err)
	}
	res, err := f.eng.atomic(ctx, txn, journalFor(txn))
	if err != nil {
		return zero, err
	}
	return local(res), nil
}

// read runs a read on Redis, or on the local store when degraded or when
// Redis fails it.
func read[T any](f *Failover, remote func() (T, error), local func() (T, error)) (T, error) {
	if f.closed.Load() {
		var zero T
		return zero, errClosed
	}
	f.modeMu.RLock()
	defer f.modeMu.RUnlock()
	if f.Mode() == ModeNormal {
		v, err := remote()
		if !unavailable(err) {
			return v, err
		}
		f.enterDegraded(err)
	}
	return local()
}

// Get implements Store.
func (f *Failover) Get(ctx context.Context, key string) ([]byte, error) {
	return read(f, func() ([]byte, error) { return f.remote.Get(ctx, key) },
		func() ([]byte, error) { return f.local.Get(ctx, key) })
}

// GetMany implements Store.
func (f *Failover) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	return read(f, func() ([][]byte, error) { return f.remote.GetMany(ctx, keys...) },
		func() ([][]byte, error) { return f.local.GetMany(ctx, keys...) })
}

// Set implements Store.
func (f *Failover) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := write(f, ctx, Txn{Ops: []Op{SetOp(key, value, ttl)}},
		func() (struct{}, error) { return struct{}{}, f.remote.Set(ctx, key, value, ttl) },
		func(TxnResult) struct{} { return struct{}{} })
	return err
}

// SetNX implements Store.
func (f *Failover) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := validTTL(ttl, false); err != nil {
		return false, err
	}
	return write(f, ctx, Txn{Conds: []Cond{IfAbsent(key)}, Ops: []Op{SetOp(key, value, ttl)}},
		func() (bool, error) { return f.remote.SetNX(ctx, key, value, ttl) },
		func(r TxnResult) bool { return r.Applied })
}

// CompareAndSet implements Store.
func (f *Failover) CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error) {
	return write(f, ctx, Txn{Conds: []Cond{IfEquals(key, old)}, Ops: []Op{SetOp(key, newValue, ttl)}},
		func() (bool, error) { return f.remote.CompareAndSet(ctx, key, old, newValue, ttl) },
		func(r TxnResult) bool { return r.Applied })
}

// Delete implements Store.
func (f *Failover) Delete(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	ops := make([]Op, len(keys))
	for i, k := range keys {
		ops[i] = DeleteOp(k)
	}
	return write(f, ctx, Txn{Ops: ops},
		func() (int64, error) { return f.remote.Delete(ctx, keys...) },
		func(r TxnResult) int64 {
			var n int64
			for _, x := range r.Results {
				n += x.N
			}
			return n
		})
}

// Incr implements Store. While degraded the count starts from what the local
// store has; the journaled increments are added to Redis on recovery.
func (f *Failover) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	return write(f, ctx, Txn{Ops: []Op{IncrOp(key, delta, ttl)}},
		func() (int64, error) { return f.remote.Incr(ctx, key, delta, ttl) },
		func(r TxnResult) int64 { return r.Results[0].N })
}

// TTL implements Store.
func (f *Failover) TTL(ctx context.Context, key string) (time.Duration, error) {
	return read(f, func() (time.Duration, error) { return f.remote.TTL(ctx, key) },
		func() (time.Duration, error) { return f.local.TTL(ctx, key) })
}

// Keys implements Store.
func (f *Failover) Keys(ctx context.Context, prefix string) ([]string, error) {
	return read(f, func() ([]string, error) { return f.remote.Keys(ctx, prefix) },
		func() ([]string, error) { return f.local.Keys(ctx, prefix) })
}

// HSet implements Store. Hashes written while degraded are merged into Redis
// by FailoverOptions.ReconcileHashes on recovery.
func (f *Failover) HSet(ctx context.Context, key string, fields map[string]string) error {
	_, err := write(f, ctx, Txn{Ops: []Op{HSetOp(key, fields)}},
		func() (struct{}, error) { return struct{}{}, f.remote.HSet(ctx, key, fields) },
		func(TxnResult) struct{} { return struct{}{} })
	return err
}

// HGetAll implements Store.
func (f *Failover) HGetAll(ctx context.Context, key string) (map[string]string, error) {
	return read(f, func() (map[string]string, error) { return f.remote.HGetAll(ctx, key) },
		func() (map[string]string, error) { return f.local.HGetAll(ctx, key) })
}

// Append implements Store. An entry appended while degraded gets a local ID
// and another one in Redis once replayed.
func (f *Failover) Append(ctx context.Context, stream string, value []byte) (ID, error) {
	return write(f, ctx, Txn{Ops: []Op{AppendOp(stream, value)}},
		func() (ID, error) { return f.remote.Append(ctx, stream, value) },
		func(r TxnResult) ID { return r.Results[0].ID })
}

// Range implements Store.
func (f *Failover) Range(ctx context.Context, stream string, from ID, count int) ([]Entry, error) {
	return read(f, func() ([]Entry, error) { return f.remote.Range(ctx, stream, from, count) },
		func() ([]Entry, error) { return f.local.Range(ctx, stream, from, count) })
}

// Remove implements Store.
func (f *Failover) Remove(ctx context.Context, stream string, ids ...ID) (int64, error) {
	if len(ids) == 0 {
		return 0, validKey(stream)
	}
	return write(f, ctx, Txn{Ops: []Op{RemoveOp(stream, ids...)}},
		func() (int64, error) { return f.remote.Remove(ctx, stream, ids...) },
		func(r TxnResult) int64 { return r.Results[0].N })
}

// Len implements Store.
func (f *Failover) Len(ctx context.Context, stream string) (int64, error) {
	return read(f, func() (int64, error) { return f.remote.Len(ctx, stream) },
		func() (int64, error) { return f.local.Len(ctx, stream) })
}

// Atomic implements Store.
func (f *Failover) Atomic(ctx context.Context, txn Txn) (TxnResult, error) {
	if err := txn.validate(); err != nil {
		return TxnResult{}, err
	}
	return write(f, ctx, txn,
		func() (TxnResult, error) { return f.remote.Atomic(ctx, txn) },
		func(r TxnResult) TxnResult { return r })
}

// Deferrer is a store that can keep a conditional write for a store it
// cannot reach now: *Failover, while DEGRADED.
type Deferrer interface {
	// Defer runs txn on Redis when Redis is reachable, and reports whether
	// it applied. While DEGRADED, where txn's conditions cannot be decided
	// (they are about what Redis holds), it journals txn, conditions and
	// all, to be applied to Redis on reconciliation, and applies local (its
	// own conditions checked locally; it may have no ops) in the same
	// durable record; deferred is then true.
	Defer(ctx context.Context, txn, local Txn) (applied, deferred bool, err error)
	// Degraded reports whether calls are served by the local store.
	Degraded() bool
}

var _ Deferrer = (*Failover)(nil)

// Degraded implements Deferrer.
func (f *Failover) Degraded() bool { return f.Mode() == ModeDegraded }

// Defer implements Deferrer. The idempotency gate completes or releases
// with it a claim made on Redis before the outage, which the local store
// has never seen.
func (f *Failover) Defer(ctx context.Context, txn, local Txn) (applied, deferred bool, err error) {
	if err := txn.validate(); err != nil {
		return false, false, err
	}
	if f.closed.Load() {
		return false, false, errClosed
	}
	f.modeMu.RLock()
	defer f.modeMu.RUnlock()
	if f.Mode() == ModeNormal {
		res, err := f.remote.Atomic(ctx, txn)
		if !unavailable(err) {
			return res.Applied, false, err
		}
		f.enterDegraded(err)
	}
	entry := journalFor(txn)
	none := make([]OpResult, len(txn.Ops)) // nothing of txn ran here: no local IDs
	if _, err := f.eng.commit(ctx, local, func(now int64, _ []OpResult) []byte { return entry(now, none) }, true); err != nil {
		return false, false, err
	}
	return false, true, nil
}

// Publish implements Store. While degraded, messages reach subscribers in
// this process only.
func (f *Failover) Publish(ctx context.Context, channel string, payload []byte) error {
	_, err := read(f, func() (struct{}, error) { return struct{}{}, f.remote.Publish(ctx, channel, payload) },
		func() (struct{}, error) { return struct{}{}, f.local.Publish(ctx, channel, payload) })
	return err
}

// Ping implements Store: it answers for the store callers are using, so it
// succeeds while degraded as long as the local store works.
func (f *Failover) Ping(ctx context.Context) error {
	_, err := read(f, func() (struct{}, error) { return struct{}{}, f.remote.Ping(ctx) },
		func() (struct{}, error) { return struct{}{}, f.local.Ping(ctx) })
	return err
}

// Subscribe implements Store: the subscription hears Redis (re-subscribing
// by itself after an outage) and the local change feed used while degraded.
func (f *Failover) Subscribe(ctx context.Context, channels ...string) (Subscription, error) {
	if f.closed.Load() {
		return nil, errClosed
	}
	localSub, err := f.local.Subscribe(ctx, channels...)
	if err != nil {
		return nil, err
	}
	var remoteSub Subscription
	if r, ok := f.remote.(*Redis); ok {
		// Confirmed when Redis is there, so that a message published after
		// Subscribe returns arrives; otherwise go-redis keeps trying.
		remoteSub, err = r.subscribe(ctx, f.Mode() == ModeNormal, channels)
		if unavailable(err) {
			remoteSub, err = r.subscribe(ctx, false, channels)
		}
	} else {
		remoteSub, err = f.remote.Subscribe(ctx, channels...)
	}
	if err != nil {
		if !unavailable(err) {
			_ = localSub.Close()
			return nil, err
		}
		f.logger.Warn("store.subscribe_degraded", "channels", channels, "error", err)
		remoteSub = nil
	}
	return mergeSubs(localSub, remoteSub), nil
}

// Close stops the health check and closes both stores.
func (f *Failover) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.stop()
	<-f.monitorD
	return errors.Join(f.remote.Close(), f.local.Close())
}

// monitor pings Redis: in NORMAL to notice it is gone even without traffic,
// in DEGRADED to notice it is back and reconcile.
func (f *Failover) monitor() {
	defer close(f.monitorD)
	t := time.NewTicker(f.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stopCtx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(f.stopCtx, f.opts.PingTimeout)
		err := f.remote.Ping(ctx)
		cancel()
		if f.stopCtx.Err() != nil {
			return
		}
		switch {
		case f.Mode() == ModeNormal && err != nil:
			// Any failed ping counts, a timeout included: a Redis that hangs
			// fails commands with the caller's deadline, not ErrUnavailable.
			f.enterDegraded(err)
		case f.Mode() == ModeDegraded && err == nil:
			ctx, cancel := context.WithTimeout(f.stopCtx, f.opts.ReconcileTimeout)
			if err := f.reconcile(ctx); err != nil && f.stopCtx.Err() == nil {
				f.logger.Warn("store.reconcile_failed", "error", err)
			}
			cancel()
		}
	}
}

// reconcile pushes the journal to Redis and switches back to NORMAL. The
// journal is drained in two phases: first while writers go on (they keep
// journaling), then with writers paused for the remainder, the hashes and
// the switch itself.
func (f *Failover) reconcile(ctx context.Context) error {
	start := time.Now()
	before := f.replayed.Load()
	for range 64 { // bounded: writers may journal as fast as we replay
		n, err := f.replayJournal(ctx)
		if err != nil {
			return err
		}
		if n < f.opts.ReplayBatch {
			break
		}
	}
	f.modeMu.Lock()
	err := func() error {
		for {
			n, err := f.replayJournal(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		if hashes := f.eng.hashes(); len(hashes) > 0 {
			if err := f.reconcileHashes(ctx, hashes); err != nil {
				return fmt.Errorf("reconcile hashes: %w", err)
			}
		}
		if err := f.eng.resetAll(ctx); err != nil {
			return fmt.Errorf("empty the local store: %w", err)
		}
		clear(f.idMap)
		f.mode.Store(int32(ModeNormal))
		return nil
	}()
	f.modeMu.Unlock()
	if err != nil {
		return err
	}
	since := time.Unix(0, f.degradedSince.Load())
	f.logger.Info("store.degraded_exited", "degraded_for", time.Since(since).Round(time.Millisecond).String(),
		"replayed", f.replayed.Load()-before, "conflicts", f.conflicts.Load(), "reconcile_took", time.Since(start).Round(time.Millisecond).String())
	if f.opts.OnModeChange != nil {
		f.opts.OnModeChange(ModeNormal)
	}
	return nil
}

// reconcileHashes hands the hashes to the reconciler. Only an unavailable
// Redis postpones recovery; any other failure is reported as a conflict, so
// that one bad key cannot keep the store degraded forever.
func (f *Failover) reconcileHashes(ctx context.Context, hashes map[string]map[string]string) error {
	if f.opts.ReconcileHashes != nil {
		err := f.opts.ReconcileHashes(ctx, f.remote, hashes)
		if err != nil && !unavailable(err) && ctx.Err() == nil {
			f.conflict(Conflict{Key: "(hashes)", Op: "reconcile-hashes", Reason: err.Error()})
			return nil
		}
		return err
	}
	for k, fields := range hashes {
		if err := f.remote.HSet(ctx, k, fields); err != nil {
			if unavailable(err) || ctx.Err() != nil {
				return err
			}
			f.conflict(Conflict{Key: k, Op: "hset", Reason: "redis refused the hash: " + err.Error()})
		}
	}
	return nil
}

// replayJournal pushes up to ReplayBatch journal entries to Redis, removes
// the ones it handled from the journal, and returns how many that was.
func (f *Failover) replayJournal(ctx context.Context) (int, error) {
	entries, err := f.eng.Range(ctx, journalStream, ID{}, f.opts.ReplayBatch)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	now := f.eng.now()
	var done []ID
	var replayErr error
	for len(entries) > 0 {
		// A batch ends before an entry removing stream entries: it may need
		// the Redis IDs the batch is about to hand out.
		n := 1
		for n < len(entries) && !hasRemove(entries[n].Value) {
			n++
		}
		handled, err := f.replayBatch(ctx, entries[:n], now)
		for _, e := range entries[:handled] {
			done = append(done, e.ID)
		}
		if err != nil {
			replayErr = err
			break
		}
		entries = entries[n:]
	}
	if len(done) > 0 {
		if _, err := f.eng.Remove(ctx, journalStream, done...); err != nil {
			return 0, errors.Join(replayErr, err)
		}
	}
	return len(done), replayErr
}

func hasRemove(raw []byte) bool {
	e, err := decodeJournal(raw)
	if err != nil {
		return false
	}
	for _, o := range e.ops {
		if o.kind == opRemove {
			return true
		}
	}
	return false
}

// pending is one journal entry on its way to Redis.
type pending struct {
	idx   int // index of the journal entry in the batch
	entry journalEntry
	txn   Txn
	apps  []int // indexes into txn.Ops of appends, with entry.ops index below
	orig  []int // entry.ops index of each txn op
}

// replayBatch replays entries in order, pipelined when Redis is the remote,
// and returns how many of them are done with. Only ErrUnavailable stops it
// (the entries from the failed one on stay in the journal); every other
// refusal is reported as a conflict.
func (f *Failover) replayBatch(ctx context.Context, entries []Entry, now int64) (int, error) {
	var ps []pending
	for i, raw := range entries {
		e, err := decodeJournal(raw.Value)
		if err != nil {
			f.conflict(Conflict{Key: journalStream, Op: "journal", Reason: "undecodable journal entry: " + err.Error()})
			continue
		}
		p, ok := f.toTxn(e, now)
		if !ok {
			continue
		}
		p.idx = i
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return len(entries), nil
	}
	txns := make([]Txn, len(ps))
	for i, p := range ps {
		txns[i] = p.txn
	}
	var results []TxnResult
	var errs []error
	if r, ok := f.remote.(*Redis); ok {
		results, errs = r.AtomicBatch(ctx, txns)
	} else {
		results, errs = make([]TxnResult, len(txns)), make([]error, len(txns))
		for i, t := range txns {
			results[i], errs[i] = f.remote.Atomic(ctx, t)
		}
	}
	for i, p := range ps {
		res, err := results[i], errs[i]
		if errors.Is(err, ErrCrossSlot) && len(p.txn.Conds) == 0 {
			// An unconditional multi-key write (Delete of several keys) was
			// not atomic to begin with: one op at a time is faithful.
			res, err = f.replaySplit(ctx, p.txn)
		}
		if unavailable(err) {
			return p.idx, err
		}
		if err != nil {
			f.conflict(f.describe(ctx, p, "redis refused the write: "+err.Error()))
			continue
		}
		if !res.Applied {
			if f.alreadyThere(ctx, p.txn) {
				f.replayed.Add(1)
				continue
			}
			f.conflict(f.describe(ctx, p, "condition no longer holds in Redis"))
			continue
		}
		for j, o := range p.txn.Ops {
			if o.kind == opAppend {
				f.mapID(o.key, p.entry.localIDs[p.orig[j]], res.Results[j].ID)
			}
		}
		f.replayed.Add(1)
	}
	return len(entries), nil
}

func (f *Failover) replaySplit(ctx context.Context, txn Txn) (TxnResult, error) {
	res := TxnResult{Applied: true, Results: make([]OpResult, len(txn.Ops))}
	for i, o := range txn.Ops {
		r, err := f.remote.Atomic(ctx, Txn{Ops: []Op{o}})
		if err != nil {
			return TxnResult{}, err
		}
		res.Results[i] = r.Results[0]
	}
	return res, nil
}

// toTxn rebuilds the txn to send to Redis: TTLs from deadlines, local IDs
// translated, hashes left to ReconcileHashes, publishes dropped (they were
// delivered locally at the time). ok is false when nothing is left to send.
func (f *Failover) toTxn(e journalEntry, now int64) (pending, bool) {
	p := pending{entry: e, txn: Txn{Conds: e.conds}}
	lapsed := false
	for i, o := range e.ops {
		switch o.kind {
		case opHSet, opPublish:
			continue
		case opSet, opIncr:
			ttl, ok := ttlAt(e.deadlines[i], now)
			if !ok {
				lapsed = true
				continue
			}
			o.ttl = ttl
		case opRemove:
			ids := make([]ID, len(o.ids))
			for j, id := range o.ids {
				ids[j] = f.translate(o.key, id)
			}
			o.ids = ids
		}
		p.txn.Ops = append(p.txn.Ops, o)
		p.orig = append(p.orig, i)
	}
	if lapsed && len(p.txn.Ops) == 0 {
		// A claim that expired during the outage would have expired in Redis too.
		f.expired.Add(1)
		return p, false
	}
	return p, len(p.txn.Ops) > 0
}

func (f *Failover) mapID(stream string, local, remote ID) {
	if f.idMap[stream] == nil {
		f.idMap[stream] = map[ID]ID{}
	}
	f.idMap[stream][local] = remote
}

// translate maps a local ID appended while degraded to its Redis ID; other
// IDs (read from Redis before the outage) pass through.
func (f *Failover) translate(stream string, id ID) ID {
	if r, ok := f.idMap[stream][id]; ok {
		return r
	}
	return id
}

// alreadyThere reports whether Redis already holds every value txn sets,
// as after a write that reached Redis just before it timed out.
func (f *Failover) alreadyThere(ctx context.Context, txn Txn) bool {
	for _, o := range txn.Ops {
		if o.kind != opSet {
			return false
		}
		v, err := f.remote.Get(ctx, o.key)
		if err != nil || !bytes.Equal(v, o.value) {
			return false
		}
	}
	return true
}

func (f *Failover) describe(ctx context.Context, p pending, reason string) Conflict {
	c := Conflict{Reason: reason, WrittenAt: time.Unix(0, p.entry.at), Op: opName(p.txn)}
	if len(p.txn.Conds) > 0 {
		c.Key = p.txn.Conds[0].key
	} else {
		c.Key = p.txn.Ops[0].key
	}
	for _, o := range p.txn.Ops {
		if o.kind == opSet && o.key == c.Key {
			c.Local = o.value
		}
	}
	if v, err := f.remote.Get(ctx, c.Key); err == nil {
		c.Remote = v
	}
	return c
}

func opName(t Txn) string {
	if len(t.Conds) == 1 && len(t.Ops) == 1 && t.Ops[0].kind == opSet && t.Conds[0].key == t.Ops[0].key {
		switch t.Conds[0].kind {
		case condAbsent:
			return "setnx"
		case condEquals:
			return "compare-and-set"
		}
	}
	names := make([]string, 0, len(t.Conds)+len(t.Ops))
	for _, c := range t.Conds {
		names = append(names, c.String())
	}
	for _, o := range t.Ops {
		names = append(names, o.String())
	}
	return "atomic[" + strings.Join(names, " ") + "]"
}

func (f *Failover) conflict(c Conflict) {
	f.conflicts.Add(1)
	f.logger.Warn("store.reconcile_conflict", "key", c.Key, "op", c.Op, "reason", c.Reason,
		"written_at", c.WrittenAt, "local", string(c.Local), "remote", string(c.Remote))
	if f.opts.OnConflict != nil {
		f.opts.OnConflict(c)
	}
}

// mergeSubs joins the local and (if any) remote subscriptions into one.
func mergeSubs(local, remote Subscription) Subscription {
	m := &mergedSub{local: local, remote: remote, ch: make(chan Message, subscriptionBuffer), exited: make(chan struct{})}
	go m.forward()
	return m
}

type mergedSub struct {
	local, remote Subscription
	ch            chan Message
	exited        chan struct{}
	once          sync.Once
}

func (m *mergedSub) C() <-chan Message { return m.ch }

func (m *mergedSub) forward() {
	defer close(m.exited)
	defer close(m.ch)
	l := m.local.C()
	var r <-chan Message
	if m.remote != nil {
		r = m.remote.C()
	}
	for l != nil || r != nil {
		var msg Message
		var ok bool
		select {
		case msg, ok = <-l:
			if !ok {
				l = nil
				// Without the local feed the store is closing: stop.
				r = nil
				continue
			}
		case msg, ok = <-r:
			if !ok {
				r = nil
				continue
			}
		}
		select {
		case m.ch <- msg:
		default:
		}
	}
}

func (m *mergedSub) Close() error {
	m.once.Do(func() {
		_ = m.local.Close()
		if m.remote != nil {
			_ = m.remote.Close()
		}
		<-m.exited
	})
	return nil
}
