// Package control holds the operator's two switches: the kill switch
// (ENABLED/DISABLED) and dry-run (LIVE/DRY_RUN), kept in a store.Store and
// applied to the runtime's in-process atomics. Every change records who made
// it, why and when, in a bounded history.
//
// A change takes effect in the process at once, is journaled in the store as a
// decision (store.Store.Append: with Redis behind a store.Failover, a decision
// made while Redis is unreachable goes to the local write-ahead log and is
// replayed when Redis returns), and is then folded into the shared state with
// a compare-and-set and announced on the change feed. See fold for how
// concurrent decisions are reconciled.
//
// Errors: what a Control's operations return reads "control: <what>: <cause>";
// the sentinels (Err*) and CheckReason give the bare reason, since callers
// show them under their own context (an admin refusal, a breaker action).
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/internal/restart"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// Where the switches live in the store. With the Redis store's default prefix
// the state is the key "baldur:{control}", where earlier versions kept it too.
const (
	// StateKey holds the shared state (JSON, see State).
	StateKey = "{control}"
	// DecisionsKey is the stream of decisions not yet folded into StateKey.
	DecisionsKey = "{control}:decisions"
	// ChangedChannel announces every new state.
	ChangedChannel = "control:changed"
)

// casRetries bounds compare-and-set retries when several processes change the
// state at the same instant.
const casRetries = 20

// Target receives the switches; the runtime hands in an unexported adapter over
// the atomic mode word the hot path reads, so Control is the only way to change it.
type Target interface {
	SetEnabled(on bool)
	SetDryRun(on bool)
}

// Options configure a Control. The zero value is valid: every zero field takes
// the default written beside it.
type Options struct {
	// Store keeps the state and the journal of decisions. Default: a
	// store.NewMemory() of its own (nothing survives a restart), closed by Close;
	// a Store passed in is not closed.
	Store store.Store
	// Where names the store in Status and logs, e.g. "redis" or "embedded".
	// Default "memory" for the default store, else "store".
	Where string
	// LegacyFile is a control.json written by earlier versions (a file in the
	// state directory). When it exists and the store holds no state yet, its
	// state is moved into the store; the file is then renamed to
	// LegacyFile+".migrated" (kept, never deleted). Default: none.
	LegacyFile string
	// Target receives every state the Control adopts. Default: none.
	Target Target
	// Logger receives control.* events. Default: slog.Default().
	Logger *slog.Logger
	// Clock stamps decisions. Default: the real clock.
	Clock clock.Clock
	// HistoryLimit bounds the history kept in the state. Default 100.
	HistoryLimit int
	// PollInterval is how often the store is re-read, as a safety net behind
	// the change feed. Default 5s; negative disables polling, and with it the
	// retry of a subscription that failed at start.
	PollInterval time.Duration
	// RetryInterval is how often a decision not yet in the shared state, or a
	// state that could not be read, is retried. Default 250ms; negative disables.
	RetryInterval time.Duration
	// Node names this process in the decisions it makes. Default: host/pid.
	Node string
	// Beat, when set, is called at every turn of the watching loop (at least
	// every PollInterval): the watchdog's heartbeat.
	Beat func()
}

// DefaultHistoryLimit is the number of changes kept when Options.HistoryLimit is 0.
const DefaultHistoryLimit = 100

// errDegraded is what a read returns while the store serves from its local
// copy: the fleet's state is not visible.
var errDegraded = errors.New("control: the fleet store is unreachable (DEGRADED): the last known state stands; " +
	"changes made here take effect in this process, are journaled locally and reach the fleet when it returns")

// Control is the kill switch and dry-run of one process, kept in step with the
// store. Its methods are safe for concurrent use.
type Control struct {
	store     store.Store
	ownsStore bool
	where     string
	legacy    string
	target    Target
	log       *slog.Logger
	clock     clock.Clock
	limit     int
	node      string
	beat      func()

	// mu orders the adoption of states (local changes and shared states) and
	// guards the fields below it. It is never held across a store call: the
	// store is read and written by one goroutine (the loop; New before it
	// starts), which others ask through reqs.
	mu         sync.Mutex
	pending    []pendingDecision // this process's decisions not yet in the shared state, in order
	lastLogged string            // the read failure logged for the current outage, so that it logs once

	shared bool // a state was read from or written to the store; owned by the store goroutine
	reqs   chan chan error

	state    atomic.Pointer[State]
	loadErr  atomic.Pointer[string]
	pendingN atomic.Int64

	// The watching loop: one run at a time (it is the store goroutine).
	watch     *restart.Loop
	poll      time.Duration
	retry     time.Duration
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
}

