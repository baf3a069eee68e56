// Package governance is the one gate in front of every automated action
// (automatic DLQ sweeps, scheduled tasks that declare themselves automated):
// before acting, automation asks Check, which runs the checks in a fixed
// order (kill switch, emergency level, error budget, STRICT mode) and blocks
// on the first that fails, naming it.
//
// A check that cannot be evaluated (its input unreadable) allows the action
// and raises a FAILSAFE event, so that a block always has a real reason.
// STRICT mode (no automation, declared with a reason and a timeout) and
// Break Glass (an admin bypass with a reason and an expiry, flagged for
// review) are kept in the store for the whole fleet and end by themselves.
package governance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

// Check names one check of the gate.
type Check string

// The checks, in the order the gate runs them.
const (
	CheckKillSwitch  Check = "kill_switch"
	CheckEmergency   Check = "emergency"
	CheckErrorBudget Check = "error_budget"
	CheckStrict      Check = "strict"
)

// Order is the fixed order of the checks.
var Order = []Check{CheckKillSwitch, CheckEmergency, CheckErrorBudget, CheckStrict}

// Outcome is what one check said.
type Outcome string

const (
	// Pass: the check allows the action.
	Pass Outcome = "pass"
	// Block: the check refuses the action.
	Block Outcome = "block"
	// Failsafe: the check could not be evaluated; it allows the action and
	// raises a FAILSAFE event.
	Failsafe Outcome = "failsafe"
	// Bypassed: the check refused, and Break Glass overrode it.
	Bypassed Outcome = "bypassed"
	// Off: the check is not configured (no objective for the service, no
	// emergency level to block at).
	Off Outcome = "off"
)

// KillSwitch tells whether the kill switch lets automation run. An error
// means it cannot say (the switch's store is unreadable).
type KillSwitch interface {
	KillSwitchEnabled(ctx context.Context) (bool, error)
}

// KillSwitchFunc adapts a function to KillSwitch.
type KillSwitchFunc func(ctx context.Context) (bool, error)

// KillSwitchEnabled calls f.
func (f KillSwitchFunc) KillSwitchEnabled(ctx context.Context) (bool, error) { return f(ctx) }

// Level tells the emergency level in force. An error means it cannot say.
type Level interface {
	EmergencyLevel(ctx context.Context) (emergency.Level, error)
}

// LevelFunc adapts a function to Level.
type LevelFunc func(ctx context.Context) (emergency.Level, error)

// EmergencyLevel calls f.
func (f LevelFunc) EmergencyLevel(ctx context.Context) (emergency.Level, error) { return f(ctx) }

// Counts reads a service's calls and failures over a window; *Ledger
// provides it.
type Counts interface {
	Window(ctx context.Context, service string, now time.Time, window time.Duration) (calls, failures uint64, err error)
}

// Action is what automation asks to do.
type Action struct {
	// Name says what, e.g. "dlq.auto_replay".
	Name string
	// Service is whose error budget counts; empty checks every service that
	// has an objective.
	Service string
}

// CheckResult is one check's answer.
type CheckResult struct {
	Check   Check   `json:"check"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
}

// Decision is the gate's answer for one action.
type Decision struct {
	Action  string    `json:"action"`
	Service string    `json:"service,omitempty"`
	At      time.Time `json:"at"`
	Allowed bool      `json:"allowed"`
	// BlockedBy is the first check that refused (empty when allowed), and
	// Reason its detail.
	BlockedBy Check         `json:"blocked_by,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	Checks    []CheckResult `json:"checks"`
	// BreakGlass: allowed only because Break Glass overrode a check.
	BreakGlass bool `json:"break_glass,omitempty"`
	// Failsafe: a check could not be evaluated and allowed the action.
	Failsafe bool `json:"failsafe,omitempty"`
}

// ErrBlocked matches every *BlockedError.
var ErrBlocked = errors.New("blocked by governance")

// BlockedError is a refusal: which check, and why.
type BlockedError struct {
	Action string
	Check  Check
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s blocked by governance check %s: %s", e.Action, e.Check, e.Reason)
}

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Err returns nil when d allows the action, else a *BlockedError.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &BlockedError{Action: d.Action, Check: d.BlockedBy, Reason: d.Reason}
}

