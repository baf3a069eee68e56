package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/store"
)

// Store keys: every rollout in one record, each process's cohort figures in
// keys of their own; all share the hash tag {canary}.
const (
	StateKey       = "{canary}"
	ChangedChannel = "canary:{canary}:changed"
	cohortPrefix   = "canary:{canary}:cohort:"
	// cohortTTL keeps a process's figures after it stops publishing.
	cohortTTL = 2 * time.Hour
	// keepEnded is how many ended rollouts the record keeps for the views.
	keepEnded = 50
	casTries  = 16
)

// Overrides is the runtime's override engine as the canary uses it. The
// engine holds one canary per rollout, named by the rollout's ID, and at
// most one per config type and scope. Stage, Unstage and Commit are "make it
// so": the runtime's engine keeps them in the store for the whole fleet; an
// engine of one process keeps them in the process, and every process's Sync
// clears what an ended rollout left behind.
type Overrides interface {
	// Validate parses directive for scope and returns the config types it
	// sets (retry, timeout, breaker, bulkhead), or an error naming the key
	// and what is wrong. It changes nothing.
	Validate(scope Scope, directive string) ([]string, error)
	// Stage makes r.Directive the canary of r (on r.Scope) for fraction
	// (0 < fraction ≤ 1) of the calls; the cohort counters start again.
	Stage(ctx context.Context, r Rollout, fraction float64) error
	// Unstage removes the canary of r: every call takes the baseline again.
	// No canary is not an error.
	Unstage(ctx context.Context, r Rollout, who string) error
	// Staged returns the fraction of r's canary as this process holds it.
	Staged(r Rollout) (fraction float64, ok bool)
	// Cohorts returns this process's counters of r's canary since it was
	// staged: the calls that took the override and those that did not.
	Cohorts(r Rollout) (canary, baseline Cohort, err error)
	// Commit makes the canary of r a plain override of r.Scope for every
	// call and removes the canary.
	Commit(ctx context.Context, r Rollout) error
}

// Options configure New.
type Options struct {
	Store     store.Store
	Overrides Overrides
	Gates     Gates
	Config    Config
	Clock     clock.Clock
	Logger    *slog.Logger
	// Node names this process in the published figures.
	Node string
	// OnChange, when set, hears each change of a rollout's stage or state
	// made by this process ("started at 1%", "promoted to 10%", "completed",
	// "rolled back: …", "aborted: …"), after it is stored: the runtime puts
	// it on the plots' time axis. It must not block.
	OnChange func(r Rollout, what string)
}

// Stats are the controller's counters since the start of the process (the
// metrics read them).
type Stats struct {
	Started    uint64 `json:"started"`
	Promoted   uint64 `json:"promoted"`
	Completed  uint64 `json:"completed"`
	RolledBack uint64 `json:"rolled_back"`
	Aborted    uint64 `json:"aborted"`
	Blocked    uint64 `json:"blocked"`
	Watchdog   uint64 `json:"watchdog"`
	Panics     uint64 `json:"panics"`
}

// Controller runs rollouts: Start, Abort and PanicRollback from operators,
// Step and Watchdog on the leader, Sync in every process.
type Controller struct {
	st    store.Store
	ov    Overrides
	gates Gates
	cfg   Config
	clock clock.Clock
	log   *slog.Logger
	node  string

	onChange func(Rollout, string)

	applied atomic.Uint64 // version of the record last synced

	started, promoted, completed, rolledBack, aborted, blocked, watchdog, panics atomic.Uint64

	closeOnce sync.Once
	stop      context.CancelFunc
	done      chan struct{}
}

type localCanary struct {
	stage int
	base  Cohort // the counters when this process adopted the stage
	baseB Cohort
}

// record is the stored state.
type record struct {
	Version  uint64    `json:"version"`
	Rollouts []Rollout `json:"rollouts"`
}