// New reads the state from the store, applies it to the target, subscribes to
// changes made by other processes and starts polling. A state that cannot be
// read is logged (control.state_unreadable) and treated as enabled and live,
// plus the decisions this process journaled locally during an outage; New
// fails only on a bad option.
func New(ctx context.Context, opts Options) (*Control, error) {
	if opts.HistoryLimit < 0 {
		return nil, fmt.Errorf("control: HistoryLimit %d must not be negative", opts.HistoryLimit)
	}
	c := &Control{
		store: opts.Store, where: opts.Where, legacy: opts.LegacyFile, target: opts.Target,
		log: opts.Logger, clock: opts.Clock, limit: opts.HistoryLimit, node: opts.Node, beat: opts.Beat,
		reqs: make(chan chan error), closing: make(chan struct{}),
	}
	if c.store == nil {
		c.store, c.ownsStore = store.NewMemory(), true
		if c.where == "" {
			c.where = "memory"
		}
	}
	if c.where == "" {
		c.where = "store"
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.clock == nil {
		c.clock = clock.Real()
	}
	if c.limit == 0 {
		c.limit = DefaultHistoryLimit
	}
	if c.node == "" {
		host, _ := os.Hostname()
		c.node = host + "/" + strconv.Itoa(os.Getpid())
	}
	poll, retry := opts.PollInterval, opts.RetryInterval
	if poll == 0 {
		poll = 5 * time.Second
	}
	if retry == 0 {
		retry = 250 * time.Millisecond
	}
	def := Default()
	c.state.Store(&def)
	c.apply(def)

	// The loop is not running yet: this goroutine is the store goroutine.
	c.migrate(ctx)
	err := c.sync(ctx)
	if errors.Is(err, errDegraded) {
		c.adoptLocalJournal(ctx)
	}
	c.mu.Lock()
	c.noteRead(ctx, err)
	c.mu.Unlock()

	c.poll, c.retry = poll, retry
	// The first subscription is made before New returns; a run that
	// replaces a stuck one (Restart) subscribes again.
	sub, replacing := c.subscribe(ctx), false
	c.watch = restart.Start(ctx, "control_watcher", c.log, func(ctx context.Context) {
		if replacing {
			sub = c.subscribe(ctx)
			c.log.LogAttrs(ctx, slog.LevelInfo, "control.watch_restarted", slog.String("store", c.where))
		}
		replacing = true
		c.loop(ctx, sub)
	})
	return c, nil
}

// Restart is the watchdog's remedy for a watching loop gone silent: it
// cancels the loop's context (a store call it is stuck in returns) and, once
// that loop has returned, starts a fresh one with a fresh subscription.
// There is never more than one loop (it is the only goroutine that talks to
// the store): a loop that does not return is left, and stays silent.
func (c *Control) Restart() {
	if !c.isClosing() {
		c.watch.Restart()
	}
}

func (c *Control) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

func (c *Control) subscribe(ctx context.Context) store.Subscription {
	sub, err := c.store.Subscribe(ctx, ChangedChannel)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "control.watch_failed",
			slog.String("store", c.where), slog.String("error", err.Error()))
		return nil
	}
	return sub
}

// loop refreshes on every change notification and every poll tick, retries
// pending decisions and failed reads, and keeps trying to subscribe while the
// store refuses.
func (c *Control) loop(ctx context.Context, sub store.Subscription) {
	poll, retry := c.poll, c.retry
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	var pollC, retryC <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		pollC = t.C
	}
	if retry > 0 {
		t := time.NewTicker(retry)
		defer t.Stop()
		retryC = t.C
	}
	for {
		if c.beat != nil {
			c.beat()
		}
		var msgs <-chan store.Message
		if sub != nil {
			msgs = sub.C()
		}
		select {
		case <-ctx.Done():
			return
		case reply := <-c.reqs:
			reply <- c.refreshNow(ctx)
			continue
		case _, ok := <-msgs:
			if !ok {
				sub = nil // the store closed it; resubscribe at the next poll
				continue
			}
		case <-retryC:
			if c.pendingN.Load() == 0 && c.loadErr.Load() == nil {
				continue
			}
		case <-pollC:
			if sub == nil {
				sub = c.subscribe(ctx)
			}
		}
		_ = c.refreshNow(ctx) // failures are logged; the last known state stands
	}
}

