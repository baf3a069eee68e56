package idem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/store"
)

// Defaults, from the product contract.
const (
	// DefaultMemoryTTL is how long a completed key blocks duplicates
	// (BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS).
	DefaultMemoryTTL = 1800 * time.Second
	// DefaultExecutionWindow is how long a running claim is honoured before a
	// crashed attempt becomes retryable (idem_ttl= on the directive).
	DefaultExecutionWindow = 30 * time.Minute
	// EnvMemoryTTL names the variable runtime.ConfigFromEnv reads into
	// MemoryTTL, in whole seconds ≥ 1.
	EnvMemoryTTL = "BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS"
)

// Options configure New. The zero value is the production setting.
type Options struct {
	// Prefix starts every key (see the key layout in record.go). Default
	// DefaultPrefix, "idem:", after which the Redis store adds its own
	// "baldur:". It may not contain '{' or '}', which would move the Redis
	// Cluster hash tag off the domain.
	Prefix string
	// MemoryTTL is how long a completed key blocks duplicates. Default
	// DefaultMemoryTTL (30m); see EnvMemoryTTL.
	MemoryTTL time.Duration
	// ExecutionWindow applies to requests that leave theirs at zero.
	// Default DefaultExecutionWindow (30m).
	ExecutionWindow time.Duration
	// Clock stamps first-seen and completion times. Default: the system
	// clock. Expiry itself is the store's, on the store's clock: tests give
	// the memory store and the gate the same fake clock.
	Clock Clock
	// Logger receives idem.gate_failed_open, idem.claim_undecodable,
	// idem.claim_lost and idem.complete_failed. Default slog.Default().
	Logger *slog.Logger
	// RecentKeys bounds the gate's own record of the keys it claimed or
	// completed, which refuses their duplicates while the store is DEGRADED
	// (the local store cannot see what Redis holds). Default
	// DefaultRecentKeys; negative keeps none.
	RecentKeys int
}

// Request is one call's claim, written by generated code from the directive
// and the arguments.
type Request struct {
	// Domain is the service name (name=); Operation the operation= label,
	// default the method name. Both: printable ASCII without spaces, ':',
	// '{' or '}', at most MaxNameLen bytes.
	Domain, Operation string
	// Key is the typed key the generated code extracted: non-empty, at most
	// MaxKeyLen (255) bytes, valid UTF-8.
	Key string
	// Fingerprint hashes the other arguments (see Hasher). A duplicate whose
	// fingerprint differs from the first execution's fails with ErrKeyReuse.
	Fingerprint uint64
	// ExecutionWindow bounds how long the claim is honoured while running;
	// 0 means Options.ExecutionWindow.
	ExecutionWindow time.Duration
	// FailOpen runs the call unguarded when the store is unreachable instead
	// of refusing it with ErrUnavailable.
	FailOpen bool
	// Replay answers a duplicate of a completed call with the results its
	// first execution stored (Claim.Replayed) instead of ErrDuplicate.
	Replay bool
	// RefuseDegraded fails the call with ErrUnavailable while the store is
	// DEGRADED (Redis unreachable, claims decided by the local store, which
	// cannot see what other processes claimed) instead of running it on a
	// local claim: idempotency_degraded=refuse.
	RefuseDegraded bool
}

// Claim is what Gate.Claim hands out and Gate.Complete takes back. It is a small value:
// keep it on the stack. Exactly one of Owned, Unguarded and Replayed is true
// for a Claim returned without error.
type Claim struct {
	key         string
	results     []byte
	firstSeen   int64
	fingerprint uint64
	token       [tokenLen]byte
	mode        uint8
	replay      bool
}

const (
	_ uint8 = iota // the zero Claim: Complete ignores it
	modeOwned
	modeUnguarded
	modeReplayed
)

// Owned reports whether this call holds the key: run the inner method, then Complete.
func (c Claim) Owned() bool { return c.mode == modeOwned }

// Unguarded reports whether the store was unreachable and the request failed
// open: run the inner method with no duplicate protection.
func (c Claim) Unguarded() bool { return c.mode == modeUnguarded }

// Replayed reports whether this is a duplicate of a completed call in replay
// mode: do not run the inner method, return what Results decodes to.
func (c Claim) Replayed() bool { return c.mode == modeReplayed }

// Results returns the encoded results the first execution stored (Replayed only).
func (c Claim) Results() []byte { return c.results }

