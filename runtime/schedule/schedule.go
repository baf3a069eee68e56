// Package schedule runs the runtime's periodic tasks (the daily report, DLQ
// retention, the audit drain, and the user's own) on an interval or a cron
// expression, on the fleet's leader only or on every node. A task never
// overlaps with itself, a panic in it is caught and reported, and each task's
// last run, outcome, duration and next run are on view.
//
// A leader-only task runs with the fencing token of the leader's term in its
// context (leader.TokenFrom), and that context is cancelled when the term
// ends, so that a task which outlives its leadership stops, and its fenced
// writes (leader.Elector.Fence) are refused by the store.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/leader"
)

// Func is a task. Its context is cancelled when the scheduler closes, when
// the task's Timeout passes, and (leader-only tasks) when the leader's term ends.
type Func func(ctx context.Context) error

// Scope says where a task runs.
type Scope int

const (
	// LeaderOnly (the zero value) runs the task on the fleet's leader only:
	// fleet-wide work such as the daily report or DLQ retention, done once.
	LeaderOnly Scope = iota
	// EveryNode runs the task on every process: per-process housekeeping.
	EveryNode
)

func (s Scope) String() string {
	if s == EveryNode {
		return "every_node"
	}
	return "leader"
}

// Leadership is what the scheduler asks before a leader-only run;
// *leader.Elector implements it.
type Leadership interface {
	// Leadership returns the current term's context and fencing token, and
	// false when this process does not lead.
	Leadership() (context.Context, leader.Token, bool)
}

// DefaultTick is how often the scheduler beats and checks its timers.
const DefaultTick = 10 * time.Second

// Options configure New. The zero value runs on the system clock, counts
// the process as the leader, and logs to slog.Default().
type Options struct {
	// Clock drives the timers. Default the system clock.
	Clock clock.Clock
	// Logger receives schedule.run_failed, schedule.run_panicked,
	// schedule.run_skipped and schedule.run_completed. Default slog.Default().
	Logger *slog.Logger
	// Leader decides leader-only runs. nil: this process is alone and leads
	// (with a zero token).
	Leader Leadership
	// Jitter returns a random duration in [0, max); default math/rand/v2.
	Jitter func(max time.Duration) time.Duration
	// Tick is how often the scheduler calls Beat and re-arms a task whose
	// timer is overdue (the watchdog's remedy, Restart, does the same at once).
	// Default 10s.
	Tick time.Duration
	// Beat, when set, is called every Tick: the watchdog's heartbeat.
	Beat func()
	// OnRun, when set, is called after every run and every skipped run,
	// outside any lock: the metrics hook.
	OnRun func(Run)
}

// TaskOptions configure one task. The zero value is a leader-only task
// without jitter or timeout.
type TaskOptions struct {
	// Scope: LeaderOnly (default) or EveryNode.
	Scope Scope
	// Jitter delays each run by a random duration below it, so that the
	// tasks of a fleet (EveryNode) do not all hit the store at once. The
	// plan stays on the spec: jitter never accumulates.
	Jitter time.Duration
	// Timeout bounds one run through its context. 0: no bound.
	Timeout time.Duration
	// Gate, when set, is asked before each run, outside the scheduler's
	// lock (it may read the store): an error skips the run, with "blocked: "
	// and the error as its reason. The runtime sets it for tasks that are
	// automated actions (runtime.Schedule with Automated), to ask its
	// governance gate.
	Gate func(context.Context) error
	// Automated marks the task as an automated action that changes
	// behaviour: runtime.Schedule puts the governance gate in front of each
	// run (see Gate). The scheduler itself does not read it.
	Automated bool
}

// Outcomes of a run.
const (
	OutcomeOK       = "ok"
	OutcomeFailed   = "failed"
	OutcomePanicked = "panicked"
	OutcomeSkipped  = "skipped"
	// OutcomeCancelled is a run whose context was cancelled (Close, or the
	// end of the leader's term) and that returned the cancellation.
	OutcomeCancelled = "cancelled"
)

// Reasons a run is skipped.
const (
	SkipNotLeader = "not leader"
	SkipRunning   = "previous run still running"
)

// Run is the outcome of one run (or skipped run) of a task, as given to OnRun.
type Run struct {
	Task     string
	Scope    Scope
	Outcome  string
	Reason   string // why it was skipped
	Err      error
	Start    time.Time
	Duration time.Duration
	Token    leader.Token
	// Manual is set on a run an operator asked for (RunNow).
	Manual bool
}