// refreshNow syncs with the store and records the outcome; store goroutine only.
func (c *Control) refreshNow(ctx context.Context) error {
	err := c.sync(ctx)
	c.mu.Lock()
	c.noteRead(ctx, err)
	c.mu.Unlock()
	return err
}

// Close stops the subscription and the polling, then closes the store if the
// Control made it.
func (c *Control) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closing)
		c.watch.Close()
		if c.ownsStore {
			err = c.store.Close()
		}
	})
	return err
}

// degraded reports whether the store is a store.Failover serving from its
// local copy, where the fleet's state is not visible.
func (c *Control) degraded() bool {
	m, ok := c.store.(interface{ Mode() store.Mode })
	return ok && m.Mode() == store.ModeDegraded
}

// Refresh re-reads the store, folds in the decisions journaled there (by any
// process) and adopts the result. A read failure keeps the last known state
// (at start: enabled and live) and is logged as control.state_unreadable, once
// per outage; a corrupt state is set aside and the last known state written back.
// The work runs on the Control's store goroutine; Refresh waits for it or ctx.
func (c *Control) Refresh(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case c.reqs <- reply:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return errControlClosed
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return errControlClosed
	}
}

var errControlClosed = errors.New("control: closed")

// pendingDecision is a decision of this process on its way to the shared state.
type pendingDecision struct {
	decision
	journaled bool // appended to DecisionsKey
	reported  bool // a change returned with it pending: its publication is logged
}

// snapshot returns the pending decisions and those not journaled yet.
func (c *Control) snapshot() (all, unjournaled []decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pending {
		all = append(all, p.decision)
		if !p.journaled {
			unjournaled = append(unjournaled, p.decision)
		}
	}
	return all, unjournaled
}

// journal appends the decisions not journaled yet, in the order they were
// taken; store goroutine only.
func (c *Control) journal(ctx context.Context) error {
	_, todo := c.snapshot()
	for _, d := range todo {
		b, err := json.Marshal(d)
		if err == nil {
			_, err = c.store.Append(ctx, DecisionsKey, b)
		}
		if err != nil {
			return fmt.Errorf("control: journal decision %s: %w", d.ID, err)
		}
		c.mu.Lock()
		for i := range c.pending {
			if c.pending[i].ID == d.ID {
				c.pending[i].journaled = true
			}
		}
		c.mu.Unlock()
	}
	return nil
}