// StoreKey returns the namespaced key, as the store sees it (the Redis store
// puts its own prefix before it).
func (c Claim) StoreKey() string { return c.key }

// Gate claims and completes idempotency keys in one store. It is safe for
// concurrent use; build one per runtime.
type Gate struct {
	st        store.Store
	prefix    string
	memoryTTL time.Duration
	window    time.Duration
	clock     Clock
	log       *slog.Logger
	openLog   throttle // idem.gate_failed_open would flood the log during an outage
	// deg is the store when it can be DEGRADED (a Failover): its mode is
	// read around claims, and completions of claims the local store never
	// saw are journaled through it.
	deg    store.Deferrer
	recent *recentKeys
}

// New returns a gate over st.
func New(st store.Store, opts Options) (*Gate, error) {
	if st == nil {
		return nil, errors.New("idempotency: nil store")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("idempotency: prefix %q contains a brace, which would move the hash tag off the domain", opts.Prefix)
	}
	if opts.MemoryTTL == 0 {
		opts.MemoryTTL = DefaultMemoryTTL
	}
	if opts.ExecutionWindow == 0 {
		opts.ExecutionWindow = DefaultExecutionWindow
	}
	if opts.MemoryTTL < time.Millisecond || opts.ExecutionWindow < time.Millisecond {
		return nil, fmt.Errorf("idempotency: memory TTL %v and execution window %v must be at least 1ms",
			opts.MemoryTTL, opts.ExecutionWindow)
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RecentKeys == 0 {
		opts.RecentKeys = DefaultRecentKeys
	}
	deg, _ := st.(store.Deferrer)
	return &Gate{st: st, prefix: opts.Prefix, memoryTTL: opts.MemoryTTL, window: opts.ExecutionWindow,
		clock: opts.Clock, log: opts.Logger, deg: deg, recent: newRecentKeys(opts.RecentKeys)}, nil
}

// maxClaimRaces bounds how often Claim retries when the key it found taken
// is gone by the time it reads it (released or expired in between).
const maxClaimRaces = 3

// Claim claims req's key for this call. Without error, the Claim says what
// to do: Owned (run, then Complete), Unguarded (store unreachable, FailOpen
// set: run unprotected) or Replayed (return the stored results). Errors match
// ErrInvalidKey, ErrDuplicate, ErrKeyReuse or ErrUnavailable, or are the
// context's error when ctx ended.
//
// The store sees one SET NX when the key is free; a taken key costs one GET
// more. Beyond the namespaced key, the free-key path allocates nothing in the
// gate itself.
func (g *Gate) Claim(ctx context.Context, req Request) (Claim, error) {
	if err := checkRequest(&req); err != nil {
		return Claim{}, err
	}
	window := req.ExecutionWindow
	if window <= 0 {
		window = g.window
	}
	c := Claim{
		key:         storeKey(g.prefix, req.Domain, req.Operation, req.Key),
		firstSeen:   g.clock.Now().UnixNano(),
		fingerprint: req.Fingerprint,
		replay:      req.Replay,
	}
	// The token only has to be unique among claims of one key: runtime
	// randomness (ChaCha8 seeded from the OS) gives 128 bits without a syscall.
	putToken(&c.token, rand.Uint64(), rand.Uint64())

	degraded := g.degraded()
	if degraded {
		if err := g.degradedClaim(&req, &c); err != nil {
			return Claim{}, err
		}
	}
	buf := getBuf()
	defer putBuf(buf)
	*buf = c.appendRunning((*buf)[:0])
	for race := 0; ; race++ {
		ok, err := g.st.SetNX(ctx, c.key, *buf, window)
		if err != nil {
			return g.unreachable(ctx, &req, c, "claim", err)
		}
		if ok {
			if !degraded && g.degraded() {
				// The store degraded during this claim (Redis failed it and
				// the local store took it): decide as if it had been before.
				if err := g.degradedClaim(&req, &c); err != nil {
					g.undo(ctx, c.key, *buf)
					return Claim{}, err
				}
			}
			c.mode = modeOwned
			g.recent.put(c.key, recentKey{state: StateRunning, fingerprint: c.fingerprint,
				firstSeen: c.firstSeen, until: c.firstSeen + int64(window)})
			return c, nil
		}
		cur, err := g.st.Get(ctx, c.key)
		if errors.Is(err, store.ErrNotFound) && race < maxClaimRaces {
			continue // released or expired since SET NX: try again
		}
		return g.taken(ctx, &req, &c, cur, err)
	}
}

// degraded reports whether the store serves from its local copy.
func (g *Gate) degraded() bool { return g.deg != nil && g.deg.Degraded() }

// errDegraded is why a request with RefuseDegraded is refused.
var errDegraded = errors.New("the store is DEGRADED (Redis unreachable): another process may hold the key, and the method refuses rather than risk a duplicate (idempotency_degraded=refuse)")

// degradedClaim decides a claim while the store is DEGRADED, before the
// local store is asked: a request that refuses to run then is refused, and
// a key this process claimed or completed itself is a duplicate (or a
// reused key) even though the local store has never seen it.
func (g *Gate) degradedClaim(req *Request, c *Claim) error {
	if req.RefuseDegraded {
		return &UnavailableError{Domain: req.Domain, Operation: req.Operation, Key: req.Key, Err: errDegraded}
	}
	k, ok := g.recent.get(c.key, g.clock.Now().UnixNano())
	if !ok {
		return nil
	}
	if k.fingerprint != req.Fingerprint {
		return &KeyReuseError{Domain: req.Domain, Operation: req.Operation, Key: req.Key,
			State: k.state, FirstSeen: time.Unix(0, k.firstSeen)}
	}
	dup := &DuplicateError{Domain: req.Domain, Operation: req.Operation, Key: req.Key,
		State: k.state, FirstSeen: time.Unix(0, k.firstSeen)}
	if k.state == StateCompleted {
		dup.CompletedAt = time.Unix(0, k.completedAt)
	}
	return dup
}

// undo takes back a claim the gate refused after making it (on Redis
// maybe, if the store degraded right after: then the release is deferred).
func (g *Gate) undo(ctx context.Context, key string, running []byte) {
	ctx = context.WithoutCancel(ctx)
	res, err := g.st.Atomic(ctx, store.Txn{Conds: []store.Cond{store.IfEquals(key, running)},
		Ops: []store.Op{store.DeleteOp(key)}})
	if err == nil && !res.Applied {
		_, err = g.deferOutcome(ctx, key, running, nil)
	}
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelError, "idem.complete_failed",
			slog.String("store_key", key), slog.String("outcome", "released"), slog.String("error", err.Error()))
	}
}