// Failure is a FAILSAFE: a check that could not be evaluated.
type Failure struct {
	Action string
	Check  Check
	Err    string
	At     time.Time
}

// Defaults of Options.
const (
	DefaultStrictTimeout     = time.Hour
	MaxStrictTimeout         = 24 * time.Hour
	DefaultBreakGlassTimeout = time.Hour
	MaxBreakGlassTimeout     = 4 * time.Hour
)

// Options configure a Gate. Every zero field takes the default beside it.
type Options struct {
	// Store keeps STRICT mode and Break Glass for the fleet. Default: a
	// store.NewMemory() of its own.
	Store store.Store
	// KillSwitch: the first check. Default: none (the check is off).
	KillSwitch KillSwitch
	// Emergency: the second check. Default: none (the check is off).
	Emergency Level
	// BlockAt is the emergency level from which automation is blocked.
	// Default emergency.High; set EmergencyOff to never block on the level.
	BlockAt      emergency.Level
	EmergencyOff bool
	// Objectives per service, and the counts they are computed from. Default:
	// none (the check is off). Counts default to a Ledger on Store.
	Objectives Objectives
	Counts     Counts
	// Services lists the services by name, to match objectives (read by the
	// variable's upper-cased suffix) to the services the ledger counts.
	// Default: each objective's suffix lower-cased.
	Services func() []string
	// OnFailsafe is called (after logging) for every check that could not be
	// evaluated: the hook for alerts and metrics. It must return quickly.
	OnFailsafe func(Failure)
	// OnDecision is called for every decision (metrics). It must return quickly.
	OnDecision func(Decision)
	// Logger receives governance.* events. Default slog.Default().
	Logger *slog.Logger
	// Clock times the windows. Default: the real clock.
	Clock clock.Clock
	// Node names this process in the history. Default host/pid.
	Node string
}

// Gate is the pre-action gate. Its methods are safe for concurrent use; it
// holds no lock across a store call (every call reads the store afresh).
type Gate struct {
	store     store.Store
	ownsStore bool
	kill      KillSwitch
	level     Level
	blockAt   emergency.Level
	emOff     bool
	obj       Objectives
	counts    Counts
	services  func() []string
	onFail    func(Failure)
	onDec     func(Decision)
	log       *slog.Logger
	clock     clock.Clock
	node      string
}

