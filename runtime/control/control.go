// Package control holds the operator's two switches: the kill switch
// (ENABLED/DISABLED) and dry-run (LIVE/DRY_RUN), persisted by a backend
// (file, Redis or memory) and applied to the runtime's in-process atomics.
// Every change records who made it, why and when, in a bounded history.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// Target receives the switches; *runtime.Runtime implements it (SetEnabled and
// SetDryRun are the atomic flags the hot path reads).
type Target interface {
	SetEnabled(on bool)
	SetDryRun(on bool)
}

// Options configure a Control. The zero value is valid: every zero field takes
// the default written beside it.
type Options struct {
	// Backend persists the state. Default: NewMemory() (nothing survives a restart).
	Backend Backend
	// Target receives every state the Control adopts. Default: none.
	Target Target
	// Logger receives control.* events. Default: slog.Default().
	Logger *slog.Logger
	// Clock stamps the history. Default: the real clock.
	Clock clock.Clock
	// HistoryLimit bounds the history kept in the state. Default 100.
	HistoryLimit int
	// PollInterval is how often the backend is re-read, as a safety net behind
	// the Redis subscription and for other processes sharing a state file.
	// Default 5s; negative disables polling, and with it the retry of a Redis
	// subscription that failed at start.
	PollInterval time.Duration
}

// DefaultHistoryLimit is the number of changes kept when Options.HistoryLimit is 0.
const DefaultHistoryLimit = 100

// Control is the kill switch and dry-run of one process, kept in step with the
// backend. Its methods are safe for concurrent use.
type Control struct {
	backend Backend
	target  Target
	log     *slog.Logger
	clock   clock.Clock
	limit   int

	mu      sync.Mutex // serialises load/update+adopt so that states are adopted in order
	state   atomic.Pointer[State]
	loadErr atomic.Pointer[string]

	kick      chan struct{}
	stopWatch func()
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// New loads the state from the backend, applies it to the target, subscribes
// to changes made by other processes (when the backend is a Watcher) and starts
// polling. A state that cannot be read is logged (control.state_unreadable) and
// treated as enabled and live; New fails only on a bad option.
func New(ctx context.Context, opts Options) (*Control, error) {
	if opts.HistoryLimit < 0 {
		return nil, fmt.Errorf("control: HistoryLimit %d must not be negative", opts.HistoryLimit)
	}
	c := &Control{
		backend: opts.Backend,
		target:  opts.Target,
		log:     opts.Logger,
		clock:   opts.Clock,
		limit:   opts.HistoryLimit,
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if c.backend == nil {
		c.backend = NewMemory()
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
	poll := opts.PollInterval
	if poll == 0 {
		poll = 5 * time.Second
	}
	def := Default()
	c.state.Store(&def)
	c.apply(def)
	// A failure is logged inside; the default stands until the backend answers.
	_ = c.Refresh(ctx)
	if w, ok := c.backend.(Watcher); ok {
		c.stopWatch = c.watch(ctx, w)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.loop(loopCtx, poll)
	return c, nil
}

func (c *Control) watch(ctx context.Context, w Watcher) func() {
	stop, err := w.Watch(ctx, func() {
		select {
		case c.kick <- struct{}{}:
		default: // a refresh is already pending
		}
	})
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "control.watch_failed",
			slog.String("backend", c.backend.Describe()), slog.String("error", err.Error()))
		return nil
	}
	return stop
}

// loop refreshes on every change notification and every poll tick, and keeps
// trying to subscribe while the backend is unreachable.
func (c *Control) loop(ctx context.Context, poll time.Duration) {
	defer close(c.done)
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-tick:
			if w, ok := c.backend.(Watcher); ok && c.watchMissing() {
				if stop := c.watch(ctx, w); stop != nil {
					c.mu.Lock()
					c.stopWatch = stop
					c.mu.Unlock()
				}
			}
		}
		_ = c.Refresh(ctx) // failures are logged; the last known state stands
	}
}

func (c *Control) watchMissing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopWatch == nil
}

// Close stops the subscription and the polling, then closes the backend.
func (c *Control) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		c.mu.Lock()
		stop := c.stopWatch
		c.stopWatch = nil
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
		err = c.backend.Close()
	})
	return err
}

// Refresh re-reads the backend and adopts what it finds. A read failure keeps
// the last known state (at start: enabled and live) and is logged as
// control.state_unreadable; a corrupt state is set aside by the backend and
// replaced by the default.
func (c *Control) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.backend.Load(ctx)
	if err != nil {
		c.unreadable(ctx, err)
		if !errors.Is(err, ErrCorrupt) {
			return err
		}
		s = Default()
	} else {
		c.loadErr.Store(nil)
	}
	c.adopt(ctx, s, "")
	return err
}

func (c *Control) unreadable(ctx context.Context, err error) {
	msg := err.Error()
	c.loadErr.Store(&msg)
	attrs := []slog.Attr{slog.String("backend", c.backend.Describe()), slog.String("error", msg)}
	var ce *CorruptError
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("set_aside", ce.SetAside), slog.String("using", "ENABLED LIVE"))
	} else {
		cur := c.state.Load()
		attrs = append(attrs, slog.String("using", string(cur.KillSwitch)+" "+string(cur.Mode)))
	}
	c.log.LogAttrs(ctx, slog.LevelError, "control.state_unreadable", attrs...)
}