// taken turns what a taken key holds into Claim's answer.
func (g *Gate) taken(ctx context.Context, req *Request, c *Claim, cur []byte, getErr error) (Claim, error) {
	key := c.key
	if getErr != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Claim{}, fmt.Errorf("idempotency claim %q: %w", key, cerr)
		}
		if errors.Is(getErr, store.ErrUnavailable) {
			// The key exists (SET NX said so) but cannot be read: running the
			// call could duplicate it, whatever the posture.
			return Claim{}, &UnavailableError{Domain: req.Domain, Operation: req.Operation, Key: req.Key, Err: getErr}
		}
		// ErrNotFound after several races, ErrWrongType, anything else: a
		// claim we cannot interpret.
		return Claim{}, g.unknown(ctx, req, key, getErr)
	}
	rec, err := DecodeRecord(cur)
	if err != nil {
		return Claim{}, g.unknown(ctx, req, key, err)
	}
	if rec.State == StateRunning && rec.Token == c.token {
		// Our own claim: the store ran an earlier attempt of this SET NX
		// whose reply was lost, and the retry found the key taken.
		c.mode = modeOwned
		return *c, nil
	}
	if rec.Fingerprint != req.Fingerprint {
		return Claim{}, &KeyReuseError{Domain: req.Domain, Operation: req.Operation, Key: req.Key,
			State: rec.State, FirstSeen: rec.FirstSeen}
	}
	if rec.State == StateCompleted && req.Replay && rec.HasResults {
		return Claim{key: key, results: rec.Results, firstSeen: rec.FirstSeen.UnixNano(),
			fingerprint: rec.Fingerprint, token: rec.Token, mode: modeReplayed}, nil
	}
	return Claim{}, &DuplicateError{Domain: req.Domain, Operation: req.Operation, Key: req.Key,
		State: rec.State, FirstSeen: rec.FirstSeen, CompletedAt: rec.CompletedAt}
}

