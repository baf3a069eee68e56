// Package watchdog watches the runtime's own background loops: each loop
// heartbeats, and one silent for longer than a few of its periods is
// reported (event, hook for metrics, a degraded health check) and restarted,
// a bounded number of times.
//
// A loop either registers a restart function of its own (Register) or lets
// the watchdog run it (Go), in which case a restart cancels the stuck run's
// context and starts a fresh one.
package watchdog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// Defaults of Options.
const (
	DefaultMultiplier    = 3
	DefaultMaxRestarts   = 3
	DefaultRestartWindow = time.Hour
	DefaultCheck         = time.Second
)

// Options configure New. The zero value reports a loop silent for 3 of its
// periods, restarts it at most 3 times an hour, and checks every second.
type Options struct {
	// Clock tells the time. Default the system clock.
	Clock clock.Clock
	// Logger receives watchdog.loop_stalled, watchdog.loop_restarted,
	// watchdog.loop_recovered and watchdog.restarts_exhausted. Default slog.Default().
	Logger *slog.Logger
	// Multiplier N: a loop is stalled once silent for more than N periods. Default 3.
	Multiplier int
	// MaxRestarts bounds the restarts of one loop within RestartWindow;
	// past it the loop stays failed (and reported) until it beats again.
	// Default 3 in an hour.
	MaxRestarts   int
	RestartWindow time.Duration
	// Check is how often the loops are looked at. Default 1s.
	Check time.Duration
	// OnEvent, when set, receives every event, outside any lock: the metrics hook.
	OnEvent func(Event)
}

// Event kinds.
const (
	KindStalled   = "stalled"
	KindRestarted = "restarted"
	KindRecovered = "recovered"
	KindExhausted = "restarts_exhausted"
)

// Loop states.
const (
	StateOK      = "ok"
	StateStalled = "stalled"
	StateFailed  = "failed" // stalled with its restarts spent (or none possible)
)

// Event is one thing the watchdog noticed or did.
type Event struct {
	Loop     string
	Kind     string
	Silent   time.Duration
	Restarts int
}

// LoopStatus is a snapshot of one loop.
type LoopStatus struct {
	Name     string        `json:"name"`
	Period   time.Duration `json:"period_ns"`
	State    string        `json:"state"`
	LastBeat time.Time     `json:"last_beat"`
	Silent   time.Duration `json:"silent_ns"`
	Restarts int           `json:"restarts"`
}

// Watchdog watches loops. Its methods are safe for concurrent use.
type Watchdog struct {
	clock    clock.Clock
	log      *slog.Logger
	n        int
	max      int
	window   time.Duration
	check    time.Duration
	onEvent  func(Event)
	base     context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	inflight sync.WaitGroup

	mu     sync.Mutex
	loops  []*loop
	closed bool
	timer  clock.Timer
}

type loop struct {
	name     string
	period   time.Duration
	restart  func()
	last     atomic.Int64 // UnixNano of the last beat
	frozen   atomic.Pointer[chan struct{}]
	state    string        // under Watchdog.mu
	grace    time.Time     // under Watchdog.mu: the last restart, from which a fresh run gets N periods
	restarts []time.Time   // under Watchdog.mu: within the window
	total    int           // under Watchdog.mu
	unfreeze chan struct{} // under Watchdog.mu: closed by a restart, releasing a frozen Beat
}

// New returns a running watchdog with no loops.
func New(opts Options) *Watchdog {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Multiplier <= 0 {
		opts.Multiplier = DefaultMultiplier
	}
	if opts.MaxRestarts <= 0 {
		opts.MaxRestarts = DefaultMaxRestarts
	}
	if opts.RestartWindow <= 0 {
		opts.RestartWindow = DefaultRestartWindow
	}
	if opts.Check <= 0 {
		opts.Check = DefaultCheck
	}
	w := &Watchdog{clock: opts.Clock, log: opts.Logger, n: opts.Multiplier, max: opts.MaxRestarts,
		window: opts.RestartWindow, check: opts.Check, onEvent: opts.OnEvent}
	w.base, w.cancel = context.WithCancel(context.Background())
	w.mu.Lock()
	w.timer = w.clock.AfterFunc(w.check, w.tick)
	w.mu.Unlock()
	return w
}

