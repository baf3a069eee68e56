// Package leader elects one process of a fleet as its leader through the
// shared store: a lease that expires unless renewed, and a fencing token that
// grows with every new term, so that a write made by a leader whose term ended
// (paused, partitioned, slow) is refused by the store instead of trusted.
//
// On Redis the lease is one key set only when absent with an expiry (SET NX
// PX, inside a conditional transaction that also bumps the token counter) and
// renewed by compare-and-set, so only its holder extends it. A process on
// the embedded store is alone and is always the leader (ModeAlways): nothing a
// fleet-wide task does is silently skipped on a single node.
package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// Token is a fencing token: every term of leadership gets a larger one than
// every term before it, across the fleet. Zero means no term.
type Token uint64

// String formats the token in decimal.
func (t Token) String() string { return strconv.FormatUint(uint64(t), 10) }

// Mode says how an Elector decides.
type Mode int

const (
	// ModeElect runs the election on the shared store (Redis): at most one
	// process of the fleet holds a valid term at a time.
	ModeElect Mode = iota
	// ModeAlways makes the process the leader as soon as it starts: for a
	// process alone on its embedded store. It still takes a token from the
	// store's counter, so tokens keep growing across restarts.
	ModeAlways
)

func (m Mode) String() string {
	if m == ModeAlways {
		return "always"
	}
	return "elect"
}

// Defaults of Options.
const (
	DefaultLease = 15 * time.Second
	DefaultGroup = "fleet"
)

// Options configure New. The zero value elects on the store with a 15s lease
// renewed every 5s.
type Options struct {
	// Mode: ModeElect (default) or ModeAlways.
	Mode Mode
	// Group names the election: processes with the same group elect one
	// leader. Default "fleet". The store keys are "leader:{group}" (the
	// lease) and "leader:{group}:token" (the counter), one hash slot on a
	// Redis Cluster.
	Group string
	// Lease is how long a term lasts without renewal: the longest a dead
	// leader keeps the fleet leaderless. Default 15s.
	Lease time.Duration
	// Renew is how often the leader renews and a follower tries to take the
	// lease. Default Lease/3; it must be below Lease.
	Renew time.Duration
	// ID names this process in the lease (who leads). Default
	// hostname-pid-random.
	ID string
	// Clock drives renewals and the local end of a term. Default the system clock.
	Clock clock.Clock
	// Logger receives leader.acquired, leader.lost and leader.renew_failed.
	// Default slog.Default().
	Logger *slog.Logger
	// Beat, when set, is called at every renewal tick: the watchdog's heartbeat.
	Beat func()
}

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("leader: elector stopped")

// Status is a snapshot of an Elector.
type Status struct {
	Group string `json:"group"`
	Mode  string `json:"mode"`
	// ID is this process; Leader whether it holds a valid term now.
	ID     string `json:"id"`
	Leader bool   `json:"leader"`
	// Token is this process's current term (0 when not leader).
	Token Token `json:"token"`
	// Since is when the current term began; Expires when it ends unless
	// renewed (zero in ModeAlways).
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	// Holder and HolderToken are the lease as last read from the store:
	// who leads the fleet, as far as this process knows.
	Holder      string `json:"holder,omitempty"`
	HolderToken Token  `json:"holder_token,omitempty"`
	Lease       string `json:"lease"`
	Renew       string `json:"renew"`
	// LastError is the last failure to reach the store, if the last attempt failed.
	LastError string `json:"last_error,omitempty"`
}

// Elector takes part in one election. Its methods are safe for concurrent use.
type Elector struct {
	st       store.Store
	mode     Mode
	group    string
	leaseKey string
	tokenKey string
	lease    time.Duration
	renew    time.Duration
	id       string
	clock    clock.Clock
	log      *slog.Logger
	beat     func()

	base   context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	started     bool
	stopped     bool
	gen         uint64 // timer chain generation; Restart starts a new one
	timer       clock.Timer
	expiry      clock.Timer
	inflight    sync.WaitGroup
	token       Token
	since       time.Time
	deadline    time.Time
	termCtx     context.Context
	termEnd     context.CancelFunc
	holder      string
	holderToken Token
	seen        Token // the largest token this process has seen: the counter never goes below it
	lastErr     string
	failing     bool
	holdUntil   time.Time // after a step-down: no attempt to lead before it
}