// unknown fails closed on a value that does not decode.
func (g *Gate) unknown(ctx context.Context, req *Request, key string, cause error) error {
	g.log.LogAttrs(ctx, slog.LevelWarn, "idem.claim_undecodable",
		slog.String("domain", req.Domain), slog.String("operation", req.Operation),
		slog.String("store_key", key), slog.String("error", cause.Error()))
	return &DuplicateError{Domain: req.Domain, Operation: req.Operation, Key: req.Key, State: StateUnknown, Err: cause}
}

// unreachable applies the request's posture to a store error.
func (g *Gate) unreachable(ctx context.Context, req *Request, c Claim, what string, err error) (Claim, error) {
	if cerr := ctx.Err(); cerr != nil {
		// The caller gave up; that is not an outage to fail open on.
		return Claim{}, fmt.Errorf("idempotency %s %q: %w", what, c.key, cerr)
	}
	if errors.Is(err, store.ErrWrongType) {
		return Claim{}, g.unknown(ctx, req, c.key, err)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		return Claim{}, fmt.Errorf("idempotency %s %q: %w", what, c.key, err)
	}
	if !req.FailOpen {
		return Claim{}, &UnavailableError{Domain: req.Domain, Operation: req.Operation, Key: req.Key, Err: err}
	}
	if ok, suppressed := g.openLog.allow(g.clock.Now().UnixNano()); ok {
		g.log.LogAttrs(ctx, slog.LevelWarn, "idem.gate_failed_open",
			slog.String("domain", req.Domain), slog.String("operation", req.Operation),
			slog.String("key", req.Key), slog.Int64("suppressed", suppressed), slog.String("error", err.Error()))
	}
	return Claim{key: c.key, firstSeen: c.firstSeen, fingerprint: c.fingerprint, mode: modeUnguarded}, nil
}

// Complete records the outcome of an Owned claim; it does nothing for
// Unguarded and Replayed claims.
//
// succeeded = true keeps the key for the memory TTL, so duplicates are
// refused (and, when the claim was made with Replay, answered with
// results, which are copied). succeeded = false deletes the key so that the
// caller can retry: the wrapper passes false when the call returned an error
// (after its retries), panicked, or was cancelled, and true only when the
// inner method returned a nil error.
//
// Only the claim's owner changes the key: if the execution outlived its
// window, the key expired and maybe belongs to another caller by now, and
// Complete returns ErrClaimLost and logs idem.claim_lost. A store failure is
// logged (idem.complete_failed) and returned: a success then stays "running"
// until its window ends, a failure blocks retries until then. Complete runs
// even when ctx is already cancelled, since the call it records is over.
func (g *Gate) Complete(ctx context.Context, c Claim, succeeded bool, results []byte) error {
	if c.mode != modeOwned {
		return nil
	}
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	buf := getBuf()
	defer putBuf(buf)
	*buf = c.appendRunning((*buf)[:0])
	running := (*buf)[:runningLen:runningLen]

	var (
		ok        bool
		err       error
		completed []byte // the completed record, for a deferral
		now       = g.clock.Now().UnixNano()
	)
	if succeeded {
		keep := c.replay
		if keep && completedHead+len(results) > store.MaxValueSize {
			keep = false
			g.log.LogAttrs(ctx, slog.LevelWarn, "idem.results_too_large",
				slog.String("store_key", c.key), slog.Int("bytes", len(results)))
		}
		*buf = c.appendCompleted(*buf, now, results, keep)
		completed = (*buf)[runningLen:]
		ok, err = g.st.CompareAndSet(ctx, c.key, running, completed, g.memoryTTL)
	} else {
		rt := releasePool.Get().(*releaseTxn)
		rt.conds[0] = store.IfEquals(c.key, running)
		rt.ops[0] = store.DeleteOp(c.key)
		var res store.TxnResult
		res, err = g.st.Atomic(ctx, store.Txn{Conds: rt.conds[:], Ops: rt.ops[:]})
		ok = res.Applied
		*rt = releaseTxn{}
		releasePool.Put(rt)
	}
	outcome := "released"
	if succeeded {
		outcome = "completed"
	}
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelError, "idem.complete_failed",
			slog.String("store_key", c.key), slog.String("outcome", outcome), slog.String("error", err.Error()))
		return fmt.Errorf("idempotency key %q not %s: %w", c.key, outcome, err)
	}
	if !ok && g.deg != nil {
		// Maybe a claim made on Redis before the outage, which the local
		// store never saw: journal the outcome for Redis, conditions and all.
		ok, err = g.deferOutcome(ctx, c.key, running, completed)
		if err != nil {
			g.log.LogAttrs(ctx, slog.LevelError, "idem.complete_failed",
				slog.String("store_key", c.key), slog.String("outcome", outcome), slog.String("error", err.Error()))
			return fmt.Errorf("idempotency key %q not %s: %w", c.key, outcome, err)
		}
	}
	if succeeded {
		g.recent.put(c.key, recentKey{state: StateCompleted, fingerprint: c.fingerprint, firstSeen: c.firstSeen,
			completedAt: now, until: now + int64(g.memoryTTL)})
	} else {
		g.recent.forget(c.key)
	}
	if !ok {
		g.log.LogAttrs(ctx, slog.LevelWarn, "idem.claim_lost",
			slog.String("store_key", c.key), slog.String("outcome", outcome),
			slog.Duration("ran_for", time.Duration(g.clock.Now().UnixNano()-c.firstSeen)))
		return fmt.Errorf("idempotency key %q not %s: %w", c.key, outcome, ErrClaimLost)
	}
	return nil
}