// sync journals this process's new decisions, folds the journaled ones and
// the pending ones into the shared state with a compare-and-set, and adopts
// the result; store goroutine only. A decision the journal refused is still
// folded directly when the shared state can be written.
func (c *Control) sync(ctx context.Context) error {
	journalErr := c.journal(ctx)
	for range casRetries {
		if c.degraded() {
			return errDegraded
		}
		raw, err := c.store.Get(ctx, StateKey)
		missing := errors.Is(err, store.ErrNotFound)
		if err != nil && !missing {
			return fmt.Errorf("control: read %s: %w", StateKey, err)
		}
		entries, err := c.store.Range(ctx, DecisionsKey, store.ID{}, 0)
		if err != nil {
			return fmt.Errorf("control: read %s: %w", DecisionsKey, err)
		}
		if c.degraded() {
			return errDegraded // the reads may have come from the local copy
		}
		// Nothing stored, or what was stored is gone (a Redis restarted
		// empty): the last known state is written back, so no process falls
		// back to enabled and live because the store forgot.
		base := c.state.Load().clone()
		if !missing {
			s, derr := Decode(raw)
			if derr != nil {
				if applied, err := c.setAside(ctx, raw, derr); err != nil || !applied {
					if err != nil {
						return err
					}
					continue
				}
				missing = true
			} else {
				base = s
			}
		}
		ds, ids := c.decodeEntries(ctx, entries)
		mine, _ := c.snapshot()
		for _, p := range mine {
			if !containsID(ds, p.ID) {
				ds = append(ds, p)
			}
		}
		next, conflicts := fold(base, ds, c.limit)
		restoring := missing && next.Revision > 0
		if len(ids) == 0 && next.Revision == base.Revision && !restoring {
			c.shared = c.shared || !missing
			c.adoptShared(ctx, next, mine, true)
			return nil
		}
		enc, err := next.Encode()
		if err != nil {
			return fmt.Errorf("control: encode: %w", err)
		}
		txn := store.Txn{Ops: []store.Op{store.SetOp(StateKey, enc, 0)}}
		if missing {
			txn.Conds = []store.Cond{store.IfAbsent(StateKey)}
		} else {
			txn.Conds = []store.Cond{store.IfEquals(StateKey, raw)}
		}
		if len(ids) > 0 {
			txn.Ops = append(txn.Ops, store.RemoveOp(DecisionsKey, ids...))
		}
		txn.Ops = append(txn.Ops, store.PublishOp(ChangedChannel, []byte(strconv.FormatUint(next.Revision, 10))))
		res, err := c.store.Atomic(ctx, txn)
		if err != nil {
			return fmt.Errorf("control: write %s: %w", StateKey, err)
		}
		if !res.Applied {
			continue // another process wrote first: read again
		}
		for _, cf := range conflicts {
			c.logConflict(ctx, cf)
		}
		if restoring && c.shared {
			c.log.LogAttrs(ctx, slog.LevelWarn, "control.state_restored",
				slog.String("store", c.where), slog.String("kill_switch", string(next.KillSwitch)),
				slog.String("mode", string(next.Mode)), slog.Uint64("revision", next.Revision))
		}
		c.shared = true
		// A write that fell over to the local copy mid-call is not the fleet's yet.
		c.adoptShared(ctx, next, mine, !c.degraded())
		return nil
	}
	if journalErr != nil {
		return journalErr
	}
	return fmt.Errorf("control: update %s: gave up after %d concurrent modifications", StateKey, casRetries)
}

// adoptShared adopts a state read from or written to the store, with this
// process's decisions taken since on top (so that a sync never undoes a change
// made while it ran). When published, the decisions in folded are in the
// shared state now and stop being pending; those a change had reported
// pending are logged.
func (c *Control) adoptShared(ctx context.Context, s State, folded []decision, published bool) {
	c.mu.Lock()
	waited := 0
	if published {
		kept := c.pending[:0]
		for _, p := range c.pending {
			if !containsID(folded, p.ID) {
				kept = append(kept, p)
			} else if p.reported {
				waited++
			}
		}
		c.pending = kept
		c.pendingN.Store(int64(len(c.pending)))
	}
	rest := make([]decision, 0, len(c.pending))
	for _, p := range c.pending {
		rest = append(rest, p.decision)
	}
	inForce, _ := fold(s, rest, c.limit)
	prev := c.adopt(inForce)
	c.mu.Unlock()
	c.logSynced(ctx, prev, inForce)
	if waited > 0 {
		c.log.LogAttrs(ctx, slog.LevelInfo, "control.pending_published",
			slog.Int("decisions", waited), slog.String("store", c.where))
	}
}

func containsID(ds []decision, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}

// decodeEntries reads the journaled decisions. One that does not decode is
// logged with its bytes (so nothing is lost) and removed with the others.
func (c *Control) decodeEntries(ctx context.Context, entries []store.Entry) ([]decision, []store.ID) {
	ds := make([]decision, 0, len(entries))
	ids := make([]store.ID, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
		var d decision
		err := json.Unmarshal(e.Value, &d)
		if err == nil {
			_, err = checkAction(d.Action)
		}
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelError, "control.decision_unreadable",
				slog.String("store", c.where), slog.String("key", DecisionsKey), slog.String("id", e.ID.String()),
				slog.String("error", err.Error()), slog.String("value", string(e.Value)))
			continue
		}
		ds = append(ds, d)
	}
	return ds, ids
}

func checkAction(a string) (string, error) {
	switch a {
	case ActionDisable, ActionEnable, ActionDryRunOn, ActionGoLive:
		return a, nil
	}
	return "", fmt.Errorf("control: unknown action %q", a)
}