// TaskStatus is a snapshot of one task.
type TaskStatus struct {
	Name         string        `json:"name"`
	Spec         string        `json:"spec"`
	Scope        string        `json:"scope"`
	Running      bool          `json:"running"`
	LastRun      time.Time     `json:"last_run,omitzero"`
	LastOutcome  string        `json:"last_outcome,omitempty"`
	LastError    string        `json:"last_error,omitempty"`
	LastDuration time.Duration `json:"last_duration_ns"`
	LastToken    leader.Token  `json:"last_token,omitempty"`
	NextRun      time.Time     `json:"next_run,omitzero"`
	Runs         int64         `json:"runs"`
	Failures     int64         `json:"failures"`
	Skips        int64         `json:"skips"`
	LastSkip     string        `json:"last_skip,omitempty"`
}

// Sentinel errors.
var (
	// ErrClosed is returned by Schedule after Close.
	ErrClosed = errors.New("schedule: scheduler closed")
	// ErrDuplicate is returned for a second task of the same name.
	ErrDuplicate = errors.New("schedule: a task of that name exists")
)

// PanicError is the error of a run that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

type task struct {
	name    string
	spec    string
	sched   cron.Schedule
	fn      Func
	opts    TaskOptions
	planned time.Time // the spec's time of the next run
	fireAt  time.Time // planned plus jitter
	timer   clock.Timer
	status  TaskStatus
}

// Scheduler runs tasks. Its methods are safe for concurrent use.
type Scheduler struct {
	clock  clock.Clock
	log    *slog.Logger
	leader Leadership
	jitter func(time.Duration) time.Duration
	tick   time.Duration
	beat   func()
	onRun  func(Run)

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	tasks  map[string]*task
	order  []string
	closed bool
	ticker clock.Timer
}

// New returns a running scheduler with no tasks.
func New(opts Options) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return rand.N(d) }
	}
	if opts.Tick <= 0 {
		opts.Tick = DefaultTick
	}
	s := &Scheduler{clock: opts.Clock, log: opts.Logger, leader: opts.Leader, jitter: opts.Jitter,
		tick: opts.Tick, beat: opts.Beat, onRun: opts.OnRun, tasks: map[string]*task{}}
	s.base, s.cancel = context.WithCancel(context.Background())
	s.mu.Lock()
	s.armTickLocked()
	s.mu.Unlock()
	return s
}

var validName = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// ParseSpec reads a schedule: a Go duration ("90s", "1h") or "@every 1h"
// for an interval, a standard five-field cron expression ("0 3 * * *"), or
// a descriptor (@hourly, @daily, @weekly, @monthly, @yearly). Cron times are
// in the process's local zone unless the spec starts with CRON_TZ=Zone.
func ParseSpec(spec string) (cron.Schedule, error) {
	if d, err := time.ParseDuration(spec); err == nil {
		if d <= 0 {
			return nil, fmt.Errorf("interval %v: want a positive duration", d)
		}
		return every(d), nil
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("want a Go duration, @every D, a cron expression or a descriptor: %w", err)
	}
	return sched, nil
}

// every is an interval to the nanosecond (cron's @every rounds to seconds).
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

