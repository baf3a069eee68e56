package audit

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// Keys of the trail in the store. They share the hash tag {audit} so that
// one Atomic call may touch all of them on Redis Cluster.
const (
	keyPending = "audit:{audit}:pending" // stream: records not yet in the chain
	keyChain   = "audit:{audit}:chain"   // stream: sealed records, oldest first
	keyHead    = "audit:{audit}:head"    // the chain's last record: chain, seq, hash
	keyDrained = "audit:{audit}:drained" // the last record PostgreSQL is known to hold
)

// sealBatch bounds the records sealed by one Atomic call and drained by one
// PostgreSQL transaction.
const sealBatch = 256

// Defaults of Options.
const (
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 30 * time.Second
)

// ErrDisabled is returned by a nil *Trail's readers: the trail is off
// (BALDUR_AUDIT_ENABLED=false).
var ErrDisabled = errors.New("the audit trail is off (BALDUR_AUDIT_ENABLED=false)")

// errDegraded stops sealing while the store serves from its local copy:
// the chain's head lives in Redis, and a head read locally would fork it.
var errDegraded = errors.New("the store is DEGRADED: records wait in the store until Redis is back")

// Options configure a Trail. Only Store is required.
type Options struct {
	// Store holds the records first: the runtime's store (embedded, or
	// Redis for a fleet, where every process appends to one chain).
	Store store.Store
	// SQL, when set, receives every record in order (see OpenSQL).
	SQL *SQL
	// Clock drives the retry timers; nil means the wall clock.
	Clock clock.Clock
	// Logger receives audit.* events; nil means slog.Default().
	Logger *slog.Logger
	// Node and Process fill the records' Actor.Node and Actor.Process when
	// the caller leaves them empty; the defaults are the host name and
	// "<executable>[<pid>]".
	Node, Process string
	// RetryMin and RetryMax bound the backoff between failed passes (sealing
	// or draining): it starts at RetryMin and doubles up to RetryMax.
	// Defaults DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// Beat, when set, is called by each background loop ("seal", "drain")
	// at every turn and at least every BeatEvery while idle: the
	// watchdog's heartbeat. A loop stuck in a pass stops calling it.
	Beat func(loop string)
	// BeatEvery is how often an idle loop calls Beat. Default BeatEvery;
	// tests shorten it.
	BeatEvery time.Duration
}

// BeatEvery is how often an idle loop calls Options.Beat.
const BeatEvery = 5 * time.Second

// Stats is what the trail reports for metrics and health.
type Stats struct {
	// Recorded counts the records this process handed to the store.
	Recorded uint64 `json:"recorded"`
	// Lost counts the records this process could not hand to the store.
	Lost uint64 `json:"lost"`
	// Backlog is how many records are not yet where they are going: not
	// yet sealed into the chain, and (with PostgreSQL) not yet drained.
	Backlog int64 `json:"backlog"`
	// ChainBroken is set when the last verification, or a drain, found the
	// chain broken.
	ChainBroken bool `json:"chain_broken"`
	// DrainError is the last failed drain's error ("" when it worked).
	DrainError string `json:"drain_error,omitempty"`
}