// setAside moves a corrupt state to a key of its own (never deletes it) and
// logs where; applied is false when the state changed meanwhile.
func (c *Control) setAside(ctx context.Context, raw []byte, derr error) (applied bool, err error) {
	aside := StateKey + ":corrupt:" + strconv.FormatInt(c.clock.Now().UnixNano(), 10)
	res, err := c.store.Atomic(ctx, store.Txn{
		Conds: []store.Cond{store.IfEquals(StateKey, raw)},
		Ops:   []store.Op{store.SetOp(aside, raw, 0), store.DeleteOp(StateKey)},
	})
	if err != nil {
		return false, fmt.Errorf("control: set aside corrupt %s: %w (state: %w)", StateKey, err, derr)
	}
	if res.Applied {
		cur := c.state.Load()
		c.log.LogAttrs(ctx, slog.LevelError, "control.state_unreadable",
			slog.String("store", c.where), slog.String("key", StateKey), slog.String("set_aside", aside),
			slog.String("error", (&CorruptError{Where: StateKey, SetAside: aside, Err: derr}).Error()),
			slog.String("using", string(cur.KillSwitch)+" "+string(cur.Mode)))
	}
	return res.Applied, nil
}

// adoptLocalJournal applies, at a start while the fleet store is unreachable,
// the decisions this process journaled locally during the outage (before a
// restart): they stay in force and pending until the fleet store returns.
func (c *Control) adoptLocalJournal(ctx context.Context) {
	entries, err := c.store.Range(ctx, DecisionsKey, store.ID{}, 0)
	if err != nil || len(entries) == 0 {
		return
	}
	ds, _ := c.decodeEntries(ctx, entries)
	c.mu.Lock()
	next, _ := fold(c.state.Load().clone(), ds, c.limit)
	prev := c.adopt(next)
	for _, d := range ds {
		c.pending = append(c.pending, pendingDecision{decision: d, journaled: true, reported: true})
	}
	c.pendingN.Store(int64(len(c.pending)))
	c.mu.Unlock()
	c.logSynced(ctx, prev, next)
}

// noteRead records the outcome of a read: a failure is kept for Status and
// logged once per outage (until a read succeeds). c.mu must be held.
func (c *Control) noteRead(ctx context.Context, err error) {
	if err == nil {
		c.loadErr.Store(nil)
		c.lastLogged = ""
		return
	}
	msg := err.Error()
	c.loadErr.Store(&msg)
	if c.lastLogged != "" {
		return // already logged since the last successful read: once per outage
	}
	c.lastLogged = msg
	cur := c.state.Load()
	c.log.LogAttrs(ctx, slog.LevelError, "control.state_unreadable",
		slog.String("store", c.where), slog.String("error", msg),
		slog.String("using", string(cur.KillSwitch)+" "+string(cur.Mode)))
}

// migrate moves a control.json of an earlier version into the store.
func (c *Control) migrate(ctx context.Context) {
	if c.legacy == "" || c.degraded() {
		return // while degraded the store cannot say whether it holds a state: next start
	}
	path := c.legacy
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	fail := func(level slog.Level, event string, err error, attrs ...slog.Attr) {
		msg := err.Error()
		c.loadErr.Store(&msg)
		cur := c.state.Load()
		c.log.LogAttrs(ctx, level, event, append([]slog.Attr{slog.String("file", path), slog.String("error", msg),
			slog.String("using", string(cur.KillSwitch)+" "+string(cur.Mode))}, attrs...)...)
	}
	if err != nil {
		fail(slog.LevelError, "control.state_unreadable", fmt.Errorf("control: state file %s: %w", path, err))
		return
	}
	s, derr := Decode(b)
	if derr != nil {
		// Keep the bad bytes for the post-mortem: rename, never delete.
		aside := path + ".corrupt-" + strconv.FormatInt(c.clock.Now().UnixNano(), 10)
		if err := os.Rename(path, aside); err != nil {
			fail(slog.LevelError, "control.state_unreadable",
				fmt.Errorf("control: state file %s: %w; setting it aside failed: %w", path, derr, err))
			return
		}
		fail(slog.LevelError, "control.state_unreadable",
			&CorruptError{Where: path, SetAside: aside, Err: derr}, slog.String("set_aside", aside))
		return
	}
	enc, err := s.Encode()
	if err != nil {
		return
	}
	stored, err := c.store.SetNX(ctx, StateKey, enc, 0)
	if err != nil {
		fail(slog.LevelWarn, "control.state_migration_failed",
			fmt.Errorf("control: state file %s: moving it into the store: %w (the file is left in place and read at the next start)", path, err))
		return
	}
	dest := path + ".migrated"
	if err := os.Rename(path, dest); err != nil {
		dest = path
	}
	kept := "the file's state"
	if !stored {
		kept = "the store's state (it already held one)"
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "control.state_migrated", slog.String("file", path),
		slog.String("file_now", dest), slog.String("store", c.where), slog.String("in_force", kept))
}

