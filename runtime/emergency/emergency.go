// Package emergency keeps the fleet's emergency level (NORMAL < ELEVATED <
// HIGH < CRITICAL) in a store.Store, raises it when the signals cross their
// thresholds or an operator declares it, and lowers it only through a gate
// that fails closed. The hot path reads the level from one atomic.
//
// The level is fleet-wide: every change is a compare-and-set on StateKey
// announced on ChangedChannel, and every process adopts what it reads.
// Raising is immediate. Lowering is a recovery: one level at a time, each
// step after a stabilisation window since the last change, and only when
// the live error rate and CPU/load are read and below safe bounds; a reading
// that fails or is high holds the level where it is. An admin can force a
// release (reason and CONFIRM), which is flagged for review.
package emergency

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/store"
)

// Where the level lives in the store.
const (
	StateKey       = "{emergency}"
	ChangedChannel = "emergency:changed"
)

const casRetries = 20

// Defaults of Options.
const (
	DefaultStabilisation = 5 * time.Minute
	DefaultEvalInterval  = 10 * time.Second
	DefaultPollInterval  = 5 * time.Second
	DefaultHistoryLimit  = 100
)

// Sentinel errors callers branch on.
var (
	// ErrWouldLower: a declaration below the level in force; lowering is a release.
	ErrWouldLower = errors.New("declaring a lower level does not lower it: release it instead")
	// ErrNotLower: a release to a level that is not below the one in force.
	ErrNotLower = errors.New("a release must name a level below the one in force")
	// ErrUnavailable: the fleet store could not be read or written; the
	// decision is not the fleet's.
	ErrUnavailable = errors.New("the fleet store is unreachable")
)

// Target receives the level in force; *runtime.Runtime implements it with
// the atomic its hot path reads.
type Target interface {
	SetEmergencyLevel(Level)
}

// Options configure an Emergency. Every zero field takes the default beside it.
type Options struct {
	// Store keeps the fleet state. Default: a store.NewMemory() of its own.
	Store store.Store
	// Where names the store in Status and logs. Default "memory" or "store".
	Where string
	// Target receives every level adopted. Default: none.
	Target Target
	// Source reads the runtime's breakers, calls and DEGRADED time. Default:
	// none, which reads as unreadable: nothing is raised by those signals and
	// recovery holds (use ForceRelease).
	Source Source
	// Host reads CPU and load. Default: &ProcHost{} on /proc.
	Host Host
	// Thresholds raise the level. Default: DefaultThresholds().
	Thresholds *Thresholds
	// Safe bounds the recovery gate. Default: DefaultSafe().
	Safe *Safe
	// Manual turns automatic raising and automatic recovery off: only
	// operators move the level. Default false.
	Manual bool
	// Stabilisation is the least time between a change of level and the next
	// step down. Default 5m.
	Stabilisation time.Duration
	// EvalInterval is how often the signals are read and recovery stepped
	// (on Clock). Default 10s; negative: only Tick evaluates.
	EvalInterval time.Duration
	// PollInterval is how often the store is re-read behind the change feed.
	// Default 5s; negative disables.
	PollInterval time.Duration
	// HistoryLimit bounds the history. Default 100.
	HistoryLimit int
	// Logger receives emergency.* events. Default slog.Default().
	Logger *slog.Logger
	// Clock stamps changes and times the windows. Default: the real clock.
	Clock clock.Clock
	// Node names this process in the history. Default host/pid.
	Node string
}

