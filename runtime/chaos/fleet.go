package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

// Where experiments live in the store.
const (
	// StateKey holds every experiment (JSON, see state), expired ones until
	// the next write prunes them; the key expires a minute after the last one.
	StateKey = "{chaos}"
	// ChangedChannel announces every change.
	ChangedChannel = "chaos:changed"
)

// casRetries bounds compare-and-set retries when processes write at once.
const casRetries = 20

// DefaultPollInterval is how often the store is re-read behind the change feed.
const DefaultPollInterval = 2 * time.Second

// Options configure a Chaos. Store is required; the zero value of the other
// fields takes the default written beside it.
type Options struct {
	Store store.Store
	// Clock stamps experiments and ends them. Default: the real clock.
	Clock clock.Clock
	// Logger receives chaos.* events. Default: slog.Default().
	Logger *slog.Logger
	// Level is the emergency level in force: Start is refused and nothing is
	// injected from HIGH up. Default: always NORMAL.
	Level func() emergency.Level
	// Known reports whether a service is declared by a zone of this process;
	// Start refuses other names. Default: every name is known.
	Known func(service string) bool
	// Node names this process in the experiments it starts.
	Node string
	// Disabled turns the feature off in this process (BALDUR_CHAOS_ENABLED=false):
	// Start is refused and the fleet's experiments are listed, not applied.
	Disabled bool
	// PollInterval is how often the store is re-read behind the change feed.
	// Default DefaultPollInterval; negative disables polling.
	PollInterval time.Duration
	// Beat, when set, is called at every turn of the watching loop.
	Beat func()
	// OnEvent, when set, hears each experiment this process starts applying
	// or stops applying (chaos.experiment_started, _stopped, _expired), with
	// no lock held: the runtime puts it on the plots' time axis. It must not
	// block.
	OnEvent func(name string, e Experiment)
}

// Chaos is one process's view of the fleet's experiments. Its methods are
// safe for concurrent use.
type Chaos struct {
	store    store.Store
	clock    clock.Clock
	log      *slog.Logger
	level    func() emergency.Level
	known    func(string) bool
	node     string
	disabled bool
	beat     func()
	onEvent  func(string, Experiment)

	// mu guards the maps; never held across a store call or a log write.
	mu     sync.Mutex
	slots  map[string]*Slot
	exps   map[string]Experiment // the experiments applied here
	timers map[string]clock.Timer

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type state struct {
	Experiments map[string]Experiment `json:"experiments"`
}

// New reads the experiments in force, applies them, and watches the store
// for changes (the change feed, and a poll behind it). A store that cannot
// be read at start is logged and retried by the poll.
func New(ctx context.Context, opts Options) (*Chaos, error) {
	if opts.Store == nil {
		return nil, errors.New("chaos: Options.Store is required")
	}
	c := &Chaos{
		store: opts.Store, clock: opts.Clock, log: opts.Logger, level: opts.Level, known: opts.Known,
		node: opts.Node, disabled: opts.Disabled, beat: opts.Beat, onEvent: opts.OnEvent,
		slots: map[string]*Slot{}, exps: map[string]Experiment{}, timers: map[string]clock.Timer{},
		done: make(chan struct{}),
	}
	if c.clock == nil {
		c.clock = clock.Real()
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.level == nil {
		c.level = func() emergency.Level { return emergency.Normal }
	}
	if c.known == nil {
		c.known = func(string) bool { return true }
	}
	poll := opts.PollInterval
	if poll == 0 {
		poll = DefaultPollInterval
	}
	c.refresh(ctx)
	sub, err := c.store.Subscribe(ctx, ChangedChannel)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "chaos.watch_failed", slog.String("error", err.Error()))
		sub = nil
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.loop(loopCtx, sub, poll)
	return c, nil
}

// Close stops watching the store and every expiry timer. Experiments stay
// in the store: they are the fleet's, and end at their deadline.
func (c *Chaos) Close() error {
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.mu.Lock()
		for s, t := range c.timers {
			t.Stop()
			delete(c.timers, s)
		}
		c.mu.Unlock()
	})
	return nil
}

func (c *Chaos) loop(ctx context.Context, sub store.Subscription, poll time.Duration) {
	defer close(c.done)
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
		case _, ok := <-msgs:
			if !ok {
				sub = nil // the store closed it; resubscribe at the next poll
				continue
			}
		case <-pollC:
			if sub == nil {
				if s, err := c.store.Subscribe(ctx, ChangedChannel); err == nil {
					sub = s
				}
			}
		}
		c.refresh(ctx)
	}
}

// Slot returns the slot the zones of service read, made on first use. A
// process with chaos disabled hands out slots that stay empty.
func (c *Chaos) Slot(service string) *Slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slotLocked(service)
}

func (c *Chaos) slotLocked(service string) *Slot {
	s, ok := c.slots[service]
	if !ok {
		s = &Slot{service: service, c: c}
		if e, ok := c.exps[service]; ok {
			s.p.Store(newFault(e))
		}
		c.slots[service] = s
	}
	return s
}