// New returns an Elector on st; Start begins taking part. For ModeElect st
// must be the fleet's shared store itself, never a store that falls back to
// local state when Redis is down (every process would then lead).
func New(st store.Store, opts Options) (*Elector, error) {
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if strings.ContainsAny(opts.Group, "{}") {
		return nil, fmt.Errorf("leader: group %q: braces are not allowed", opts.Group)
	}
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	if opts.Lease < 10*time.Millisecond {
		return nil, fmt.Errorf("leader: lease %v: want at least 10ms", opts.Lease)
	}
	if opts.Renew == 0 {
		opts.Renew = opts.Lease / 3
	}
	if opts.Renew <= 0 || opts.Renew >= opts.Lease {
		return nil, fmt.Errorf("leader: renew %v: want above 0 and below the lease (%v)", opts.Renew, opts.Lease)
	}
	if opts.ID == "" {
		opts.ID = defaultID()
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Elector{
		st: st, mode: opts.Mode, group: opts.Group, lease: opts.Lease, renew: opts.Renew, id: opts.ID,
		clock: opts.Clock, log: opts.Logger, beat: opts.Beat,
		leaseKey: "leader:{" + opts.Group + "}", tokenKey: "leader:{" + opts.Group + "}:token",
	}
	e.base, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

func defaultID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Start makes the first attempt at once (so that a process alone, or the
// first of a fleet, leads when Start returns) and then keeps renewing or
// trying every Renew until Stop.
func (e *Elector) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return ErrStopped
	}
	if e.started {
		e.mu.Unlock()
		return nil
	}
	e.started = true
	gen := e.gen
	e.inflight.Add(1)
	e.mu.Unlock()
	e.step(ctx)
	e.inflight.Done()
	e.arm(gen)
	return nil
}

// Restart starts a new timer chain, abandoning the current one (which stops
// at its next tick): the watchdog's remedy for a renewal loop gone silent.
func (e *Elector) Restart() {
	e.mu.Lock()
	if !e.started || e.stopped {
		e.mu.Unlock()
		return
	}
	e.gen++
	gen := e.gen
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = e.clock.AfterFunc(0, func() { e.tick(gen) })
	e.mu.Unlock()
}

func (e *Elector) arm(gen uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || gen != e.gen {
		return
	}
	e.timer = e.clock.AfterFunc(e.renew, func() { e.tick(gen) })
}

func (e *Elector) tick(gen uint64) {
	e.mu.Lock()
	if e.stopped || gen != e.gen {
		e.mu.Unlock()
		return
	}
	e.inflight.Add(1) // under mu and before stopped: Stop's Wait never races an Add
	e.mu.Unlock()
	defer e.inflight.Done()
	if e.beat != nil {
		e.beat()
	}
	ctx, cancel := context.WithTimeout(e.base, e.renew)
	e.step(ctx)
	cancel()
	e.arm(gen)
}

// Stop ends taking part: a leader on Redis deletes its lease (the fleet
// elects at once instead of after a lease; if the store cannot be reached,
// leader.release_failed is logged and the lease runs out by itself) and its
// term ends. Stop waits for a running attempt, is idempotent and returns nil.
func (e *Elector) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	if e.timer != nil {
		e.timer.Stop()
	}
	e.mu.Unlock()
	e.cancel() // ends a store call in flight
	e.inflight.Wait()

	e.mu.Lock()
	tok, leading := e.token, e.validLocked()
	e.mu.Unlock()
	if leading && e.mode == ModeElect {
		_, err := e.st.Atomic(ctx, store.Txn{Conds: []store.Cond{e.Fence(tok)}, Ops: []store.Op{store.DeleteOp(e.leaseKey)}})
		if err != nil {
			// Not an error of Stop: the lease runs out by itself.
			e.log.LogAttrs(ctx, slog.LevelWarn, "leader.release_failed", slog.String("group", e.group),
				slog.String("error", err.Error()))
		}
	}
	e.endTerm(ctx, tok, "stopped")
	return nil
}

// ErrAlways is StepDown's error for an Elector in ModeAlways.
var ErrAlways = errors.New("leader: this process is alone on its store and always leads: there is no one to step down for")

// ErrNotLeading is StepDown's error when this process holds no term.
var ErrNotLeading = errors.New("leader: this process does not lead")

// StepDown gives up this process's term: its lease is deleted (only while it
// still carries this term's token), the term ends (its context is cancelled,
// leader.lost says "stepped down") and the process makes no attempt to lead
// for one lease, so that another process takes the lease at its next
// attempt. It returns the token of the term given up. A store that cannot
// be reached is an error and the term goes on.
func (e *Elector) StepDown(ctx context.Context) (Token, error) {
	if e.mode == ModeAlways {
		return 0, ErrAlways
	}
	e.mu.Lock()
	tok, leading := e.token, e.validLocked()
	if !leading || e.stopped {
		e.mu.Unlock()
		return 0, ErrNotLeading
	}
	prevHold := e.holdUntil
	e.holdUntil = e.clock.Now().Add(e.lease)
	e.mu.Unlock()
	res, err := e.st.Atomic(ctx, store.Txn{Conds: []store.Cond{e.Fence(tok)}, Ops: []store.Op{store.DeleteOp(e.leaseKey)}})
	if err != nil {
		e.mu.Lock()
		e.holdUntil = prevHold
		e.mu.Unlock()
		return 0, fmt.Errorf("leader: releasing the lease: %w", err)
	}
	reason := "stepped down"
	if !res.Applied {
		reason = "lease taken or expired"
	}
	e.endTerm(ctx, tok, reason)
	if !res.Applied {
		return 0, ErrNotLeading
	}
	return tok, nil
}