// deferOutcome records the outcome of a claim the local store does not
// hold (completed is nil for a release) through the Failover: applied on
// Redis if it is back, journaled with the claim as its condition if not.
// Locally a completion is written too, unless the key holds another claim
// there, so that duplicates within this outage are refused.
func (g *Gate) deferOutcome(ctx context.Context, key string, running, completed []byte) (bool, error) {
	cond := []store.Cond{store.IfEquals(key, running)}
	txn := store.Txn{Conds: cond, Ops: []store.Op{store.DeleteOp(key)}}
	var local store.Txn
	if completed != nil {
		set := []store.Op{store.SetOp(key, completed, g.memoryTTL)}
		txn.Ops = set
		local = store.Txn{Conds: []store.Cond{store.IfAbsent(key)}, Ops: set}
	}
	applied, deferred, err := g.deg.Defer(ctx, txn, local)
	if deferred {
		g.log.LogAttrs(ctx, slog.LevelInfo, "idem.outcome_deferred", slog.String("store_key", key),
			slog.Bool("completed", completed != nil),
			slog.String("reason", "claim made on Redis before the outage; applied to Redis on reconciliation"))
	}
	return applied || deferred, err
}

// Lookup returns the record under a key, or an error matching
// store.ErrNotFound; for admin views.
func (g *Gate) Lookup(ctx context.Context, domain, operation, key string) (Record, error) {
	v, err := g.st.Get(ctx, storeKey(g.prefix, domain, operation, key))
	if err != nil {
		return Record{}, err
	}
	return DecodeRecord(v)
}

// Forget deletes a key whatever it holds (an operator clearing a stuck or
// undecodable claim) and reports whether it existed.
func (g *Gate) Forget(ctx context.Context, domain, operation, key string) (bool, error) {
	n, err := g.st.Delete(ctx, storeKey(g.prefix, domain, operation, key))
	return n > 0, err
}

// Prefix returns the key prefix, for ParseKey.
func (g *Gate) Prefix() string { return g.prefix }

func putToken(t *[tokenLen]byte, a, b uint64) {
	for i := range 8 {
		t[i] = byte(a >> (8 * i))
		t[8+i] = byte(b >> (8 * i))
	}
}

// Encoding buffers are pooled: the store copies values, so a claim's
// records never need memory of their own.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2*completedHead); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 { // a large replayed result: let it go
		return
	}
	bufPool.Put(b)
}

// releaseTxn holds the one condition and one op of a release, pooled so a
// failed call's release costs the gate nothing.
type releaseTxn struct {
	conds [1]store.Cond
	ops   [1]store.Op
}

var releasePool = sync.Pool{New: func() any { return new(releaseTxn) }}

// throttle lets one event through per second and counts the rest.
type throttle struct {
	next       atomic.Int64
	suppressed atomic.Int64
}

func (t *throttle) allow(now int64) (bool, int64) {
	next := t.next.Load()
	if now < next || !t.next.CompareAndSwap(next, now+int64(time.Second)) {
		t.suppressed.Add(1)
		return false, 0
	}
	return true, t.suppressed.Swap(0)
}

// Clock is the gate's time source; runtime/clock.Clock satisfies it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