// Emergency is one process's view of the fleet's emergency level. Its
// methods are safe for concurrent use.
type Emergency struct {
	store     store.Store
	ownsStore bool
	where     string
	target    Target
	source    Source
	host      Host
	thr       Thresholds
	safe      Safe
	manual    bool
	window    time.Duration
	limit     int
	log       *slog.Logger
	clock     clock.Clock
	node      string
	evalEvery time.Duration

	// level is what the hot path reads: the level in force in this process.
	level atomic.Int32

	// mu guards the fields below; never held across a store call. The store
	// is read and written by the loop goroutine only (New before it starts).
	mu         sync.Mutex
	state      State     // the last fleet state read or written
	localFloor Level     // a raise not yet in the fleet state (the store was unreachable)
	reading    Reading   // the last reading
	demanded   Level     // what it demanded
	why        []string  // and why
	held       string    // why the last step down was refused
	nextStep   time.Time // when the next step may happen
	stateErr   string    // the last store failure

	// Owned by the loop goroutine.
	prevCalls, prevFailures uint64
	prevKnown               bool

	reqs      chan request
	evalC     chan struct{}
	timer     clock.Timer
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

type request struct {
	fn    func(ctx context.Context) (State, error)
	reply chan result
}

type result struct {
	s   State
	err error
}

// New reads the fleet state, applies it to the target and starts the loop
// that follows the change feed, polls, reads the signals and steps recovery.
// A state that cannot be read is logged and NORMAL is assumed until it can;
// New fails only on a bad option.
func New(ctx context.Context, opts Options) (*Emergency, error) {
	e := &Emergency{
		store: opts.Store, where: opts.Where, target: opts.Target, source: opts.Source, host: opts.Host,
		manual: opts.Manual, window: opts.Stabilisation, limit: opts.HistoryLimit, log: opts.Logger,
		clock: opts.Clock, node: opts.Node, evalEvery: opts.EvalInterval,
		reqs: make(chan request), evalC: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if opts.HistoryLimit < 0 || opts.Stabilisation < 0 {
		return nil, fmt.Errorf("emergency: HistoryLimit %d and Stabilisation %s must not be negative", opts.HistoryLimit, opts.Stabilisation)
	}
	if e.store == nil {
		e.store, e.ownsStore = store.NewMemory(), true
		if e.where == "" {
			e.where = "memory"
		}
	}
	if e.where == "" {
		e.where = "store"
	}
	if e.host == nil {
		e.host = &ProcHost{}
	}
	e.thr = DefaultThresholds()
	if opts.Thresholds != nil {
		e.thr = *opts.Thresholds
	}
	e.safe = DefaultSafe()
	if opts.Safe != nil {
		e.safe = *opts.Safe
	}
	if e.window == 0 {
		e.window = DefaultStabilisation
	}
	if e.limit == 0 {
		e.limit = DefaultHistoryLimit
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.clock == nil {
		e.clock = clock.Real()
	}
	if e.node == "" {
		host, _ := os.Hostname()
		e.node = host + "/" + strconv.Itoa(os.Getpid())
	}
	if e.evalEvery == 0 {
		e.evalEvery = DefaultEvalInterval
	}
	poll := opts.PollInterval
	if poll == 0 {
		poll = DefaultPollInterval
	}
	e.state = Default()
	if e.target != nil {
		e.target.SetEmergencyLevel(Normal)
	}

	_ = e.refresh(ctx) // logged; NORMAL stands until a read succeeds
	sub := e.subscribe(ctx)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.armEval()
	go e.loop(loopCtx, sub, poll)
	return e, nil
}

func (e *Emergency) subscribe(ctx context.Context) store.Subscription {
	sub, err := e.store.Subscribe(ctx, ChangedChannel)
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "emergency.watch_failed",
			slog.String("store", e.where), slog.String("error", err.Error()))
		return nil
	}
	return sub
}

// armEval arms the next evaluation on the clock; it only pokes the loop.
func (e *Emergency) armEval() {
	if e.evalEvery < 0 {
		return
	}
	t := e.clock.AfterFunc(e.evalEvery, func() {
		select {
		case e.evalC <- struct{}{}:
		default:
		}
	})
	e.mu.Lock()
	e.timer = t
	e.mu.Unlock()
}

func (e *Emergency) loop(ctx context.Context, sub store.Subscription, poll time.Duration) {
	defer close(e.done)
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	var pollC <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		pollC = t.C
	}
	for {
		var msgs <-chan store.Message
		if sub != nil {
			msgs = sub.C()
		}
		select {
		case <-ctx.Done():
			return
		case r := <-e.reqs:
			s, err := r.fn(ctx)
			r.reply <- result{s, err}
		case _, ok := <-msgs:
			if !ok {
				sub = nil
				continue
			}
			_ = e.refresh(ctx)
		case <-pollC:
			if sub == nil {
				sub = e.subscribe(ctx)
			}
			_ = e.refresh(ctx)
		case <-e.evalC:
			_ = e.tick(ctx)
			e.armEval()
		}
	}
}

var errClosed = errors.New("emergency: closed")