// Fence returns the store condition that holds only while tok is the
// current term: add it to a store.Txn so that the write applies only if the
// lease still carries this process's token. A stale leader's write then
// fails the condition (TxnResult.Applied is false) instead of landing. The
// transaction's keys must share the lease's hash slot (the Redis store
// checks it everywhere, so code that works on one node works on a cluster):
// name them with Key.
func (e *Elector) Fence(tok Token) store.Cond {
	return store.IfEquals(e.leaseKey, e.value(tok))
}

// Key returns a store key in the election's hash slot, "leader:{group}:data:name",
// for state that leader-only tasks write under Fence.
func (e *Elector) Key(name string) string { return e.leaseKey + ":data:" + name }

func (e *Elector) value(tok Token) []byte { return []byte(tok.String() + ":" + e.id) }

func parseValue(v []byte) (Token, string) {
	num, id, _ := strings.Cut(string(v), ":")
	n, _ := strconv.ParseUint(num, 10, 64)
	return Token(n), id
}

// Renew returns how often the elector renews or tries: its loop's period.
func (e *Elector) Renew() time.Duration { return e.renew }

// IsLeader reports whether this process holds a term that has not run out.
func (e *Elector) IsLeader() bool {
	_, _, ok := e.Leadership()
	return ok
}

// Leadership returns the current term: a context cancelled when the term
// ends (lost, run out or Stop), its token, and true; or false when this
// process does not lead.
func (e *Elector) Leadership() (context.Context, Token, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.validLocked() {
		return nil, 0, false
	}
	return e.termCtx, e.token, true
}

func (e *Elector) validLocked() bool {
	if e.token == 0 {
		return false
	}
	return e.mode == ModeAlways || e.clock.Now().Before(e.deadline)
}

// Status returns a snapshot.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{Group: e.group, Mode: e.mode.String(), ID: e.id, Holder: e.holder, HolderToken: e.holderToken,
		Lease: e.lease.String(), Renew: e.renew.String(), LastError: e.lastErr}
	if e.validLocked() {
		s.Leader, s.Token, s.Since = true, e.token, e.since
		if e.mode == ModeElect {
			s.Expires = e.deadline
		}
	}
	return s
}

// margin is the part of the lease a leader gives up: its term ends locally
// this much before the store's key expires, against clock rate differences.
func (e *Elector) margin() time.Duration { return e.lease / 20 }

// step renews a held lease or tries to take a free one.
func (e *Elector) step(ctx context.Context) {
	e.mu.Lock()
	tok, leading := e.token, e.token != 0
	e.mu.Unlock()
	if e.mode == ModeAlways {
		if !leading {
			e.takeAlways(ctx)
		}
		return
	}
	if leading {
		e.renewLease(ctx, tok)
		return
	}
	e.acquire(ctx)
}

func (e *Elector) takeAlways(ctx context.Context) {
	n, err := e.st.Incr(ctx, e.tokenKey, 1, 0)
	if err == nil {
		err = e.st.Set(ctx, e.leaseKey, e.value(Token(n)), 0)
	}
	if err != nil {
		e.noteError(ctx, err)
		return
	}
	e.noteOK()
	e.beginTerm(ctx, Token(n), e.clock.Now())
}