// adopt makes s the current state and applies it to the target (the
// runtime's atomics); it returns the state it replaced. Callers hold c.mu and
// log through logSynced once they have released it.
func (c *Control) adopt(s State) (prev *State) {
	prev = c.state.Load()
	c.state.Store(&s)
	c.apply(s)
	return prev
}

// logSynced logs a state read from the store that changed a switch.
func (c *Control) logSynced(ctx context.Context, prev *State, s State) {
	if prev.KillSwitch == s.KillSwitch && prev.Mode == s.Mode {
		return
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "control.state_synced",
		slog.String("kill_switch", string(s.KillSwitch)), slog.String("mode", string(s.Mode)),
		slog.String("changed_by", s.ChangedBy), slog.String("reason", s.Reason),
		slog.Uint64("revision", s.Revision), slog.String("store", c.where))
}

func (c *Control) apply(s State) {
	if c.target != nil {
		c.target.SetEnabled(s.IsEnabled())
		c.target.SetDryRun(s.IsDryRun())
	}
}

func (c *Control) logConflict(ctx context.Context, cf conflict) {
	sw := "mode"
	if onKillSwitch(cf.decision.Action) {
		sw = "kill_switch"
	}
	winner := cf.against
	if cf.won {
		winner = cf.decision
	}
	group := func(name string, ch Change) slog.Attr {
		return slog.Group(name, slog.String("id", ch.ID), slog.String("action", ch.Action),
			slog.String("who", ch.Who), slog.Time("at", ch.At), slog.String("node", ch.Node),
			slog.String("reason", ch.Reason))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "control.reconcile_conflict",
		slog.String("switch", sw), slog.String("rule", cf.rule), slog.String("winner", winner.ID),
		slog.String("in_force", winner.Action), group("decision", cf.decision), group("against", cf.against),
		slog.String("store", c.where))
}

// Disable turns the kill switch off: every wrapper calls its inner method
// directly. reason must hold a letter or digit.
func (c *Control) Disable(ctx context.Context, who, reason string) (State, error) {
	return c.change(ctx, who, ActionDisable, reason, true)
}

// Enable turns the kill switch back on. reason is optional.
func (c *Control) Enable(ctx context.Context, who, reason string) (State, error) {
	return c.change(ctx, who, ActionEnable, reason, false)
}

// StartDryRun makes every policy record what it would have done instead of
// doing it. reason is optional.
func (c *Control) StartDryRun(ctx context.Context, who, reason string) (State, error) {
	return c.change(ctx, who, ActionDryRunOn, reason, false)
}

// GoLive leaves dry-run: policies intervene again. confirm must be exactly
// Confirmation ("CONFIRM").
func (c *Control) GoLive(ctx context.Context, who, confirm, reason string) (State, error) {
	if confirm != Confirmation {
		if confirm == "" {
			return c.State(), fmt.Errorf("control: go live: %w", ErrConfirmationRequired)
		}
		return c.State(), fmt.Errorf("control: go live: got confirmation %q: %w", confirm, ErrConfirmationRequired)
	}
	return c.change(ctx, who, ActionGoLive, reason, false)
}