// New returns a Gate.
func New(opts Options) (*Gate, error) {
	g := &Gate{store: opts.Store, kill: opts.KillSwitch, level: opts.Emergency, blockAt: opts.BlockAt,
		emOff: opts.EmergencyOff, obj: opts.Objectives, counts: opts.Counts, services: opts.Services, onFail: opts.OnFailsafe,
		onDec: opts.OnDecision, log: opts.Logger, clock: opts.Clock, node: opts.Node}
	if g.store == nil {
		g.store, g.ownsStore = store.NewMemory(), true
	}
	if g.blockAt == emergency.Normal {
		g.blockAt = emergency.High
	}
	if !g.blockAt.Valid() {
		return nil, fmt.Errorf("governance: BlockAt %s is not a level", g.blockAt)
	}
	if g.counts == nil {
		g.counts = &Ledger{Store: g.store}
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.clock == nil {
		g.clock = clock.Real()
	}
	if g.node == "" {
		host, _ := os.Hostname()
		g.node = host + "/" + strconv.Itoa(os.Getpid())
	}
	return g, nil
}

// Close closes the store if the Gate made it.
func (g *Gate) Close() error {
	if g.ownsStore {
		return g.store.Close()
	}
	return nil
}

// Check runs the checks for action, in order, and returns the decision; the
// first check that refuses blocks, unless Break Glass is open (which never
// overrides the kill switch). Every decision is logged: governance.action_blocked
// (warn), governance.break_glass_used (warn), governance.action_allowed (debug);
// every check that could not be evaluated as governance.failsafe_raised (error).
func (g *Gate) Check(ctx context.Context, a Action) Decision {
	now := g.clock.Now().UTC()
	d := Decision{Action: a.Name, Service: a.Service, At: now, Allowed: true}
	st, stErr := g.readState(ctx)
	results := g.evaluate(ctx, a, now, st, stErr)
	glass := stErr == nil && st.BreakGlass.activeAt(now)
	for _, r := range results {
		if r.Outcome == Block && glass && r.Check != CheckKillSwitch {
			r.Outcome = Bypassed
			r.Detail += " (Break Glass by " + st.BreakGlass.Who + ": " + st.BreakGlass.Reason + ")"
			d.BreakGlass = true
		}
		if r.Outcome == Block && d.Allowed {
			d.Allowed, d.BlockedBy, d.Reason = false, r.Check, r.Detail
		}
		if r.Outcome == Failsafe {
			d.Failsafe = true
		}
		d.Checks = append(d.Checks, r)
	}
	if !d.Allowed {
		d.BreakGlass = false // a bypassed check does not matter once the kill switch blocks
	}
	for _, r := range d.Checks {
		if r.Outcome != Failsafe {
			continue
		}
		f := Failure{Action: a.Name, Check: r.Check, Err: r.Detail, At: now}
		g.log.LogAttrs(ctx, slog.LevelError, "governance.failsafe_raised", slog.String("action", a.Name),
			slog.String("check", string(r.Check)), slog.String("error", r.Detail),
			slog.String("outcome", "allowed: a check that cannot be evaluated does not block"))
		if g.onFail != nil {
			g.onFail(f)
		}
	}
	switch {
	case !d.Allowed:
		g.log.LogAttrs(ctx, slog.LevelWarn, "governance.action_blocked", slog.String("action", a.Name),
			slog.String("service", a.Service), slog.String("check", string(d.BlockedBy)), slog.String("reason", d.Reason))
	case d.BreakGlass:
		g.log.LogAttrs(ctx, slog.LevelWarn, "governance.break_glass_used", slog.String("action", a.Name),
			slog.String("service", a.Service), slog.String("who", st.BreakGlass.Who),
			slog.String("reason", st.BreakGlass.Reason), slog.Time("until", st.BreakGlass.Until))
	default:
		g.log.LogAttrs(ctx, slog.LevelDebug, "governance.action_allowed", slog.String("action", a.Name),
			slog.String("service", a.Service))
	}
	if g.onDec != nil {
		g.onDec(d)
	}
	return d
}

// evaluate runs every check in Order.
func (g *Gate) evaluate(ctx context.Context, a Action, now time.Time, st State, stErr error) []CheckResult {
	out := make([]CheckResult, 0, len(Order))

	kill := CheckResult{Check: CheckKillSwitch, Outcome: Off, Detail: "no kill switch configured"}
	if g.kill != nil {
		on, err := g.kill.KillSwitchEnabled(ctx)
		switch {
		case !on && err == nil:
			kill.Outcome, kill.Detail = Block, "the kill switch is DISABLED: automation is off"
		case err != nil:
			kill.Outcome, kill.Detail = Failsafe, "kill switch unreadable: "+err.Error()
		default:
			kill.Outcome, kill.Detail = Pass, "the kill switch is ENABLED"
		}
	}
	out = append(out, kill)

	em := CheckResult{Check: CheckEmergency, Outcome: Off, Detail: "no emergency level configured"}
	if g.level != nil && !g.emOff {
		l, err := g.level.EmergencyLevel(ctx)
		switch {
		case err == nil && l >= g.blockAt:
			em.Outcome, em.Detail = Block, fmt.Sprintf("emergency level %s is at or above %s", l, g.blockAt)
		case err != nil:
			em.Outcome, em.Detail = Failsafe, "emergency level unreadable: "+err.Error()
		default:
			em.Outcome, em.Detail = Pass, fmt.Sprintf("emergency level %s is below %s", l, g.blockAt)
		}
	}
	out = append(out, em)

	out = append(out, g.budgetCheck(ctx, a, now))

	strict := CheckResult{Check: CheckStrict, Outcome: Pass, Detail: "STRICT mode is off"}
	switch {
	case stErr != nil:
		strict.Outcome, strict.Detail = Failsafe, "STRICT mode unreadable: "+stErr.Error()
	case st.Strict.activeAt(now):
		strict.Outcome = Block
		strict.Detail = fmt.Sprintf("STRICT mode until %s (by %s: %s)", st.Strict.Until.Format(time.RFC3339),
			st.Strict.Who, st.Strict.Reason)
	}
	return append(out, strict)
}

// budgetCheck evaluates the error budget of a.Service, or of every service
// with an objective when a.Service is empty.
func (g *Gate) budgetCheck(ctx context.Context, a Action, now time.Time) CheckResult {
	r := CheckResult{Check: CheckErrorBudget, Outcome: Off, Detail: "no objective for " + serviceName(a.Service)}
	var services []string
	if a.Service != "" {
		if _, ok := g.obj.For(a.Service); ok {
			services = []string{a.Service}
		}
	} else {
		services = g.withObjective()
	}
	if len(services) == 0 {
		return r
	}
	if g.degraded() {
		r.Outcome, r.Detail = Failsafe, "error budget unreadable: "+errDegraded.Error()
		return r
	}
	var unreadable []string
	var passed []string
	for _, svc := range services {
		o, _ := g.obj.For(svc)
		calls, failures, err := g.counts.Window(ctx, svc, now, o.Window)
		if err != nil {
			unreadable = append(unreadable, svc+": "+err.Error())
			continue
		}
		b := NewBudget(svc, o, calls, failures)
		if b.Exhausted() {
			r.Outcome = Block
			r.Detail = fmt.Sprintf("error budget of %s exhausted: %d failures of %d calls against %.1f allowed by %s",
				svc, failures, calls, b.Allowed, o)
			return r
		}
		passed = append(passed, fmt.Sprintf("%s %.0f%% left", svc, max(0, b.Remaining)*100))
	}
	if len(unreadable) > 0 {
		r.Outcome, r.Detail = Failsafe, "error budget unreadable: "+strings.Join(unreadable, "; ")
		return r
	}
	r.Outcome, r.Detail = Pass, "error budget: "+strings.Join(passed, ", ")
	return r
}

func serviceName(s string) string {
	if s == "" {
		return "any service"
	}
	return s
}

// withObjective returns the services that have an objective, sorted.
func (g *Gate) withObjective() []string {
	var out []string
	if g.services != nil {
		for _, svc := range g.services() {
			if _, ok := g.obj.For(svc); ok {
				out = append(out, svc)
			}
		}
	} else {
		for key := range g.obj {
			out = append(out, strings.ToLower(key))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// errDegraded: the store serves from its local copy (Redis is unreachable),
// which does not hold the fleet's STRICT mode, Break Glass or ledger.
var errDegraded = errors.New("the fleet store is unreachable (DEGRADED): the fleet's state cannot be read")

// degraded reports whether the store is a failover store serving from its
// local copy.
func (g *Gate) degraded() bool {
	m, ok := g.store.(interface{ Mode() store.Mode })
	return ok && m.Mode() == store.ModeDegraded
}

// readState reads STRICT mode and Break Glass from the store.
func (g *Gate) readState(ctx context.Context) (State, error) {
	if g.degraded() {
		return State{}, errDegraded
	}
	raw, err := g.store.Get(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return defaultState(), nil
	}
	if err != nil {
		return State{}, err
	}
	s, err := Decode(raw)
	if err != nil {
		return State{}, err
	}
	return s, nil
}

const casRetries = 20

// update applies mutate to the shared state with a compare-and-set and
// announces it.
func (g *Gate) update(ctx context.Context, mutate func(s *State) error) (State, error) {
	if g.degraded() {
		return State{}, fmt.Errorf("governance: %w; try again when it returns", errDegraded)
	}
	for range casRetries {
		raw, err := g.store.Get(ctx, StateKey)
		missing := errors.Is(err, store.ErrNotFound)
		if err != nil && !missing {
			return State{}, fmt.Errorf("governance: read %s: %w", StateKey, err)
		}
		cur := defaultState()
		if !missing {
			if cur, err = Decode(raw); err != nil {
				// Overwritten below from an empty state; the bad bytes are logged, never lost silently.
				g.log.LogAttrs(ctx, slog.LevelError, "governance.state_corrupt", slog.String("key", StateKey),
					slog.String("error", err.Error()), slog.String("value", string(raw)))
				cur = defaultState()
			}
		}
		next := cur.clone()
		if err := mutate(&next); err != nil {
			return cur, err
		}
		next.Schema = schemaVersion
		enc, err := jsonEncode(next)
		if err != nil {
			return cur, err
		}
		txn := store.Txn{Ops: []store.Op{store.SetOp(StateKey, enc, 0),
			store.PublishOp(ChangedChannel, []byte(strconv.FormatUint(next.Revision, 10)))}}
		if missing {
			txn.Conds = []store.Cond{store.IfAbsent(StateKey)}
		} else {
			txn.Conds = []store.Cond{store.IfEquals(StateKey, raw)}
		}
		res, err := g.store.Atomic(ctx, txn)
		if err != nil {
			return cur, fmt.Errorf("governance: write %s: %w", StateKey, err)
		}
		if res.Applied {
			return next, nil
		}
	}
	return State{}, fmt.Errorf("governance: update %s: gave up after %d concurrent modifications", StateKey, casRetries)
}

func checkTimeout(what string, d, def, most time.Duration) (time.Duration, error) {
	if d == 0 {
		return def, nil
	}
	if d < 0 || d > most {
		return 0, fmt.Errorf("%s: timeout %s: want more than 0 and at most %s", what, d, most)
	}
	return d, nil
}

func cleanWho(who string) string {
	if who = control.Clean(who); who == "" {
		return "unknown"
	}
	return who
}

// DeclareStrict puts the fleet in STRICT mode for timeout (default 1h, at
// most 24h): every automated action is blocked until it ends by itself or
// EndStrict. reason is required. Declaring again replaces the window.
func (g *Gate) DeclareStrict(ctx context.Context, who, reason string, timeout time.Duration) (State, error) {
	reason, err := control.CheckReason(reason, true)
	if err != nil {
		return State{}, fmt.Errorf("strict: %w", err)
	}
	if timeout, err = checkTimeout("strict", timeout, DefaultStrictTimeout, MaxStrictTimeout); err != nil {
		return State{}, err
	}
	who = cleanWho(who)
	now := g.clock.Now().UTC()
	s, err := g.update(ctx, func(s *State) error {
		s.Strict = &Window{Who: who, Reason: reason, Since: now, Until: now.Add(timeout)}
		s.record(Change{At: now, Who: who, Action: ActionStrictOn, Reason: reason, Until: s.Strict.Until, Node: g.node})
		return nil
	})
	if err == nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "governance.strict_declared", slog.String("who", who),
			slog.String("reason", reason), slog.Time("until", now.Add(timeout)))
	}
	return s, err
}

// EndStrict ends STRICT mode before its timeout.
func (g *Gate) EndStrict(ctx context.Context, who, reason string) (State, error) {
	reason, err := control.CheckReason(reason, false)
	if err != nil {
		return State{}, fmt.Errorf("strict off: %w", err)
	}
	who = cleanWho(who)
	now := g.clock.Now().UTC()
	s, err := g.update(ctx, func(s *State) error {
		if !s.Strict.activeAt(now) {
			return ErrNotActive
		}
		s.Strict = nil
		s.record(Change{At: now, Who: who, Action: ActionStrictOff, Reason: reason, Node: g.node})
		return nil
	})
	if err == nil {
		g.log.LogAttrs(ctx, slog.LevelInfo, "governance.strict_ended", slog.String("who", who), slog.String("reason", reason))
	}
	return s, err
}

// ErrNotActive: ending a window that is not open.
var ErrNotActive = errors.New("not active")

// OpenBreakGlass lets automated actions through the emergency, error-budget
// and STRICT checks (never the kill switch) for timeout (default 1h, at most
// 4h). confirm must be "CONFIRM" and reason is required; the grant is kept
// for review after the incident, and every action it lets through is logged.
func (g *Gate) OpenBreakGlass(ctx context.Context, who, reason, confirm string, timeout time.Duration) (State, error) {
	if confirm != control.Confirmation {
		return State{}, fmt.Errorf("break glass: %w", control.ErrConfirmationRequired)
	}
	reason, err := control.CheckReason(reason, true)
	if err != nil {
		return State{}, fmt.Errorf("break glass: %w", err)
	}
	if timeout, err = checkTimeout("break glass", timeout, DefaultBreakGlassTimeout, MaxBreakGlassTimeout); err != nil {
		return State{}, err
	}
	who = cleanWho(who)
	now := g.clock.Now().UTC()
	s, err := g.update(ctx, func(s *State) error {
		s.BreakGlass = &Window{Who: who, Reason: reason, Since: now, Until: now.Add(timeout)}
		s.record(Change{At: now, Who: who, Action: ActionBreakGlassOpen, Reason: reason, Until: s.BreakGlass.Until,
			Node: g.node, Review: true})
		return nil
	})
	if err == nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "governance.break_glass_opened", slog.String("who", who),
			slog.String("reason", reason), slog.Time("until", now.Add(timeout)), slog.Bool("review_required", true))
	}
	return s, err
}