// Schedule adds a task: fn runs on spec (see ParseSpec) from now on. The
// name ([a-z0-9_.-]+) identifies it in the status and the logs.
func (s *Scheduler) Schedule(name, spec string, fn Func, opts TaskOptions) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("schedule: task name %q: want [a-z0-9_.-]+", name)
	}
	if fn == nil {
		return fmt.Errorf("schedule: task %q: nil function", name)
	}
	if opts.Jitter < 0 || opts.Timeout < 0 {
		return fmt.Errorf("schedule: task %q: negative jitter or timeout", name)
	}
	sched, err := ParseSpec(spec)
	if err != nil {
		return fmt.Errorf("schedule: task %q: spec %q: %w", name, spec, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, dup := s.tasks[name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	t := &task{name: name, spec: spec, sched: sched, fn: fn, opts: opts,
		status: TaskStatus{Name: name, Spec: spec, Scope: opts.Scope.String()}}
	s.tasks[name] = t
	s.order = append(s.order, name)
	s.planLocked(t, s.clock.Now())
	return nil
}

// planLocked plans t's next run after from and arms its timer.
func (s *Scheduler) planLocked(t *task, from time.Time) {
	now := s.clock.Now()
	next := t.sched.Next(from)
	if !next.After(now) {
		// Late by more than a period (a stopped process, a slow tick):
		// runs missed are not made up, the plan resumes from now.
		next = t.sched.Next(now)
	}
	t.planned = next
	t.fireAt = next
	if t.opts.Jitter > 0 {
		t.fireAt = next.Add(s.jitter(t.opts.Jitter))
	}
	t.status.NextRun = t.fireAt
	s.armLocked(t)
}

func (s *Scheduler) armLocked(t *task) {
	if t.timer != nil {
		t.timer.Stop()
	}
	fireAt := t.fireAt
	t.timer = s.clock.AfterFunc(fireAt.Sub(s.clock.Now()), func() { s.fire(t, fireAt) })
}

func (s *Scheduler) armTickLocked() {
	s.ticker = s.clock.AfterFunc(s.tick, s.onTick)
}

// onTick beats and re-arms overdue tasks.
func (s *Scheduler) onTick() {
	if s.beat != nil {
		s.beat()
	}
	s.rearm(s.clock.Now().Add(-s.tick))
	s.mu.Lock()
	if !s.closed {
		s.armTickLocked()
	}
	s.mu.Unlock()
}

// Restart re-arms every task whose run is due: the watchdog's remedy when
// the scheduler stops beating.
func (s *Scheduler) Restart() { s.rearm(s.clock.Now()) }

func (s *Scheduler) rearm(overdue time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, t := range s.tasks {
		if !t.fireAt.After(overdue) {
			s.armLocked(t)
		}
	}
}

// fire runs (or skips) t for the run planned to fire at fireAt, and plans the next.
func (s *Scheduler) fire(t *task, fireAt time.Time) {
	s.mu.Lock()
	if s.closed || !t.fireAt.Equal(fireAt) { // closed, or a re-armed timer already fired this run
		s.mu.Unlock()
		return
	}
	s.planLocked(t, t.planned)
	now := s.clock.Now()
	var (
		reason string
		ctx    = s.base
		tok    leader.Token
		term   context.Context
	)
	switch {
	case t.status.Running:
		reason = SkipRunning
	case t.opts.Scope == LeaderOnly && s.leader != nil:
		var ok bool
		term, tok, ok = s.leader.Leadership()
		if !ok {
			reason = SkipNotLeader
		}
	}
	if reason != "" {
		t.status.Skips++
		t.status.LastSkip = reason
		s.mu.Unlock()
		level := slog.LevelDebug // a follower skips every leader-only run: normal
		if reason == SkipRunning {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(s.base, level, "schedule.run_skipped", slog.String("task", t.name), slog.String("reason", reason))
		s.report(Run{Task: t.name, Scope: t.opts.Scope, Outcome: OutcomeSkipped, Reason: reason, Start: now})
		return
	}
	prev := t.status.LastRun
	t.status.Running = true
	t.status.LastRun = now
	t.status.LastToken = tok
	s.wg.Add(1) // under mu while not closed: Close's Wait never races an Add
	s.mu.Unlock()
	go s.run(ctx, t, term, tok, now, prev)
}

func (s *Scheduler) run(ctx context.Context, t *task, term context.Context, tok leader.Token, start, prev time.Time) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if gate := t.opts.Gate; gate != nil {
		if err := gate(ctx); err != nil {
			reason := "blocked: " + err.Error()
			s.mu.Lock()
			t.status.Running = false
			t.status.LastRun = prev // the run did not happen
			t.status.Skips++
			t.status.LastSkip = reason
			s.mu.Unlock()
			s.log.LogAttrs(ctx, slog.LevelWarn, "schedule.run_skipped", slog.String("task", t.name), slog.String("reason", reason))
			s.report(Run{Task: t.name, Scope: t.opts.Scope, Outcome: OutcomeSkipped, Reason: reason, Start: start})
			return
		}
	}
	s.report(s.execute(ctx, cancel, t, term, tok, start))
}

// execute runs t's function and records the outcome in its status.
func (s *Scheduler) execute(ctx context.Context, cancel context.CancelFunc, t *task, term context.Context, tok leader.Token, start time.Time) Run {
	if term != nil {
		ctx = leader.WithToken(ctx, tok)
		stop := context.AfterFunc(term, cancel)
		defer stop()
	}
	if t.opts.Timeout > 0 {
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeout(ctx, t.opts.Timeout)
		defer cancelT()
	}
	err := call(ctx, t.fn)
	dur := s.clock.Now().Sub(start)
	outcome := OutcomeOK
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		outcome = OutcomePanicked
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		outcome = OutcomeCancelled
	case err != nil:
		outcome = OutcomeFailed
	}

	s.mu.Lock()
	t.status.Running = false
	t.status.Runs++
	t.status.LastOutcome, t.status.LastDuration, t.status.LastError = outcome, dur, ""
	if err != nil {
		t.status.LastError = err.Error()
	}
	if outcome == OutcomeFailed || outcome == OutcomePanicked {
		t.status.Failures++
	}
	s.mu.Unlock()

	attrs := []slog.Attr{slog.String("task", t.name), slog.Duration("duration", dur)}
	if tok != 0 {
		attrs = append(attrs, slog.Uint64("token", uint64(tok)))
	}
	switch outcome {
	case OutcomePanicked:
		s.log.LogAttrs(ctx, slog.LevelError, "schedule.run_panicked",
			append(attrs, slog.String("error", err.Error()), slog.String("stack", string(pe.Stack)))...)
	case OutcomeFailed:
		s.log.LogAttrs(ctx, slog.LevelWarn, "schedule.run_failed", append(attrs, slog.String("error", err.Error()))...)
	case OutcomeCancelled:
		s.log.LogAttrs(ctx, slog.LevelInfo, "schedule.run_cancelled", attrs...)
	default:
		s.log.LogAttrs(ctx, slog.LevelDebug, "schedule.run_completed", attrs...)
	}
	return Run{Task: t.name, Scope: t.opts.Scope, Outcome: outcome, Err: err, Start: start, Duration: dur, Token: tok}
}

// Errors of RunNow.
var (
	ErrUnknownTask = errors.New("schedule: no task of that name")
	ErrRunning     = errors.New("schedule: the task is running now")
	ErrNotLeader   = errors.New("schedule: the task runs on the fleet's leader only, and this process does not lead")
)

// BlockedError is RunNow's error when the task's Gate (the governance gate
// of an automated task) refuses the run; Err is the gate's answer, which
// names the check that blocks.
type BlockedError struct {
	Task string
	Err  error
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("schedule: task %s is an automated action and the gate blocks it: %v", e.Task, e.Err)
}

func (e *BlockedError) Unwrap() error { return e.Err }

// RunNow runs task name at once, on the caller's goroutine, and returns the
// run: an operator's "run it now". It is refused (the error says why) for a
// task unknown, already running, leader-only on a process that does not
// lead (ErrNotLeader: ask the leader), or blocked by its Gate
// (*BlockedError). The run is counted in the task's status as any other
// (its next planned run is not moved) and given to OnRun with Manual set.
// Its context ends with ctx, with the scheduler, with the task's Timeout
// and (leader-only) with the leader's term.
func (s *Scheduler) RunNow(ctx context.Context, name string) (Run, error) {
	s.mu.Lock()
	t, ok := s.tasks[name]
	var (
		term context.Context
		tok  leader.Token
	)
	switch {
	case s.closed:
		s.mu.Unlock()
		return Run{}, ErrClosed
	case !ok:
		s.mu.Unlock()
		return Run{}, fmt.Errorf("%w: %q (scheduled: %v)", ErrUnknownTask, name, s.namesLocked())
	case t.status.Running:
		s.mu.Unlock()
		return Run{}, fmt.Errorf("%w: %s", ErrRunning, name)
	case t.opts.Scope == LeaderOnly && s.leader != nil:
		term, tok, ok = s.leader.Leadership()
		if !ok {
			s.mu.Unlock()
			return Run{}, fmt.Errorf("%w: %s", ErrNotLeader, name)
		}
	}
	prev := t.status.LastRun
	now := s.clock.Now()
	t.status.Running = true
	t.status.LastRun = now
	t.status.LastToken = tok
	s.wg.Add(1) // under mu while not closed: Close's Wait never races an Add
	s.mu.Unlock()
	defer s.wg.Done()

	rctx, cancel := context.WithCancel(s.base)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	s.log.LogAttrs(ctx, slog.LevelInfo, "schedule.run_requested", slog.String("task", name))
	if gate := t.opts.Gate; gate != nil {
		if err := gate(rctx); err != nil {
			s.mu.Lock()
			t.status.Running = false
			t.status.LastRun = prev // the run did not happen
			s.mu.Unlock()
			return Run{}, &BlockedError{Task: name, Err: err}
		}
	}
	r := s.execute(rctx, cancel, t, term, tok, now)
	r.Manual = true
	s.report(r)
	return r, nil
}

func (s *Scheduler) report(r Run) {
	if s.onRun != nil {
		s.onRun(r)
	}
}

// call runs fn and turns a panic into a *PanicError.
func call(ctx context.Context, fn Func) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// Remove takes task name off the schedule and reports whether it was on
// it. A run in progress goes on to its end (Close cancels it).
func (s *Scheduler) Remove(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[name]
	if !ok {
		return false
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.fireAt = time.Time{} // a timer already firing finds its run gone
	delete(s.tasks, name)
	s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
	return true
}

// Status returns every task's status, in the order they were scheduled.
func (s *Scheduler) Status() []TaskStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TaskStatus, 0, len(s.order))
	for _, name := range s.order {
		out = append(out, s.tasks[name].status)
	}
	return out
}

// Names returns the task names, sorted.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.namesLocked()
}

func (s *Scheduler) namesLocked() []string { return slices.Sorted(slices.Values(s.order)) }

// Close stops planning runs, cancels the context of the running ones and
// waits for them to return, or for ctx. Close is idempotent.
func (s *Scheduler) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.ticker != nil {
			s.ticker.Stop()
		}
		for _, t := range s.tasks {
			if t.timer != nil {
				t.timer.Stop()
			}
		}
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("schedule: waiting for running tasks: %w", ctx.Err())
	}
}