// Active reports whether an experiment is applied to service in this
// process now (a canary controller's chaos guard, for one).
func (c *Chaos) Active(service string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	e, ok := c.exps[service]
	c.mu.Unlock()
	return ok && e.Active(c.clock.Now())
}

// Disabled reports whether the feature is off in this process.
func (c *Chaos) Disabled() bool { return c.disabled }

// Injected returns the calls this process failed and delayed for service.
func (c *Chaos) Injected(service string) (errs, delays uint64) {
	c.mu.Lock()
	s := c.slots[service]
	c.mu.Unlock()
	if s == nil {
		return 0, 0
	}
	return s.Injected()
}

// Applied returns the experiments applied in this process, by service.
func (c *Chaos) Applied() []Experiment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedExperiments(c.exps)
}

// List reads the fleet's experiments in force from the store, by service.
func (c *Chaos) List(ctx context.Context) ([]Experiment, error) {
	st, _, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	return sortedExperiments(c.live(st.Experiments)), nil
}

func sortedExperiments(m map[string]Experiment) []Experiment {
	out := make([]Experiment, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// allowed reports whether injection may happen now: the feature is on and
// the emergency level is below HIGH.
func (c *Chaos) allowed() bool { return !c.disabled && c.level() < emergency.High }

// Start validates spec and starts its experiment fleet-wide, replacing the
// service's experiment if it had one. Errors: ErrInvalid (which field and
// why), ErrUnknownService, ErrRefused (emergency HIGH or above, or chaos
// disabled here), ErrUnavailable.
func (c *Chaos) Start(ctx context.Context, spec Spec) (Experiment, error) {
	if c.disabled {
		return Experiment{}, fmt.Errorf("%w: fault injection is disabled in this process (BALDUR_CHAOS_ENABLED=false)", ErrRefused)
	}
	if err := spec.Validate(MaxDuration); err != nil {
		return Experiment{}, err
	}
	if !c.known(spec.Service) {
		return Experiment{}, fmt.Errorf("%w %q: no protected method of this process declares it", ErrUnknownService, spec.Service)
	}
	if l := c.level(); l >= emergency.High {
		return Experiment{}, fmt.Errorf("%w: the emergency level is %s; experiments are refused from HIGH up", ErrRefused, l)
	}
	now := c.clock.Now().Round(0)
	e := Experiment{
		Service: spec.Service, ErrorPercent: spec.ErrorPercent, Latency: spec.Latency, LatencyPercent: spec.LatencyPercent,
		StartedAt: now, Until: now.Add(spec.Duration), By: spec.By, Reason: spec.Reason, Node: c.node,
	}
	if e.Latency > 0 && e.LatencyPercent == 0 {
		e.LatencyPercent = 100
	}
	st, err := c.update(ctx, func(m map[string]Experiment) error {
		m[e.Service] = e
		return nil
	})
	if err != nil {
		return Experiment{}, err
	}
	c.adopt(ctx, st.Experiments, "", "")
	c.announce(ctx)
	return e, nil
}

// Stop ends service's experiment fleet-wide. ErrNotFound when it has none.
func (c *Chaos) Stop(ctx context.Context, service, by, reason string) (Experiment, error) {
	var stopped Experiment
	st, err := c.update(ctx, func(m map[string]Experiment) error {
		e, ok := m[service]
		if !ok {
			return fmt.Errorf("%w %q", ErrNotFound, service)
		}
		stopped = e
		delete(m, service)
		return nil
	})
	if err != nil {
		return Experiment{}, err
	}
	c.adopt(ctx, st.Experiments, by, reason)
	c.announce(ctx)
	return stopped, nil
}

func (c *Chaos) announce(ctx context.Context) {
	if err := c.store.Publish(ctx, ChangedChannel, nil); err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "chaos.announce_failed", slog.String("error", err.Error()))
	}
}

// read returns the stored state and its raw bytes (nil when absent).
func (c *Chaos) read(ctx context.Context) (state, []byte, error) {
	raw, err := c.store.Get(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return state{Experiments: map[string]Experiment{}}, nil, nil
	}
	if err != nil {
		return state{}, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return state{}, nil, fmt.Errorf("%w: %s holds no experiments: %w", ErrUnavailable, StateKey, err)
	}
	if st.Experiments == nil {
		st.Experiments = map[string]Experiment{}
	}
	return st, raw, nil
}

// live drops the experiments past their deadline.
func (c *Chaos) live(m map[string]Experiment) map[string]Experiment {
	now := c.clock.Now()
	out := make(map[string]Experiment, len(m))
	for k, e := range m {
		if e.Active(now) {
			out[k] = e
		}
	}
	return out
}