// do runs fn on the loop goroutine, the only one that touches the store.
func (e *Emergency) do(ctx context.Context, fn func(ctx context.Context) (State, error)) (State, error) {
	r := request{fn: fn, reply: make(chan result, 1)}
	select {
	case e.reqs <- r:
	case <-ctx.Done():
		return e.current(), ctx.Err()
	case <-e.done:
		return e.current(), errClosed
	}
	select {
	case res := <-r.reply:
		return res.s, res.err
	case <-ctx.Done():
		return e.current(), ctx.Err()
	case <-e.done:
		return e.current(), errClosed
	}
}

// Close stops the loop and closes the store if the Emergency made it.
func (e *Emergency) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.mu.Lock()
		if e.timer != nil {
			e.timer.Stop()
		}
		e.mu.Unlock()
		e.cancel()
		<-e.done
		if e.ownsStore {
			err = e.store.Close()
		}
	})
	return err
}

// Level returns the level in force in this process: one atomic load, for
// the hot path.
func (e *Emergency) Level() Level { return Level(e.level.Load()) }

// apply publishes the level in force (the fleet's, or a local raise not yet
// in it) to the atomic and the target; e.mu must not be held by a caller
// that logs afterwards (it takes it).
func (e *Emergency) apply() (prev, now Level) {
	e.mu.Lock()
	now = max(e.state.Level, e.localFloor)
	e.mu.Unlock()
	prev = Level(e.level.Swap(int32(now)))
	if e.target != nil && prev != now {
		e.target.SetEmergencyLevel(now)
	}
	return prev, now
}

// degraded reports whether the store serves from its local copy, where the
// fleet's state is not visible.
func (e *Emergency) degraded() bool {
	m, ok := e.store.(interface{ Mode() store.Mode })
	return ok && m.Mode() == store.ModeDegraded
}

// read returns the fleet state and its raw bytes (nil when absent); loop only.
func (e *Emergency) read(ctx context.Context) (State, []byte, error) {
	if e.degraded() {
		return State{}, nil, fmt.Errorf("%w (DEGRADED): the last known level stands", ErrUnavailable)
	}
	raw, err := e.store.Get(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return Default(), nil, nil
	}
	if err != nil {
		return State{}, nil, fmt.Errorf("%w: read %s: %w", ErrUnavailable, StateKey, err)
	}
	s, err := Decode(raw)
	if err != nil {
		// Fail closed: a state nobody can read is not NORMAL. The last known
		// level stands until an operator declares or force-releases, which
		// overwrites it (the bad bytes are logged first).
		return State{}, raw, err
	}
	return s, raw, nil
}

// refresh reads the fleet state and adopts it; loop only.
func (e *Emergency) refresh(ctx context.Context) error {
	s, _, err := e.read(ctx)
	e.noteStore(ctx, err)
	if err != nil {
		return err
	}
	e.adopt(ctx, s)
	return nil
}

// noteStore records the outcome of a store call, logging a failure once per outage.
func (e *Emergency) noteStore(ctx context.Context, err error) {
	e.mu.Lock()
	prev := e.stateErr
	if err == nil {
		e.stateErr = ""
	} else {
		e.stateErr = err.Error()
	}
	lvl := max(e.state.Level, e.localFloor)
	e.mu.Unlock()
	if err != nil && prev == "" {
		e.log.LogAttrs(ctx, slog.LevelError, "emergency.state_unreadable",
			slog.String("store", e.where), slog.String("error", err.Error()), slog.String("using", lvl.String()))
	}
}

// adopt makes s the fleet state in this process and logs a change of level.
func (e *Emergency) adopt(ctx context.Context, s State) {
	e.mu.Lock()
	e.state = s
	if e.localFloor <= s.Level {
		e.localFloor = Normal // the fleet has it (or more)
	}
	e.mu.Unlock()
	prev, now := e.apply()
	if prev != now {
		event := "emergency.level_lowered"
		if now > prev {
			event = "emergency.level_raised"
		}
		e.log.LogAttrs(ctx, levelFor(prev, now), event,
			slog.String("from", prev.String()), slog.String("to", now.String()),
			slog.String("source", s.Source), slog.String("reason", s.Reason), slog.String("changed_by", s.ChangedBy),
			slog.Uint64("revision", s.Revision), slog.String("store", e.where))
	}
}