// change takes a decision: in force in this process at once, journaled in
// the store, then folded into the shared state if the store can reach the
// fleet (else it stays pending, retried in the background). Only a bad reason
// is an error.
func (c *Control) change(ctx context.Context, who, action, reason string, reasonRequired bool) (State, error) {
	reason, err := CheckReason(reason, reasonRequired)
	if err != nil {
		return c.State(), fmt.Errorf("control: %s: %w", action, err)
	}
	c.mu.Lock()
	cur := c.state.Load()
	_, supersedes, _ := cur.inForce(action)
	d := decision{ID: newID(), At: c.clock.Now().UTC(), Who: cleanWho(who), Action: action, Reason: reason,
		Node: c.node, Supersedes: supersedes}
	next, _ := fold(*cur, []decision{d}, c.limit)
	c.adopt(next)
	c.pending = append(c.pending, pendingDecision{decision: d})
	c.pendingN.Store(int64(len(c.pending)))
	c.mu.Unlock()

	// Journal and publish; failures are logged by the sync and retried.
	syncErr := c.Refresh(ctx)
	c.mu.Lock()
	pending := false // whether this decision has yet to reach the fleet
	for i := range c.pending {
		if c.pending[i].ID == d.ID {
			c.pending[i].reported, pending = true, true
		}
	}
	s := c.state.Load()
	c.mu.Unlock()
	attrs := []slog.Attr{slog.String("who", d.Who), slog.String("reason", reason), slog.String("id", d.ID)}
	if syncErr != nil {
		attrs = append(attrs, slog.String("store_error", syncErr.Error()))
	}
	level := slog.LevelInfo
	if action == ActionDisable || action == ActionDryRunOn {
		level = slog.LevelWarn
	}
	c.log.LogAttrs(ctx, level, eventFor(action), append(attrs,
		slog.String("kill_switch", string(s.KillSwitch)), slog.String("mode", string(s.Mode)),
		slog.Uint64("revision", s.Revision), slog.Bool("pending_fleet", pending),
		slog.String("store", c.where))...)
	return s.clone(), nil
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func eventFor(action string) string {
	switch action {
	case ActionDisable:
		return "control.switch_disabled"
	case ActionEnable:
		return "control.switch_enabled"
	case ActionDryRunOn:
		return "control.dryrun_started"
	default:
		return "control.dryrun_stopped"
	}
}

// Enabled reports whether the kill switch lets policies run (the state last adopted).
func (c *Control) Enabled() bool { return c.state.Load().IsEnabled() }

// DryRun reports whether policies only record.
func (c *Control) DryRun() bool { return c.state.Load().IsDryRun() }

// State returns a copy of the current state, history included.
func (c *Control) State() State { return c.state.Load().clone() }

// History returns the recorded changes, newest first.
func (c *Control) History() []Change {
	h := c.state.Load().History
	out := make([]Change, len(h))
	for i, ch := range h {
		out[len(h)-1-i] = ch
	}
	return out
}

// Status is the state without its history, plus where it lives, whether the
// last read failed and whether decisions made here have yet to reach the fleet.
type Status struct {
	KillSwitch Switch    `json:"kill_switch"`
	Mode       Mode      `json:"mode"`
	Enabled    bool      `json:"enabled"`
	DryRun     bool      `json:"dry_run"`
	Reason     string    `json:"reason,omitempty"`
	ChangedBy  string    `json:"changed_by,omitempty"`
	ChangedAt  time.Time `json:"changed_at,omitzero"`
	Revision   uint64    `json:"revision"`
	Backend    string    `json:"backend"` // the store, as Options.Where names it
	// PendingFleet is true while decisions made in this process are in force
	// here but not yet in the shared state (the fleet store is unreachable):
	// they are journaled locally and published when it returns.
	PendingFleet bool `json:"pending_fleet"`
	// StateError is the last read failure; while set, the state shown is the
	// last one known (enabled and live if none was ever read) plus this
	// process's own decisions.
	StateError string `json:"state_error,omitempty"`
}

// Status returns the current status.
func (c *Control) Status() Status {
	s := c.state.Load()
	st := Status{
		KillSwitch: s.KillSwitch, Mode: s.Mode, Enabled: s.IsEnabled(), DryRun: s.IsDryRun(),
		Reason: s.Reason, ChangedBy: s.ChangedBy, ChangedAt: s.ChangedAt, Revision: s.Revision,
		Backend: c.where, PendingFleet: c.pendingN.Load() > 0,
	}
	if e := c.loadErr.Load(); e != nil {
		st.StateError = *e
	}
	return st
}

// Store returns the store the Control persists to.
func (c *Control) Store() store.Store { return c.store }

// CheckManual refuses a manual action (force-open, force-close, reset, auto of
// a breaker) while the kill switch is DISABLED, unless override is set: during
// an incident, hands off the automation means hands off its knobs too.
// action names the attempt in the error, e.g. "force-open payments".
func (c *Control) CheckManual(action string, override bool) error {
	s := c.state.Load()
	if s.IsEnabled() || override {
		return nil
	}
	return &DisabledError{Action: action, Reason: s.Reason, ChangedBy: s.ChangedBy, ChangedAt: s.ChangedAt}
}