// update applies change to the live experiments with a compare-and-set.
func (c *Chaos) update(ctx context.Context, change func(map[string]Experiment) error) (state, error) {
	for range casRetries {
		st, raw, err := c.read(ctx)
		if err != nil {
			return state{}, err
		}
		st.Experiments = c.live(st.Experiments)
		if err := change(st.Experiments); err != nil {
			return state{}, err
		}
		b, err := json.Marshal(st)
		if err != nil {
			return state{}, err
		}
		ttl := time.Minute
		now := c.clock.Now()
		for _, e := range st.Experiments {
			ttl = max(ttl, e.Until.Sub(now)+time.Minute)
		}
		var ok bool
		if raw == nil {
			ok, err = c.store.SetNX(ctx, StateKey, b, ttl)
		} else {
			ok, err = c.store.CompareAndSet(ctx, StateKey, raw, b, ttl)
		}
		if err != nil {
			return state{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if ok {
			return st, nil
		}
	}
	return state{}, fmt.Errorf("%w: %d processes changed experiments at once; try again", ErrUnavailable, casRetries)
}

// refresh reads the store and applies what it holds; a failed read is
// logged and the experiments applied here stand until their deadline.
func (c *Chaos) refresh(ctx context.Context) {
	st, _, err := c.read(ctx)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "chaos.state_unreadable", slog.String("error", err.Error()))
		return
	}
	c.adopt(ctx, st.Experiments, "", "")
}

// event is a log line decided under the lock and written after it.
type event struct {
	name       string
	e          Experiment
	by, reason string
}

// adopt makes m the experiments applied here: new and changed ones are
// armed, missing ones stopped. by and reason say who stopped them and why,
// when this process did.
func (c *Chaos) adopt(ctx context.Context, m map[string]Experiment, by, reason string) {
	if c.disabled {
		return
	}
	now := c.clock.Now()
	var evs []event
	c.mu.Lock()
	for svc, old := range c.exps {
		if _, ok := m[svc]; !ok || !m[svc].Active(now) {
			c.dropLocked(svc)
			evs = append(evs, event{"chaos.experiment_stopped", old, by, reason})
		}
	}
	for svc, e := range m {
		if !e.Active(now) {
			continue
		}
		if old, ok := c.exps[svc]; ok && same(old, e) {
			continue
		}
		c.dropLocked(svc)
		c.exps[svc] = e
		c.slotLocked(svc).p.Store(newFault(e))
		until := e.Until
		c.timers[svc] = c.clock.AfterFunc(until.Sub(now), func() { c.expire(svc, until) })
		evs = append(evs, event{"chaos.experiment_started", e, e.By, e.Reason})
	}
	c.mu.Unlock()
	for _, ev := range evs {
		c.logEvent(ctx, ev)
	}
}

// same reports whether a and b are one experiment (times compared as instants).
func same(a, b Experiment) bool {
	return a.Service == b.Service && a.ErrorPercent == b.ErrorPercent && a.Latency == b.Latency &&
		a.LatencyPercent == b.LatencyPercent && a.StartedAt.Equal(b.StartedAt) && a.Until.Equal(b.Until) &&
		a.By == b.By && a.Node == b.Node
}

func (c *Chaos) dropLocked(svc string) {
	delete(c.exps, svc)
	if t, ok := c.timers[svc]; ok {
		t.Stop()
		delete(c.timers, svc)
	}
	if s, ok := c.slots[svc]; ok {
		s.p.Store(nil)
	}
}

// expire ends svc's experiment at its deadline, unless another replaced it.
func (c *Chaos) expire(svc string, until time.Time) {
	c.mu.Lock()
	e, ok := c.exps[svc]
	if !ok || !e.Until.Equal(until) {
		c.mu.Unlock()
		return
	}
	c.dropLocked(svc)
	c.mu.Unlock()
	c.logEvent(context.Background(), event{"chaos.experiment_expired", e, "", ""})
}

func (c *Chaos) logEvent(ctx context.Context, ev event) {
	e := ev.e
	attrs := []slog.Attr{
		slog.String("service", e.Service), slog.Float64("error_percent", e.ErrorPercent),
		slog.Duration("latency", e.Latency), slog.Float64("latency_percent", e.LatencyPercent),
		slog.Time("until", e.Until), slog.String("node", e.Node),
	}
	if ev.by != "" {
		attrs = append(attrs, slog.String("by", ev.by))
	}
	if ev.reason != "" {
		attrs = append(attrs, slog.String("reason", ev.reason))
	}
	if ev.name != "chaos.experiment_started" {
		errs, delays := c.Injected(e.Service)
		attrs = append(attrs, slog.Uint64("injected_errors", errs), slog.Uint64("injected_delays", delays))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, ev.name, attrs...)
	if c.onEvent != nil {
		c.onEvent(ev.name, e)
	}
}

// sampled logs chaos.injected for the first injection of each kind and every
// 1000th after it: the counters (baldur_chaos_injected_total) have them all.
func (c *Chaos) sampled(service, kind string, n uint64) {
	if n != 1 && n%1000 != 0 {
		return
	}
	c.log.LogAttrs(context.Background(), slog.LevelInfo, "chaos.injected",
		slog.String("service", service), slog.String("kind", kind), slog.Uint64("count", n))
}

// sleep waits d on the clock, or until ctx is done (its error).
func (c *Chaos) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := make(chan struct{})
	t := c.clock.AfterFunc(d, func() { close(ch) })
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}