// Trail is the audit trail of one process: Record appends durably to the
// store; background loops seal records into the hash chain and drain the
// chain to PostgreSQL. A nil *Trail is a trail that is off: Record does
// nothing and readers return ErrDisabled.
type Trail struct {
	st     store.Store
	sql    *SQL
	clk    clock.Clock
	log    *slog.Logger
	node   string
	proc   string
	minB   time.Duration
	maxB   time.Duration
	sealer *pump
	drainr *pump
	beat   func(loop string)
	// beatEvery: Options.BeatEvery
	beatEvery time.Duration
	queue     chan Record // automated actions, written by the writer goroutine
	flush     chan chan struct{}

	recorded atomic.Uint64
	lost     atomic.Uint64
	backlog  atomic.Int64
	broken   atomic.Bool
	drainErr atomic.Pointer[string]

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// New starts a trail over opts.Store. With opts.SQL it migrates the schema
// (a database that cannot be reached now is tried again by the drain, and
// nothing waits for it).
func New(ctx context.Context, opts Options) (*Trail, error) {
	if opts.Store == nil {
		return nil, errors.New("audit: no store")
	}
	t := &Trail{
		st:        opts.Store,
		sql:       opts.SQL,
		clk:       cmp.Or[clock.Clock](opts.Clock, clock.Real()),
		log:       cmp.Or(opts.Logger, slog.Default()),
		node:      cmp.Or(opts.Node, hostname()),
		proc:      cmp.Or(opts.Process, processName()),
		minB:      cmp.Or(opts.RetryMin, DefaultRetryMin),
		maxB:      cmp.Or(opts.RetryMax, DefaultRetryMax),
		beat:      opts.Beat,
		beatEvery: cmp.Or(opts.BeatEvery, BeatEvery),
	}
	t.maxB = max(t.maxB, t.minB)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel = cancel
	t.sealer = t.newPump("seal", t.sealPass)
	t.queue, t.flush = make(chan Record, queueSize), make(chan chan struct{})
	t.wg.Add(1)
	t.sealer.start(loopCtx, &t.wg)
	go t.writeQueued(loopCtx)
	if t.sql != nil {
		if err := t.sql.Migrate(ctx); err != nil {
			t.log.Warn("audit.migrate_failed", "error", err.Error())
		}
		t.drainr = t.newPump("drain", t.drainPass)
		t.drainr.start(loopCtx, &t.wg)
	}
	t.sealer.kick() // whatever an earlier process left pending
	return t, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

func processName() string {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return filepath.Base(exe) + "[" + strconv.Itoa(os.Getpid()) + "]"
}

// Restart gives up on one of the trail's loops, "seal" or "drain" (the
// watchdog calls it when the loop has gone silent): the pass in progress is
// cancelled and, once it has returned, another run starts. Any other name,
// or a drain without PostgreSQL, does nothing.
func (t *Trail) Restart(loop string) {
	if t == nil {
		return
	}
	switch {
	case loop == "seal":
		t.sealer.restart()
	case loop == "drain" && t.drainr != nil:
		t.drainr.restart()
	}
}

// Close stops the loops (records still pending stay in the store for the
// next start) and closes the PostgreSQL pool. It does not close the store.
func (t *Trail) Close() error {
	if t == nil {
		return nil
	}
	t.closed.Do(func() {
		t.cancel()
		t.wg.Wait()
		if t.sql != nil {
			t.sql.Close()
		}
	})
	return nil
}

// Record appends r to the trail: durably to the store, before it returns.
// It fills Time (from the trail's clock), Outcome (OutcomeOK), Node and
// Process when they are empty, and never blocks on PostgreSQL. An error
// means the store could not take the record; it is counted in Stats.Lost.
func (t *Trail) Record(ctx context.Context, r Record) error {
	if t == nil {
		return nil
	}
	if r.Action == "" {
		return errNoAction
	}
	if r.Time.IsZero() {
		r.Time = t.clk.Now()
	}
	r.Outcome = cmp.Or(r.Outcome, OutcomeOK)
	r.Node = cmp.Or(r.Node, t.node)
	r.Process = cmp.Or(r.Process, t.proc)
	r.Chain, r.Seq, r.Prev, r.Hash = "", 0, Hash{}, Hash{}
	r.normalise()
	b, err := json.Marshal(&r)
	if err == nil {
		_, err = t.st.Append(ctx, keyPending, b)
	}
	if err != nil {
		t.lost.Add(1)
		t.log.Error("audit.record_lost", "action", r.Action, "target", r.Target, "error", err.Error())
		return fmt.Errorf("audit: record %s: %w", r.Action, err)
	}
	t.recorded.Add(1)
	t.backlog.Add(1)
	t.sealer.kick()
	return nil
}

// queueSize bounds the automated actions waiting to be written.
const queueSize = 1024

// enqueue hands r to the writer goroutine without blocking.
func (t *Trail) enqueue(r Record) {
	select {
	case t.queue <- r:
	default:
		t.lost.Add(1)
		t.log.Error("audit.record_lost", "action", r.Action, "target", r.Target, "error", "the queue of automated actions is full")
	}
}

// writeQueued records the queued automated actions; at Close it writes
// what is already queued.
func (t *Trail) writeQueued(ctx context.Context) {
	defer t.wg.Done()
	for {
		select {
		case r := <-t.queue:
			_ = t.Record(ctx, r)
		case done := <-t.flush:
			for len(t.queue) > 0 {
				_ = t.Record(ctx, <-t.queue)
			}
			close(done)
		case <-ctx.Done():
			for {
				select {
				case r := <-t.queue:
					_ = t.Record(context.WithoutCancel(ctx), r)
				default:
					return
				}
			}
		}
	}
}

// Sync writes the automated actions queued, seals every record pending when
// it is called and, with PostgreSQL,
// drains the chain to it; it returns the first pass's error. For tests and
// for a clean shutdown; the loops do the same on their own.
func (t *Trail) Sync(ctx context.Context) error {
	if t == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case t.flush <- done:
		<-done
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := t.sealer.sync(ctx); err != nil {
		return err
	}
	if t.drainr != nil {
		return t.drainr.sync(ctx)
	}
	return nil
}

// Drains reports whether the trail drains to PostgreSQL.
func (t *Trail) Drains() bool { return t != nil && t.drainr != nil }

// Drain runs one drain pass to PostgreSQL now (waiting for one under way,
// never beside it) and returns its error: the scheduler's audit drain task.
// Without PostgreSQL it does nothing.
func (t *Trail) Drain(ctx context.Context) error {
	if !t.Drains() {
		return nil
	}
	return t.drainr.sync(ctx)
}

// Stats returns the trail's counters.
func (t *Trail) Stats() Stats {
	if t == nil {
		return Stats{}
	}
	s := Stats{Recorded: t.recorded.Load(), Lost: t.lost.Load(), Backlog: max(t.backlog.Load(), 0),
		ChainBroken: t.broken.Load()}
	if p := t.drainErr.Load(); p != nil {
		s.DrainError = *p
	}
	return s
}

// head is the chain's last record as the store keeps it.
type head struct {
	Chain string `json:"chain"`
	Seq   uint64 `json:"seq"`
	Hash  Hash   `json:"hash"`
}

func (t *Trail) readHead(ctx context.Context) (head, []byte, error) {
	raw, err := t.st.Get(ctx, keyHead)
	if errors.Is(err, store.ErrNotFound) {
		return head{}, nil, nil
	}
	if err != nil {
		return head{}, nil, err
	}
	var h head
	if err := json.Unmarshal(raw, &h); err != nil || h.Chain == "" {
		return head{}, nil, fmt.Errorf("audit: the chain head in the store (%s) is unreadable: %q", keyHead, raw)
	}
	return h, raw, nil
}

func newChainID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sealPass moves every pending record into the chain, a batch per Atomic
// call conditioned on the head it read: when another process sealed first,
// the condition fails and the pass reads the head again, so the chain never
// forks and every pending record is sealed exactly once.
func (t *Trail) sealPass(ctx context.Context) error {
	for {
		if d, ok := t.st.(interface{ Degraded() bool }); ok && d.Degraded() {
			return errDegraded
		}
		// The head first, then the pending records: a seal by another
		// process in between changes the head, so the Atomic below fails
		// rather than seal records that process has just sealed.
		h, raw, err := t.readHead(ctx)
		if err != nil {
			return err
		}
		entries, err := t.st.Range(ctx, keyPending, store.ID{}, sealBatch)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			t.refreshBacklog(ctx)
			return nil
		}
		cond := store.IfAbsent(keyHead)
		if raw != nil {
			cond = store.IfEquals(keyHead, raw)
		} else {
			h = head{Chain: newChainID()}
		}
		ops := make([]store.Op, 0, len(entries)+2)
		ids := make([]store.ID, 0, len(entries))
		for _, e := range entries {
			r := t.decodePending(e)
			r.Chain, r.Seq, r.Prev = h.Chain, h.Seq+1, h.Hash
			r.Hash = r.ComputeHash()
			h.Seq, h.Hash = r.Seq, r.Hash
			b, err := json.Marshal(&r)
			if err != nil {
				return err
			}
			ops = append(ops, store.AppendOp(keyChain, b))
			ids = append(ids, e.ID)
		}
		newHead, _ := json.Marshal(h)
		ops = append(ops, store.SetOp(keyHead, newHead, 0), store.RemoveOp(keyPending, ids...))
		res, err := t.st.Atomic(ctx, store.Txn{Conds: []store.Cond{cond}, Ops: ops})
		if err != nil {
			return err
		}
		if res.Applied && t.drainr != nil {
			t.drainr.kick()
		}
		// Not applied: another process sealed first; read again.
	}
}

// decodePending reads a pending record; one that cannot be read is sealed
// as a record saying so, with its bytes, so that nothing stored is lost.
func (t *Trail) decodePending(e store.Entry) Record {
	var r Record
	if err := json.Unmarshal(e.Value, &r); err != nil || r.Action == "" {
		t.log.Error("audit.record_unreadable", "id", e.ID.String())
		r = Record{Time: t.clk.Now(), Action: "audit.record_unreadable", Target: e.ID.String(),
			Outcome: OutcomeFailed, Detail: strconv.Quote(string(e.Value)), Actor: Actor{Node: t.node, Process: t.proc}}
	}
	r.normalise()
	return r
}

// refreshBacklog recomputes the backlog from the store: records pending,
// plus, with PostgreSQL, those sealed but not yet drained.
func (t *Trail) refreshBacklog(ctx context.Context) {
	n, err := t.st.Len(ctx, keyPending)
	if err != nil {
		return
	}
	if t.sql != nil {
		h, _, err := t.readHead(ctx)
		if err != nil {
			return
		}
		d, err := t.readDrained(ctx)
		if err != nil {
			return
		}
		if h.Chain == d.Chain && h.Seq > d.Seq {
			n += int64(h.Seq - d.Seq)
		} else if h.Chain != d.Chain {
			n += int64(h.Seq)
		}
	}
	t.backlog.Store(n)
}

// drained is how far PostgreSQL is known to hold the chain: the stream ID
// in the store of the last record drained, its Seq and hash.
type drained struct {
	Chain string   `json:"chain"`
	ID    store.ID `json:"id"`
	Seq   uint64   `json:"seq"`
	Hash  Hash     `json:"hash"`
}

func (t *Trail) readDrained(ctx context.Context) (drained, error) {
	raw, err := t.st.Get(ctx, keyDrained)
	if errors.Is(err, store.ErrNotFound) {
		return drained{}, nil
	}
	if err != nil {
		return drained{}, err
	}
	var d drained
	if err := json.Unmarshal(raw, &d); err != nil {
		t.log.Warn("audit.drain_mark_unreadable", "key", keyDrained)
		return drained{}, nil // start from the store's oldest record: PostgreSQL skips what it has
	}
	return d, nil
}

// advanceDrained moves the drained mark forward to d, never back: two
// processes draining one chain finish their passes in any order.
func (t *Trail) advanceDrained(ctx context.Context, d drained) error {
	mark, _ := json.Marshal(d)
	for {
		raw, err := t.st.Get(ctx, keyDrained)
		if errors.Is(err, store.ErrNotFound) {
			ok, err := t.st.SetNX(ctx, keyDrained, mark, 0)
			if err != nil || ok {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		var cur drained
		if json.Unmarshal(raw, &cur) == nil && cur.Chain == d.Chain && cur.Seq >= d.Seq {
			return nil
		}
		ok, err := t.st.CompareAndSet(ctx, keyDrained, raw, mark, 0)
		if err != nil || ok {
			return err
		}
	}
}

// drainPass copies the chain's records from the store to PostgreSQL in
// order, then trims them from the store. PostgreSQL's own head decides
// what is new, so two processes draining one chain (or a drain repeated
// after a crash) insert every record once.
func (t *Trail) drainPass(ctx context.Context) error {
	for {
		d, err := t.readDrained(ctx)
		if err != nil {
			return err
		}
		entries, err := t.st.Range(ctx, keyChain, d.ID.Next(), sealBatch)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			t.refreshBacklog(ctx)
			return nil
		}
		recs := make([]Record, len(entries))
		ids := make([]store.ID, len(entries))
		for i, e := range entries {
			if err := json.Unmarshal(e.Value, &recs[i]); err != nil {
				t.broken.Store(true)
				return fmt.Errorf("audit: record %s of the store's chain is unreadable: %w", e.ID, err)
			}
			ids[i] = e.ID
		}
		// The store's copy is checked on its way: a record changed there
		// never reaches PostgreSQL looking sound.
		v := Verifier{FromMiddle: true}
		for i := range recs {
			if b := v.Add(&recs[i]); b != nil {
				t.broken.Store(true)
				return b
			}
		}
		if err := t.sql.Append(ctx, recs); err != nil {
			if errors.Is(err, ErrDiverged) {
				t.broken.Store(true)
			}
			return err
		}
		last := recs[len(recs)-1]
		if err := t.advanceDrained(ctx, drained{Chain: last.Chain, ID: ids[len(ids)-1], Seq: last.Seq, Hash: last.Hash}); err != nil {
			return err
		}
		// PostgreSQL holds them now: the store keeps only what is not drained.
		if _, err := t.st.Remove(ctx, keyChain, ids...); err != nil {
			return err
		}
	}
}