// adopt makes s the current state and applies it to the target. action is the
// local change that produced it, or "" when it was read from the backend.
func (c *Control) adopt(ctx context.Context, s State, action string) {
	prev := c.state.Load()
	c.state.Store(&s)
	c.apply(s)
	if action == "" && (prev.KillSwitch != s.KillSwitch || prev.Mode != s.Mode) {
		c.log.LogAttrs(ctx, slog.LevelInfo, "control.state_synced",
			slog.String("kill_switch", string(s.KillSwitch)), slog.String("mode", string(s.Mode)),
			slog.String("changed_by", s.ChangedBy), slog.String("reason", s.Reason),
			slog.Uint64("revision", s.Revision), slog.String("backend", c.backend.Describe()))
	}
}

func (c *Control) apply(s State) {
	if c.target != nil {
		c.target.SetEnabled(s.IsEnabled())
		c.target.SetDryRun(s.IsDryRun())
	}
}

// Disable turns the kill switch off: every wrapper calls its inner method
// directly. reason must not be blank.
func (c *Control) Disable(ctx context.Context, who, reason string) (State, error) {
	reason, err := checkReason(reason, true)
	if err != nil {
		return c.State(), err
	}
	return c.change(ctx, who, ActionDisable, reason, func(s *State) { s.KillSwitch = Disabled })
}

// Enable turns the kill switch back on. reason is optional.
func (c *Control) Enable(ctx context.Context, who, reason string) (State, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return c.State(), err
	}
	return c.change(ctx, who, ActionEnable, reason, func(s *State) { s.KillSwitch = Enabled })
}

// StartDryRun makes every policy record what it would have done instead of
// doing it. reason is optional.
func (c *Control) StartDryRun(ctx context.Context, who, reason string) (State, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return c.State(), err
	}
	return c.change(ctx, who, ActionDryRunOn, reason, func(s *State) { s.Mode = DryRun })
}

// GoLive leaves dry-run: policies intervene again. confirm must be exactly
// Confirmation ("CONFIRM").
func (c *Control) GoLive(ctx context.Context, who, confirm, reason string) (State, error) {
	if confirm != Confirmation {
		if confirm == "" {
			return c.State(), fmt.Errorf("going live: %w", ErrConfirmationRequired)
		}
		return c.State(), fmt.Errorf("going live: got confirmation %q: %w", confirm, ErrConfirmationRequired)
	}
	reason, err := checkReason(reason, false)
	if err != nil {
		return c.State(), err
	}
	return c.change(ctx, who, ActionGoLive, reason, func(s *State) { s.Mode = Live })
}

func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	if required && reason == "" {
		return "", fmt.Errorf("disabling the kill switch: %w (blank or only spaces given)", ErrReasonRequired)
	}
	if len(reason) > MaxReasonLen {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrReasonTooLong, len(reason), MaxReasonLen)
	}
	return reason, nil
}

func (c *Control) change(ctx context.Context, who, action, reason string, set func(*State)) (State, error) {
	who = strings.TrimSpace(who)
	if who == "" {
		who = "unknown"
	}
	at := c.clock.Now().UTC()
	fn := func(s State) (State, error) {
		set(&s)
		s.Schema = schemaVersion
		s.Reason, s.ChangedBy, s.ChangedAt = reason, who, at
		s.Revision++
		s.History = append(s.History, Change{
			At: at, Who: who, Action: action, Reason: reason,
			KillSwitch: s.KillSwitch, Mode: s.Mode, Revision: s.Revision,
		})
		if n := len(s.History) - c.limit; n > 0 {
			s.History = append([]Change(nil), s.History[n:]...)
		}
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.backend.Update(ctx, fn)
	if errors.Is(err, ErrCorrupt) {
		// The backend set the bad state aside; log it, then write on a clean slate.
		c.unreadable(ctx, err)
		s, err = c.backend.Update(ctx, fn)
	}
	if err != nil {
		return c.state.Load().clone(), fmt.Errorf("control: %s: %w", action, err)
	}
	c.loadErr.Store(nil)
	c.adopt(ctx, s, action)
	level := slog.LevelInfo
	if action == ActionDisable || action == ActionDryRunOn {
		level = slog.LevelWarn
	}
	c.log.LogAttrs(ctx, level, eventFor(action),
		slog.String("who", who), slog.String("reason", reason),
		slog.String("kill_switch", string(s.KillSwitch)), slog.String("mode", string(s.Mode)),
		slog.Uint64("revision", s.Revision), slog.String("backend", c.backend.Describe()))
	return s.clone(), nil
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

// Status is the state without its history, plus where it lives and whether
// the last read failed.
type Status struct {
	KillSwitch Switch    `json:"kill_switch"`
	Mode       Mode      `json:"mode"`
	Enabled    bool      `json:"enabled"`
	DryRun     bool      `json:"dry_run"`
	Reason     string    `json:"reason,omitempty"`
	ChangedBy  string    `json:"changed_by,omitempty"`
	ChangedAt  time.Time `json:"changed_at,omitzero"`
	Revision   uint64    `json:"revision"`
	Backend    string    `json:"backend"`
	// StateError is the last read failure; while set, the state shown is the
	// last one known (enabled and live if none was ever read).
	StateError string `json:"state_error,omitempty"`
}

// Status returns the current status.
func (c *Control) Status() Status {
	s := c.state.Load()
	st := Status{
		KillSwitch: s.KillSwitch, Mode: s.Mode, Enabled: s.IsEnabled(), DryRun: s.IsDryRun(),
		Reason: s.Reason, ChangedBy: s.ChangedBy, ChangedAt: s.ChangedAt, Revision: s.Revision,
		Backend: c.backend.Describe(),
	}
	if e := c.loadErr.Load(); e != nil {
		st.StateError = *e
	}
	return st
}

// Backend returns the backend the Control persists to.
func (c *Control) Backend() Backend { return c.backend }

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