func levelFor(prev, now Level) slog.Level {
	if now > prev {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// update applies mutate to the fleet state with a compare-and-set,
// announces the result and adopts it; loop only. mutate returns false when
// there is nothing to write.
func (e *Emergency) update(ctx context.Context, mutate func(s *State) (bool, error)) (State, error) {
	for range casRetries {
		cur, raw, err := e.read(ctx)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			e.noteStore(ctx, err)
			return e.current(), err
		}
		if err != nil { // corrupt: overwrite it from the last known state, logged with its bytes
			e.log.LogAttrs(ctx, slog.LevelError, "emergency.state_corrupt",
				slog.String("store", e.where), slog.String("key", StateKey), slog.String("error", err.Error()),
				slog.String("value", string(raw)))
			cur = e.current()
		}
		next := cur.clone()
		changed, merr := mutate(&next)
		if merr != nil {
			e.adopt(ctx, cur)
			return cur, merr
		}
		if !changed {
			e.noteStore(ctx, nil)
			e.adopt(ctx, cur)
			return cur, nil
		}
		next.Schema = schemaVersion
		enc, err := next.Encode()
		if err != nil {
			return cur, fmt.Errorf("emergency: encode: %w", err)
		}
		txn := store.Txn{Ops: []store.Op{store.SetOp(StateKey, enc, 0),
			store.PublishOp(ChangedChannel, []byte(strconv.FormatUint(next.Revision, 10)))}}
		if raw == nil {
			txn.Conds = []store.Cond{store.IfAbsent(StateKey)}
		} else {
			txn.Conds = []store.Cond{store.IfEquals(StateKey, raw)}
		}
		res, err := e.store.Atomic(ctx, txn)
		if err == nil && e.degraded() {
			err = fmt.Errorf("%w (DEGRADED)", ErrUnavailable) // written to the local copy only
		}
		if err != nil {
			err = fmt.Errorf("%w: write %s: %w", ErrUnavailable, StateKey, err)
			e.noteStore(ctx, err)
			return e.current(), err
		}
		if !res.Applied {
			continue
		}
		e.noteStore(ctx, nil)
		e.adopt(ctx, next)
		return next, nil
	}
	return e.current(), fmt.Errorf("emergency: update %s: gave up after %d concurrent modifications", StateKey, casRetries)
}

// current returns the last known fleet state.
func (e *Emergency) current() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state.clone()
}

// Declare raises the level to level (or re-declares the level in force) on
// an operator's word: in force at once, and the floor automatic recovery
// will not go below. reason is required. A level below the one in force is
// refused with ErrWouldLower. When the fleet store is unreachable the level
// is in force in this process, the error wraps ErrUnavailable, and it is
// written to the fleet as soon as the store answers.
func (e *Emergency) Declare(ctx context.Context, who string, level Level, reason string) (State, error) {
	reason, err := control.CheckReason(reason, true)
	if err != nil {
		return e.current(), fmt.Errorf("declare %s: %w", level, err)
	}
	if !level.Valid() || level == Normal {
		return e.current(), fmt.Errorf("declare %s: want ELEVATED, HIGH or CRITICAL (NORMAL is reached by a release)", level)
	}
	who = cleanWho(who)
	s, err := e.do(ctx, func(ctx context.Context) (State, error) {
		s, err := e.update(ctx, func(s *State) (bool, error) {
			if level < s.Level {
				return false, fmt.Errorf("declare %s while %s is in force: %w", level, s.Level, ErrWouldLower)
			}
			from := s.Level
			if level > s.Level {
				s.ChangedAt = e.clock.Now().UTC()
			}
			s.Level, s.Floor, s.Source, s.Reason, s.ChangedBy = level, level, SourceOperator, reason, who
			s.Recovery = nil
			s.record(Change{At: e.clock.Now().UTC(), Who: who, Action: ActionDeclare, From: from, To: level,
				Reason: reason, Node: e.node}, e.limit)
			return true, nil
		})
		if errors.Is(err, ErrUnavailable) {
			e.raiseLocally(level)
		}
		return s, err
	})
	e.log.LogAttrs(ctx, slog.LevelWarn, "emergency.level_declared", slog.String("who", who),
		slog.String("level", level.String()), slog.String("reason", reason), errAttr(err))
	return s, err
}

// raiseLocally puts level in force in this process until the fleet state
// holds it; loop only.
func (e *Emergency) raiseLocally(level Level) {
	e.mu.Lock()
	if level > e.localFloor {
		e.localFloor = level
	}
	e.mu.Unlock()
	e.apply()
}