// CloseBreakGlass ends Break Glass before its expiry.
func (g *Gate) CloseBreakGlass(ctx context.Context, who, reason string) (State, error) {
	reason, err := control.CheckReason(reason, false)
	if err != nil {
		return State{}, fmt.Errorf("break glass close: %w", err)
	}
	who = cleanWho(who)
	now := g.clock.Now().UTC()
	s, err := g.update(ctx, func(s *State) error {
		if !s.BreakGlass.activeAt(now) {
			return ErrNotActive
		}
		s.BreakGlass = nil
		s.record(Change{At: now, Who: who, Action: ActionBreakGlassClose, Reason: reason, Node: g.node})
		return nil
	})
	if err == nil {
		g.log.LogAttrs(ctx, slog.LevelInfo, "governance.break_glass_closed", slog.String("who", who), slog.String("reason", reason))
	}
	return s, err
}

// Status is each check as it stands (for no particular action: the error
// budget of every service with an objective), STRICT mode and Break Glass
// when open, and the grants awaiting review.
type Status struct {
	At         time.Time     `json:"at"`
	Checks     []CheckResult `json:"checks"`
	BlockedBy  Check         `json:"blocked_by,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Strict     *Window       `json:"strict,omitempty"`
	BreakGlass *Window       `json:"break_glass,omitempty"`
	BlockAt    string        `json:"block_at"` // the emergency level that blocks, or "off"
	Objectives []ObjectiveOf `json:"objectives"`
	Reviews    []Change      `json:"reviews"` // newest first
	History    []Change      `json:"history"` // newest first
	StateError string        `json:"state_error,omitempty"`
}

// ObjectiveOf is one service's objective.
type ObjectiveOf struct {
	Service   string `json:"service"`
	Objective string `json:"objective"`
}

// Status evaluates every check without acting and without logging.
func (g *Gate) Status(ctx context.Context) Status {
	now := g.clock.Now().UTC()
	st, stErr := g.readState(ctx)
	out := Status{At: now, Checks: g.evaluate(ctx, Action{}, now, st, stErr), BlockAt: g.blockAt.String(),
		Reviews: []Change{}, History: []Change{}, Objectives: []ObjectiveOf{}}
	if g.emOff || g.level == nil {
		out.BlockAt = "off"
	}
	for _, r := range out.Checks {
		if r.Outcome == Block && out.BlockedBy == "" {
			out.BlockedBy, out.Reason = r.Check, r.Detail
		}
	}
	if stErr != nil {
		out.StateError = stErr.Error()
	} else {
		if st.Strict.activeAt(now) {
			out.Strict = st.Strict
		}
		if st.BreakGlass.activeAt(now) {
			out.BreakGlass = st.BreakGlass
		}
		for i := len(st.Reviews) - 1; i >= 0; i-- {
			out.Reviews = append(out.Reviews, st.Reviews[i])
		}
		for i := len(st.History) - 1; i >= 0; i-- {
			out.History = append(out.History, st.History[i])
		}
	}
	for _, svc := range g.withObjective() {
		o, _ := g.obj.For(svc)
		out.Objectives = append(out.Objectives, ObjectiveOf{Service: svc, Objective: o.String()})
	}
	return out
}