func (e *Elector) acquire(ctx context.Context) {
	sent := e.clock.Now()
	e.mu.Lock()
	held := sent.Before(e.holdUntil)
	e.mu.Unlock()
	if held {
		return // stepped down: another process takes the lease
	}
	cur, err := e.st.Get(ctx, e.tokenKey)
	var n uint64
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = nil
	case err == nil:
		n, err = strconv.ParseUint(string(cur), 10, 64)
		if err != nil {
			err = fmt.Errorf("token counter %q holds %q: %w", e.tokenKey, cur, store.ErrWrongType)
		}
	}
	if err != nil {
		e.noteError(ctx, err)
		return
	}
	counterCond := store.IfAbsent(e.tokenKey)
	if n > 0 {
		counterCond = store.IfEquals(e.tokenKey, cur)
	}
	// A Redis restarted empty has lost the counter: start above every token
	// this process has seen, so that tokens keep growing for it.
	e.mu.Lock()
	next := max(Token(n), e.seen) + 1
	e.mu.Unlock()
	res, err := e.st.Atomic(ctx, store.Txn{
		Conds: []store.Cond{store.IfAbsent(e.leaseKey), counterCond},
		Ops: []store.Op{
			store.SetOp(e.tokenKey, []byte(next.String()), 0),
			store.SetOp(e.leaseKey, e.value(next), e.lease),
		},
	})
	if err != nil {
		e.noteError(ctx, err)
		return
	}
	e.noteOK()
	if res.Applied {
		e.beginTerm(ctx, next, sent)
		return
	}
	// Someone holds it: remember who, for the status.
	if v, err := e.st.Get(ctx, e.leaseKey); err == nil {
		t, id := parseValue(v)
		if id == e.id {
			// A term of ours that ended here first (a renewal that landed
			// after the local deadline): free it rather than wait it out.
			_, _ = e.st.Atomic(ctx, store.Txn{Conds: []store.Cond{store.IfEquals(e.leaseKey, v)},
				Ops: []store.Op{store.DeleteOp(e.leaseKey)}})
			return
		}
		e.mu.Lock()
		e.holder, e.holderToken = id, t
		e.seen = max(e.seen, t)
		e.mu.Unlock()
	}
}

func (e *Elector) renewLease(ctx context.Context, tok Token) {
	sent := e.clock.Now()
	v := e.value(tok)
	ok, err := e.st.CompareAndSet(ctx, e.leaseKey, v, v, e.lease)
	if err != nil {
		// The term stands until its deadline: the expiry timer ends it.
		e.noteError(ctx, err)
		return
	}
	e.noteOK()
	if !ok {
		e.endTerm(ctx, tok, "lease taken or expired")
		return
	}
	e.mu.Lock()
	if e.token == tok && !e.stopped {
		e.deadline = sent.Add(e.lease - e.margin())
		e.armExpiryLocked(tok)
	}
	e.mu.Unlock()
}

func (e *Elector) beginTerm(ctx context.Context, tok Token, sent time.Time) {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.token, e.since = tok, e.clock.Now()
	e.seen = max(e.seen, tok)
	e.deadline = sent.Add(e.lease - e.margin())
	e.holder, e.holderToken = e.id, tok
	e.termCtx, e.termEnd = context.WithCancel(e.base)
	if e.mode == ModeElect {
		e.armExpiryLocked(tok)
	}
	e.mu.Unlock()
	e.log.LogAttrs(ctx, slog.LevelInfo, "leader.acquired", slog.String("group", e.group),
		slog.String("id", e.id), slog.Uint64("token", uint64(tok)), slog.String("mode", e.mode.String()))
}

func (e *Elector) armExpiryLocked(tok Token) {
	if e.expiry != nil {
		e.expiry.Stop()
	}
	e.expiry = e.clock.AfterFunc(e.deadline.Sub(e.clock.Now()), func() {
		e.mu.Lock()
		due := e.token == tok && !e.clock.Now().Before(e.deadline)
		e.mu.Unlock()
		if due {
			e.endTerm(context.Background(), tok, "lease ran out without renewal")
		}
	})
}

// endTerm ends term tok if it is still the current one.
func (e *Elector) endTerm(ctx context.Context, tok Token, reason string) {
	e.mu.Lock()
	if tok == 0 || e.token != tok {
		e.mu.Unlock()
		return
	}
	e.token, e.since, e.deadline = 0, time.Time{}, time.Time{}
	if e.holder == e.id && e.holderToken == tok {
		e.holder, e.holderToken = "", 0
	}
	if e.expiry != nil {
		e.expiry.Stop()
		e.expiry = nil
	}
	end := e.termEnd
	e.termCtx, e.termEnd = nil, nil
	e.mu.Unlock()
	// Leadership already answers false; the event goes out before the
	// term's context ends, so whoever waits on it finds the event written.
	e.log.LogAttrs(ctx, slog.LevelWarn, "leader.lost", slog.String("group", e.group),
		slog.String("id", e.id), slog.Uint64("token", uint64(tok)), slog.String("reason", reason))
	if end != nil {
		end()
	}
}

func (e *Elector) noteError(ctx context.Context, err error) {
	e.mu.Lock()
	first := !e.failing
	e.failing, e.lastErr = true, err.Error()
	e.mu.Unlock()
	if first && e.base.Err() == nil { // one event per failing streak, none for Stop's cancel
		e.log.LogAttrs(ctx, slog.LevelWarn, "leader.renew_failed", slog.String("group", e.group),
			slog.String("error", err.Error()))
	}
}

func (e *Elector) noteOK() {
	e.mu.Lock()
	e.failing, e.lastErr = false, ""
	e.mu.Unlock()
}