// Heartbeat is a loop's line to the watchdog.
type Heartbeat struct {
	w *Watchdog
	l *loop
}

// Beat tells the watchdog the loop is alive. It is cheap (one clock read and
// one atomic store) unless a test froze the loop (Freeze), in which case it
// blocks until the freeze is released or the watchdog restarts the loop.
func (hb *Heartbeat) Beat() {
	if hb == nil {
		return
	}
	if ch := hb.l.frozen.Load(); ch != nil {
		hb.w.mu.Lock()
		unfreeze := hb.l.unfreeze
		hb.w.mu.Unlock()
		select {
		case <-*ch:
		case <-unfreeze:
		case <-hb.w.base.Done():
		}
		return // a frozen beat is lost: the loop was not alive while frozen
	}
	hb.l.last.Store(hb.w.clock.Now().UnixNano())
}

// Stop unregisters the loop (it ended on purpose): silence is no longer a fault.
func (hb *Heartbeat) Stop() {
	if hb == nil {
		return
	}
	hb.w.mu.Lock()
	defer hb.w.mu.Unlock()
	hb.w.loops = slices.DeleteFunc(hb.w.loops, func(l *loop) bool { return l == hb.l })
}

// Register watches a loop that beats at least every period; restart, when
// not nil, is called (outside any lock) when the loop is stalled. The loop
// counts as alive from now.
func (w *Watchdog) Register(name string, period time.Duration, restart func()) (*Heartbeat, error) {
	if period <= 0 {
		return nil, fmt.Errorf("watchdog: loop %q: period %v: want a positive duration", name, period)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.loops {
		if l.name == name {
			return nil, fmt.Errorf("watchdog: loop %q is watched already", name)
		}
	}
	l := &loop{name: name, period: period, restart: restart, state: StateOK, unfreeze: make(chan struct{})}
	l.last.Store(w.clock.Now().UnixNano())
	w.loops = append(w.loops, l)
	return &Heartbeat{w: w, l: l}, nil
}

// Go runs run on a goroutine of its own, watched as loop name: run must
// call hb.Beat at least every period and return when ctx ends. A stalled run
// gets its context cancelled and a fresh run is started beside it (the stuck
// one is left to return by itself). Close cancels and waits for every run.
func (w *Watchdog) Go(name string, period time.Duration, run func(ctx context.Context, hb *Heartbeat)) error {
	var (
		mu     sync.Mutex
		cancel context.CancelFunc
		hb     *Heartbeat
	)
	start := func() {
		mu.Lock()
		defer mu.Unlock()
		if cancel != nil {
			cancel()
		}
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		w.wg.Add(1) // under mu while not closed: Close's Wait never races an Add
		w.mu.Unlock()
		var ctx context.Context
		ctx, cancel = context.WithCancel(w.base)
		go func() {
			defer w.wg.Done()
			run(ctx, hb)
		}()
	}
	var err error
	hb, err = w.Register(name, period, start)
	if err != nil {
		return err
	}
	start()
	return nil
}

// Freeze is a test hook: the loop's next Beat blocks, as if the loop hung,
// until release is called or the watchdog restarts the loop.
func (w *Watchdog) Freeze(name string) (release func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.loops {
		if l.name == name {
			ch := make(chan struct{})
			l.frozen.Store(&ch)
			var once sync.Once
			return func() {
				once.Do(func() {
					l.frozen.CompareAndSwap(&ch, nil)
					close(ch)
				})
			}
		}
	}
	return func() {}
}

func (w *Watchdog) tick() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	defer w.inflight.Done()
	w.Check()
	w.mu.Lock()
	if !w.closed {
		w.timer = w.clock.AfterFunc(w.check, w.tick)
	}
	w.mu.Unlock()
}