// Release starts a gated recovery toward to: one level per step, each
// after the stabilisation window and only while the live error rate and
// CPU/load read below the safe bounds. reason is required. The steps are
// taken by the evaluation loop (or Tick) of any process.
func (e *Emergency) Release(ctx context.Context, who string, to Level, reason string) (State, error) {
	reason, err := control.CheckReason(reason, true)
	if err != nil {
		return e.current(), fmt.Errorf("release to %s: %w", to, err)
	}
	if !to.Valid() {
		return e.current(), fmt.Errorf("release to %s: not a level", to)
	}
	who = cleanWho(who)
	s, err := e.do(ctx, func(ctx context.Context) (State, error) {
		s, err := e.update(ctx, func(s *State) (bool, error) {
			if to >= s.Level {
				return false, fmt.Errorf("release to %s while %s is in force: %w", to, s.Level, ErrNotLower)
			}
			s.Floor = min(s.Floor, to)
			s.Recovery = &Recovery{Target: to, By: who, Reason: reason, StartedAt: e.clock.Now().UTC()}
			s.record(Change{At: e.clock.Now().UTC(), Who: who, Action: ActionRelease, From: s.Level, To: to,
				Reason: reason, Node: e.node}, e.limit)
			return true, nil
		})
		if err != nil {
			return s, err
		}
		_ = e.tick(ctx) // the first step may be due at once; a refusal holds, logged
		return e.current(), nil
	})
	e.log.LogAttrs(ctx, slog.LevelInfo, "emergency.release_requested", slog.String("who", who),
		slog.String("to", to.String()), slog.String("reason", reason), errAttr(err))
	return s, err
}

// ForceRelease drops the level to to at once, without the gate and without
// waiting: for an admin who knows better than the signals. confirm must be
// Confirmation and reason is required; the change is flagged for review.
// The store must be reachable (a release only this process knew of would be
// undone by the fleet's state); the local raise pending for the fleet, if
// any, is dropped either way.
func (e *Emergency) ForceRelease(ctx context.Context, who string, to Level, confirm, reason string) (State, error) {
	if confirm != Confirmation {
		return e.current(), fmt.Errorf("force release: %w", control.ErrConfirmationRequired)
	}
	reason, err := control.CheckReason(reason, true)
	if err != nil {
		return e.current(), fmt.Errorf("force release to %s: %w", to, err)
	}
	if !to.Valid() {
		return e.current(), fmt.Errorf("force release to %s: not a level", to)
	}
	who = cleanWho(who)
	s, err := e.do(ctx, func(ctx context.Context) (State, error) {
		e.mu.Lock()
		e.localFloor = Normal
		e.mu.Unlock()
		e.apply()
		return e.update(ctx, func(s *State) (bool, error) {
			if to >= s.Level {
				return false, fmt.Errorf("force release to %s while %s is in force: %w", to, s.Level, ErrNotLower)
			}
			from := s.Level
			now := e.clock.Now().UTC()
			s.Level, s.Floor, s.Source, s.Reason, s.ChangedBy, s.ChangedAt = to, to, SourceOperator, reason, who, now
			s.Recovery = nil
			s.record(Change{At: now, Who: who, Action: ActionForceRelease, From: from, To: to, Reason: reason,
				Node: e.node, Review: true}, e.limit)
			return true, nil
		})
	})
	from := s.Level
	if n := len(s.History); err == nil && n > 0 {
		from = s.History[n-1].From
	}
	e.log.LogAttrs(ctx, slog.LevelWarn, "emergency.force_released", slog.String("who", who),
		slog.String("from", from.String()), slog.String("to", to.String()), slog.String("reason", reason),
		slog.Bool("review_required", err == nil), errAttr(err))
	return s, err
}

// Tick reads the signals once, raises the level if they demand more,
// starts an automatic recovery if they calmed down, and takes a recovery
// step if one is due and the gate passes. The loop calls it every
// EvalInterval; tests call it after moving a fake clock.
func (e *Emergency) Tick(ctx context.Context) error {
	_, err := e.do(ctx, func(ctx context.Context) (State, error) { return e.current(), e.tick(ctx) })
	return err
}