// New returns a controller. It starts nothing: call Follow to track the
// record's changes, and Step, Watchdog and Sync on a schedule.
func New(opts Options) (*Controller, error) {
	if opts.Store == nil || opts.Overrides == nil {
		return nil, errors.New("canary: Options.Store and Options.Overrides are required")
	}
	if opts.Config.Stages == nil {
		def := DefaultConfig()
		def.EmergencyOff, def.MaxEmergency = opts.Config.EmergencyOff, opts.Config.MaxEmergency
		if def.MaxEmergency == 0 {
			def.MaxEmergency = DefaultConfig().MaxEmergency
		}
		if opts.Config.Hold > 0 {
			def.Hold = opts.Config.Hold
		}
		if opts.Config.StageDeadline > 0 {
			def.StageDeadline = opts.Config.StageDeadline
		}
		if opts.Config.Thresholds != (Thresholds{}) {
			def.Thresholds = opts.Config.Thresholds
		}
		opts.Config = def
	}
	if err := CheckStages(opts.Config.Stages); err != nil {
		return nil, err
	}
	if opts.Config.StageDeadline <= opts.Config.Hold {
		return nil, fmt.Errorf("canary: stage deadline %s must exceed the hold %s", opts.Config.StageDeadline, opts.Config.Hold)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Node == "" {
		opts.Node = newID()
	}
	return &Controller{st: opts.Store, ov: opts.Overrides, gates: opts.Gates, cfg: opts.Config,
		clock: opts.Clock, log: opts.Logger, node: opts.Node, onChange: opts.OnChange}, nil
}

// Config returns the configuration in force.
func (c *Controller) Config() Config { return c.cfg }

// Stats returns the counters.
func (c *Controller) Stats() Stats {
	return Stats{Started: c.started.Load(), Promoted: c.promoted.Load(), Completed: c.completed.Load(),
		RolledBack: c.rolledBack.Load(), Aborted: c.aborted.Load(), Blocked: c.blocked.Load(),
		Watchdog: c.watchdog.Load(), Panics: c.panics.Load()}
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// read returns the record and its stored bytes (nil when absent).
func (c *Controller) read(ctx context.Context) (record, []byte, error) {
	b, err := c.st.Get(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return record{}, nil, nil
	}
	if err != nil {
		return record{}, nil, fmt.Errorf("canary: read state: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return r, b, nil
}

// errUnchanged from an update function skips the write.
var errUnchanged = errors.New("unchanged")

// update applies fn to the record by compare-and-set, retrying when another
// writer got in first, and announces the change.
func (c *Controller) update(ctx context.Context, fn func(*record) error) (record, error) {
	for range casTries {
		rec, old, err := c.read(ctx)
		if err != nil {
			return record{}, err
		}
		if err := fn(&rec); err != nil {
			if errors.Is(err, errUnchanged) {
				return rec, nil
			}
			return record{}, err
		}
		rec.Version++
		trimEnded(&rec)
		b, err := json.Marshal(rec)
		if err != nil {
			return record{}, err
		}
		var ok bool
		if old == nil {
			ok, err = c.st.SetNX(ctx, StateKey, b, 0)
		} else {
			ok, err = c.st.CompareAndSet(ctx, StateKey, old, b, 0)
		}
		if err != nil {
			return record{}, fmt.Errorf("canary: write state: %w", err)
		}
		if ok {
			if err := c.st.Publish(ctx, ChangedChannel, []byte(fmt.Sprint(rec.Version))); err != nil {
				c.log.LogAttrs(ctx, slog.LevelWarn, "canary.publish_failed", slog.String("error", err.Error()))
			}
			return rec, nil
		}
	}
	return record{}, ErrContention
}

func trimEnded(r *record) {
	ended := 0
	for i := len(r.Rollouts) - 1; i >= 0; i-- {
		if r.Rollouts[i].Active() {
			continue
		}
		ended++
		if ended > keepEnded {
			r.Rollouts = append(r.Rollouts[:i], r.Rollouts[i+1:]...)
		}
	}
}

func find(rec *record, id string) *Rollout {
	for i := range rec.Rollouts {
		if rec.Rollouts[i].ID == id {
			return &rec.Rollouts[i]
		}
	}
	return nil
}

// List returns every rollout the record keeps, running ones first, newest
// first within each.
func (c *Controller) List(ctx context.Context) ([]Rollout, error) {
	rec, _, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Rollout, 0, len(rec.Rollouts))
	for i := len(rec.Rollouts) - 1; i >= 0; i-- {
		if rec.Rollouts[i].Active() {
			out = append(out, rec.Rollouts[i])
		}
	}
	for i := len(rec.Rollouts) - 1; i >= 0; i-- {
		if !rec.Rollouts[i].Active() {
			out = append(out, rec.Rollouts[i])
		}
	}
	return out, nil
}

// Get returns one rollout.
func (c *Controller) Get(ctx context.Context, id string) (Rollout, error) {
	rec, _, err := c.read(ctx)
	if err != nil {
		return Rollout{}, err
	}
	if r := find(&rec, id); r != nil {
		return *r, nil
	}
	return Rollout{}, fmt.Errorf("%w: %q", ErrNotFound, id)
}

// Start validates req, asks the gates and starts the rollout at its first
// stage. Bad input is an *InputError, a refusal a *BlockedError; neither
// changes anything.
func (c *Controller) Start(ctx context.Context, req Request) (Rollout, error) {
	r, err := c.prepare(req)
	if err != nil {
		return Rollout{}, err
	}
	if blk := c.check(ctx, r.ID, r.Scope, r.Bypass); blk != nil {
		c.blocked.Add(1)
		c.log.LogAttrs(ctx, slog.LevelWarn, "canary.blocked", slog.String("rollout", r.ID), slog.String("at", "start"),
			slog.String("gate", blk.Gate), slog.String("reason", blk.Reason))
		return Rollout{}, blk
	}
	now := c.clock.Now()
	r.Started, r.StageStarted, r.Deadline = now, now, now.Add(c.cfg.StageDeadline)
	r.Verdict = Verdict{Outcome: VerdictWait, Reason: "stage started", At: now}
	_, err = c.update(ctx, func(rec *record) error {
		for _, o := range rec.Rollouts {
			if !o.Active() {
				continue
			}
			if t, ok := o.overlaps(r.Scope, r.Types); ok {
				return &InputError{Field: "scope", Reason: fmt.Sprintf("rollout %s already changes %s on %s; abort it or wait for it to end", o.ID, t, o.Scope)}
			}
		}
		rec.Rollouts = append(rec.Rollouts, r)
		return nil
	})
	if err != nil {
		return Rollout{}, err
	}
	if err := c.ov.Stage(ctx, r, r.Percent()/100); err != nil {
		// The record says running: roll it back, so that nothing is left half done.
		if rbErr := c.rollback(ctx, r, "staging the first stage failed: "+err.Error()); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
		return Rollout{}, err
	}
	c.started.Add(1)
	c.changed(r, fmt.Sprintf("started at %g%%", r.Percent()))
	c.log.LogAttrs(ctx, slog.LevelInfo, "canary.started", slog.String("rollout", r.ID), slog.String("scope", r.Scope.String()),
		slog.String("directive", r.Directive), slog.Float64("percent", r.Percent()), slog.String("who", r.Who),
		slog.Bool("review", r.Review))
	return r, nil
}

// prepare validates a request into a rollout (no ID clash check, no I/O).
func (c *Controller) prepare(req Request) (Rollout, error) {
	if err := req.Scope.Validate(); err != nil {
		return Rollout{}, err
	}
	directive := strings.TrimSpace(req.Directive)
	if directive == "" {
		return Rollout{}, &InputError{Field: "directive", Reason: "empty: want keys such as retry=5 timeout=2s"}
	}
	types, err := c.ov.Validate(req.Scope, directive)
	if err != nil {
		return Rollout{}, &InputError{Field: "directive", Reason: err.Error()}
	}
	if len(types) == 0 {
		return Rollout{}, &InputError{Field: "directive", Reason: "sets no retry, timeout, breaker or bulkhead key"}
	}
	stages := req.Stages
	if stages == nil {
		stages = c.cfg.Stages
	}
	if err := CheckStages(stages); err != nil {
		return Rollout{}, err
	}
	hold := req.Hold
	if hold == 0 {
		hold = c.cfg.Hold
	}
	if hold < 0 || hold >= c.cfg.StageDeadline {
		return Rollout{}, &InputError{Field: "hold", Reason: fmt.Sprintf("%s: want above 0 and below the stage deadline %s (%s)", hold, c.cfg.StageDeadline, EnvStageDeadline)}
	}
	reason, err := control.CheckReason(req.Reason, false)
	if err != nil {
		return Rollout{}, &InputError{Field: "reason", Reason: err.Error()}
	}
	r := Rollout{ID: newID(), Scope: req.Scope, Directive: directive, Types: types,
		Stages: append([]float64(nil), stages...), Hold: hold, State: StateRunning, Who: req.Who, Reason: reason}
	if req.Bypass != "" {
		bypass, err := control.CheckReason(req.Bypass, true)
		if err != nil {
			return Rollout{}, &InputError{Field: "bypass", Reason: err.Error()}
		}
		r.Bypass, r.Review = bypass, true
	}
	return r, nil
}

// end closes r's current stage and the rollout.
func end(r *Rollout, state, outcome, reason string, now time.Time) {
	r.History = append(r.History, StageRecord{Percent: r.Percent(), Started: r.StageStarted, Ended: now,
		Outcome: outcome, Canary: r.Canary, Baseline: r.Baseline, Reason: reason})
	r.State, r.Ended, r.EndReason = state, now, reason
	v := r.Verdict.Outcome
	switch {
	case state == StateCompleted:
		v = VerdictPass
	case v != VerdictFail:
		v = state // rolled back or aborted without a failing verdict: by a person or the watchdog
	}
	r.Verdict = Verdict{Outcome: v, Reason: reason, At: now}
}

// Abort ends a running rollout by an operator's decision: every process
// clears the canary.
func (c *Controller) Abort(ctx context.Context, id, who, reason string) (Rollout, error) {
	reason, err := control.CheckReason(reason, false)
	if err != nil {
		return Rollout{}, &InputError{Field: "reason", Reason: err.Error()}
	}
	var out Rollout
	_, err = c.update(ctx, func(rec *record) error {
		r := find(rec, id)
		if r == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		if !r.Active() {
			return fmt.Errorf("%w: %s is %s", ErrNotActive, id, r.State)
		}
		end(r, StateAborted, StateAborted, fmt.Sprintf("aborted by %s: %s", who, reason), c.clock.Now())
		out = *r
		return nil
	})
	if err != nil {
		return Rollout{}, err
	}
	c.aborted.Add(1)
	c.changed(out, "aborted by "+who+": "+reason)
	c.log.LogAttrs(ctx, slog.LevelWarn, "canary.aborted", slog.String("rollout", id), slog.String("who", who), slog.String("reason", reason))
	c.unstage(ctx, out, who)
	return out, nil
}

// PanicRollback rolls back every running rollout at once, in one write every
// process reads (at once through the change feed, else at its next Sync).
// It needs the store; the gates do not stand in front of it.
func (c *Controller) PanicRollback(ctx context.Context, who, reason string) ([]Rollout, error) {
	reason, err := control.CheckReason(reason, true)
	if err != nil {
		return nil, &InputError{Field: "reason", Reason: err.Error()}
	}
	var out []Rollout
	_, err = c.update(ctx, func(rec *record) error {
		out = out[:0]
		now := c.clock.Now()
		for i := range rec.Rollouts {
			r := &rec.Rollouts[i]
			if r.Active() {
				end(r, StateRolledBack, StateRolledBack, fmt.Sprintf("panic rollback by %s: %s", who, reason), now)
				out = append(out, *r)
			}
		}
		if len(out) == 0 {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.panics.Add(1)
	c.rolledBack.Add(uint64(len(out)))
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.ID
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "canary.panic_rollback", slog.String("who", who), slog.String("reason", reason),
		slog.Any("rollouts", ids))
	for _, r := range out {
		c.changed(r, "panic rollback by "+who+": "+reason)
		c.unstage(ctx, r, who)
	}
	return out, nil
}

// changed tells Options.OnChange.
func (c *Controller) changed(r Rollout, what string) {
	if c.onChange != nil {
		c.onChange(r, what)
	}
}

// unstage removes an ended rollout's canary; a failure is logged, and every
// process's Sync tries again.
func (c *Controller) unstage(ctx context.Context, r Rollout, who string) {
	if err := c.ov.Unstage(ctx, r, who); err != nil {
		c.log.LogAttrs(ctx, slog.LevelError, "canary.unstage_failed", slog.String("rollout", r.ID),
			slog.String("scope", r.Scope.String()), slog.String("error", err.Error()))
	}
}