// Check looks at every loop now (the watchdog also does it every Options.Check).
func (w *Watchdog) Check() {
	now := w.clock.Now()
	var (
		events   []Event
		restarts []func()
	)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	for _, l := range w.loops {
		limit := time.Duration(w.n) * l.period
		silent := now.Sub(time.Unix(0, l.last.Load()))
		if silent <= limit {
			if l.state != StateOK {
				l.state = StateOK
				events = append(events, Event{Loop: l.name, Kind: KindRecovered, Restarts: l.total})
			}
			continue
		}
		if now.Sub(l.grace) <= limit {
			continue // restarted: the fresh run has N periods to beat
		}
		if l.state == StateOK {
			l.state = StateStalled
			events = append(events, Event{Loop: l.name, Kind: KindStalled, Silent: silent, Restarts: l.total})
		}
		if l.state == StateFailed {
			continue
		}
		l.restarts = slices.DeleteFunc(l.restarts, func(t time.Time) bool { return now.Sub(t) >= w.window })
		if l.restart == nil || len(l.restarts) >= w.max {
			l.state = StateFailed
			events = append(events, Event{Loop: l.name, Kind: KindExhausted, Silent: silent, Restarts: l.total})
			continue
		}
		l.restarts = append(l.restarts, now)
		l.total++
		l.grace = now
		close(l.unfreeze)
		l.unfreeze = make(chan struct{})
		l.frozen.Store(nil)
		restarts = append(restarts, l.restart)
		events = append(events, Event{Loop: l.name, Kind: KindRestarted, Silent: silent, Restarts: l.total})
	}
	w.mu.Unlock()
	for _, e := range events {
		w.emit(e)
	}
	for _, r := range restarts {
		r()
	}
}

func (w *Watchdog) emit(e Event) {
	attrs := []slog.Attr{slog.String("loop", e.Loop), slog.Int("restarts", e.Restarts)}
	if e.Silent > 0 {
		attrs = append(attrs, slog.Duration("silent", e.Silent))
	}
	switch e.Kind {
	case KindStalled:
		w.log.LogAttrs(w.base, slog.LevelError, "watchdog.loop_stalled", attrs...)
	case KindRestarted:
		w.log.LogAttrs(w.base, slog.LevelWarn, "watchdog.loop_restarted", attrs...)
	case KindRecovered:
		w.log.LogAttrs(w.base, slog.LevelInfo, "watchdog.loop_recovered", attrs...)
	case KindExhausted:
		w.log.LogAttrs(w.base, slog.LevelError, "watchdog.restarts_exhausted", attrs...)
	}
	if w.onEvent != nil {
		w.onEvent(e)
	}
}

// Status returns every loop's status, in registration order.
func (w *Watchdog) Status() []LoopStatus {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]LoopStatus, 0, len(w.loops))
	for _, l := range w.loops {
		last := time.Unix(0, l.last.Load())
		out = append(out, LoopStatus{Name: l.name, Period: l.period, State: l.state, LastBeat: last,
			Silent: now.Sub(last), Restarts: l.total})
	}
	return out
}

// Health reports whether every loop is alive; when not, detail names the
// stalled and failed loops: the runtime's "watchdog" health check (degraded).
func (w *Watchdog) Health() (ok bool, detail string) {
	var bad []string
	for _, s := range w.Status() {
		if s.State != StateOK {
			bad = append(bad, s.Name+" "+s.State)
		}
	}
	if len(bad) == 0 {
		return true, "all loops beating"
	}
	return false, strings.Join(bad, ", ")
}

// Close stops watching, cancels the runs started by Go and waits for them.
// Close is idempotent.
func (w *Watchdog) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		if w.timer != nil {
			w.timer.Stop()
		}
	}
	w.mu.Unlock()
	w.cancel()
	w.inflight.Wait()
	w.wg.Wait()
}