// tick is Tick on the loop goroutine.
func (e *Emergency) tick(ctx context.Context) error {
	r := e.readSignals(ctx)
	demanded, why := e.thr.Demand(r)
	if e.manual {
		demanded, why = Normal, nil
	}
	e.mu.Lock()
	e.reading, e.demanded, e.why = r, demanded, why
	e.mu.Unlock()

	now := e.clock.Now().UTC()
	var held string
	var nextStep time.Time
	var auto *Change // the automatic change this process writes, if any
	s, err := e.update(ctx, func(s *State) (bool, error) {
		held, nextStep, auto = "", time.Time{}, nil
		e.mu.Lock()
		pending := e.localFloor
		e.mu.Unlock()
		changed := false
		if want := max(demanded, pending); want > s.Level {
			from := s.Level
			s.Level, s.Source, s.ChangedAt, s.ChangedBy = want, SourceAuto, now, "signals"
			s.Reason = joinWhy(why, pending, demanded)
			s.Recovery = nil
			auto = &Change{At: now, Who: "signals", Action: ActionRaise, From: from, To: want, Reason: s.Reason, Node: e.node}
			s.record(*auto, e.limit)
			return true, nil
		}
		if s.Recovery == nil && !e.manual && s.Source == SourceAuto && max(demanded, s.Floor) < s.Level {
			target := max(demanded, s.Floor)
			s.Recovery = &Recovery{Target: target, By: "signals", StartedAt: now, Auto: true,
				Reason: "no signal demands " + s.Level.String() + " any more"}
			auto = &Change{At: now, Who: "signals", Action: ActionRecover, From: s.Level, To: target,
				Reason: s.Recovery.Reason, Node: e.node}
			s.record(*auto, e.limit)
			changed = true
		}
		if s.Recovery == nil {
			return changed, nil
		}
		if due := s.ChangedAt.Add(e.window); now.Before(due) {
			held, nextStep = "stabilising until "+due.Format(time.RFC3339), due
			return changed, nil
		}
		next := s.Level - 1
		if gerr := e.safe.Check(r); gerr != nil {
			held = gerr.Error()
			return changed, nil
		}
		if demanded > next {
			held = fmt.Sprintf("the signals still demand %s: %s", demanded, joinWhy(why, Normal, demanded))
			return changed, nil
		}
		from := s.Level
		s.Level, s.ChangedAt, s.ChangedBy, s.Reason = next, now, s.Recovery.By, "recovery: "+s.Recovery.Reason
		s.Floor = min(s.Floor, next)
		step := Change{At: now, Who: s.Recovery.By, Action: ActionStepDown, From: from, To: next,
			Reason: fmt.Sprintf("gate passed: error rate %s, cpu %s, load %.2f per cpu", pct1(r.ErrorRate), pct1(r.CPU), r.Load),
			Node:   e.node}
		s.record(step, e.limit)
		// Each step is the runtime's decision, an operator's release too
		// (the request has its own record): the gate passed now.
		auto = &step
		if next <= s.Recovery.Target {
			s.Recovery = nil
		} else {
			nextStep = now.Add(e.window)
		}
		return true, nil
	})
	if err == nil && auto != nil {
		// The process that wrote the change says so, once for the fleet
		// (every process adopting it logs level_raised or level_lowered).
		e.log.LogAttrs(ctx, slog.LevelWarn, "emergency.auto_changed", slog.String("action", string(auto.Action)),
			slog.String("from", auto.From.String()), slog.String("to", auto.To.String()), slog.String("reason", auto.Reason))
	}
	if err != nil {
		if errors.Is(err, ErrUnavailable) && demanded > e.Level() {
			e.raiseLocally(demanded)
			e.log.LogAttrs(ctx, slog.LevelWarn, "emergency.level_raised_locally",
				slog.String("level", demanded.String()), slog.String("reason", joinWhy(why, Normal, demanded)),
				slog.String("error", err.Error()))
		}
		if errors.Is(err, ErrUnavailable) {
			held = "the fleet store is unreachable: recovery waits for it"
		}
	}
	e.mu.Lock()
	prevHeld := e.held
	e.held, e.nextStep = held, nextStep
	e.mu.Unlock()
	if held != "" && held != prevHeld && s.Recovery != nil && !isStabilising(held) {
		e.log.LogAttrs(ctx, slog.LevelWarn, "emergency.recovery_held", slog.String("level", s.Level.String()),
			slog.String("target", s.Recovery.Target.String()), slog.String("why", held))
	}
	return err
}

func isStabilising(held string) bool { return len(held) > 11 && held[:11] == "stabilising" }

func joinWhy(why []string, pending, demanded Level) string {
	out := ""
	for i, w := range why {
		if i > 0 {
			out += "; "
		}
		out += w
	}
	if pending > demanded {
		if out != "" {
			out += "; "
		}
		out += "raised in this process while the fleet store was unreachable (" + pending.String() + ")"
	}
	return out
}

// readSignals reads the runtime's sample and the host; loop only.
func (e *Emergency) readSignals(ctx context.Context) Reading {
	r := Reading{At: e.clock.Now().UTC()}
	if e.source == nil {
		r.CallsError = "no source of call signals configured"
	} else if smp, err := e.source.Sample(ctx); err != nil {
		r.CallsError = err.Error()
		e.prevKnown = false
	} else {
		r.Breakers = smp.Breakers
		if smp.Breakers > 0 {
			r.BreakersOpen = float64(smp.BreakersOpen) / float64(smp.Breakers)
		}
		if !smp.DegradedSince.IsZero() {
			r.Degraded = max(0, r.At.Sub(smp.DegradedSince))
		}
		switch {
		case !e.prevKnown:
			r.RateError = "first sample, no interval to measure yet"
		case smp.Calls < e.prevCalls || smp.Failures < e.prevFailures:
			r.RateError = "the call counters went backwards"
		default:
			r.Calls = smp.Calls - e.prevCalls
			if r.Calls > 0 {
				r.ErrorRate = float64(smp.Failures-e.prevFailures) / float64(r.Calls)
			}
		}
		e.prevCalls, e.prevFailures, e.prevKnown = smp.Calls, smp.Failures, true
	}
	if h, err := e.host.Read(); err != nil {
		r.HostError = err.Error()
	} else {
		r.CPU, r.Load = h.CPU, h.Load
	}
	return r
}

func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.Attr{}
	}
	return slog.String("error", err.Error())
}

func cleanWho(who string) string {
	if who = control.Clean(who); who == "" {
		return "unknown"
	}
	return who
}

// Status is the level in force in this process, the fleet state it comes
// from, and what the signals and the recovery gate said last.
type Status struct {
	Level     Level     `json:"level"`
	Source    string    `json:"source"`
	Floor     Level     `json:"floor"`
	Reason    string    `json:"reason,omitempty"`
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
	Revision  uint64    `json:"revision"`
	Backend   string    `json:"backend"`
	Auto      bool      `json:"auto"` // the signals raise and recover the level
	// PendingFleet: a raise made here is not yet in the fleet state.
	PendingFleet bool      `json:"pending_fleet"`
	Recovery     *Recovery `json:"recovery,omitempty"`
	// RecoveryHeld is why this process's last recovery step was refused.
	RecoveryHeld string    `json:"recovery_held,omitempty"`
	NextStepAt   time.Time `json:"next_step_at,omitzero"`
	// Signals is the last reading, Demanded the level it demanded and Why why.
	Signals    Reading  `json:"signals"`
	Demanded   Level    `json:"demanded"`
	Why        []string `json:"why,omitempty"`
	Reviews    []Change `json:"reviews,omitempty"` // forced releases awaiting review, newest first
	StateError string   `json:"state_error,omitempty"`
	History    []Change `json:"history"` // newest first
}

// Status returns the current status.
func (e *Emergency) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.state
	st := Status{
		Level: max(s.Level, e.localFloor), Source: s.Source, Floor: s.Floor, Reason: s.Reason,
		ChangedBy: s.ChangedBy, ChangedAt: s.ChangedAt, Revision: s.Revision, Backend: e.where, Auto: !e.manual,
		PendingFleet: e.localFloor > s.Level, RecoveryHeld: e.held, NextStepAt: e.nextStep,
		Signals: e.reading, Demanded: e.demanded, Why: append([]string(nil), e.why...),
		Reviews: s.Reviews(), StateError: e.stateErr,
	}
	if s.Recovery != nil {
		r := *s.Recovery
		st.Recovery = &r
	}
	st.History = make([]Change, len(s.History))
	for i, c := range s.History {
		st.History[len(s.History)-1-i] = c
	}
	return st
}

// Refresh re-reads the fleet state and adopts it.
func (e *Emergency) Refresh(ctx context.Context) error {
	_, err := e.do(ctx, func(ctx context.Context) (State, error) { return e.current(), e.refresh(ctx) })
	return err
}
