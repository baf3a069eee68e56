package notify

import (
	"context"
	"log/slog"
	"math/bits"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/store"
)

// Notifier routes, guards and delivers alerts. Its methods are safe for
// concurrent use; a nil *Notifier drops every alert silently.
type Notifier struct {
	cfg    resolved
	log    *slog.Logger
	guards guards
	counts *counters
	owner  string // the value of this process's cooldown claims

	in      *queue
	outlets map[Channel]*outlet

	ctx       context.Context // cancelled when the drain is over
	cancel    context.CancelFunc
	stopIn    chan struct{} // Close: the guard worker finishes its queue and returns
	stopOut   chan struct{} // then the outlets send what they hold, without retries
	closed    atomic.Bool
	closeOnce sync.Once
	outWG     sync.WaitGroup

	// The guards' loop, restartable (Restart): the run in force, its
	// cancellation and the signal that ends it; guardWG counts the runs and
	// a restart in progress, so Close waits for all of them.
	guardMu      sync.Mutex
	guardCancel  context.CancelFunc
	guardStop    chan struct{} // closed by Restart: the run returns, leaving the queue to the next
	guardDone    chan struct{} // closed when the run has returned
	guardRestart bool
	guardWG      sync.WaitGroup
	ownClient    *http.Client

	lastMu  sync.Mutex // guards lasting; nothing but the map and timers under it
	lasting map[string]*ongoing

	dropped     atomic.Uint64
	storeFailed atomic.Uint64

	changeMu sync.Mutex
	changed  chan struct{} // closed and replaced at each counted outcome
}

type outlet struct {
	*sender
	q *queue
}

// New starts a Notifier: one goroutine for the guards and one per
// configured channel. A malformed URL is an error naming the Config field
// and showing only the URL's scheme and host. Close stops it.
func New(cfg Config) (*Notifier, error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		cfg: rc, log: rc.Logger, counts: newCounters(), owner: rc.Source,
		in: newQueue(rc.QueueSize), outlets: map[Channel]*outlet{},
		ctx: ctx, cancel: cancel, stopIn: make(chan struct{}), stopOut: make(chan struct{}),
		changed: make(chan struct{}), lasting: map[string]*ongoing{},
	}
	if n.owner == "" {
		n.owner = "baldur"
	}
	n.guards = guards{cfg: &n.cfg, local: store.NewMemoryWith(store.MemoryOptions{Clock: rc.Clock}), fellBack: n.storeFailure}
	n.SetStore(rc.Store)
	client := rc.HTTPClient
	if client == nil {
		client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect would carry the alert to a host nobody configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		n.ownClient = client
	}
	for _, ch := range Channels {
		if u, ok := rc.endpoints[ch]; ok {
			n.outlets[ch] = &outlet{sender: newSender(ch, u, client), q: newQueue(rc.QueueSize)}
		}
	}
	n.guardMu.Lock()
	n.startGuardLocked()
	n.guardMu.Unlock()
	for _, o := range n.outlets {
		n.outWG.Add(1)
		go n.outletLoop(o)
	}
	return n, nil
}

// Notify raises an alert. It never blocks on the network or the store and
// never fails: the alert is queued (dropping the oldest queued alert when
// the queue is full) and everything else happens on the Notifier's own
// goroutines. ctx is not used for the delivery, which outlives the call.
func (n *Notifier) Notify(_ context.Context, a Alert) {
	if n == nil {
		return
	}
	a = a.normalise(n.cfg.Clock.Now())
	if n.cfg.Disabled {
		n.suppress(a, ReasonDisabled, "")
		return
	}
	if n.closed.Load() {
		n.count(OutcomeDropped, ReasonClosed)
		return
	}
	evicted, accepted := n.in.push(a)
	switch {
	case !accepted:
		n.count(OutcomeDropped, ReasonClosed)
	case evicted:
		n.drop("")
	}
}

// SetStore makes st hold the guards' state from now on (nil: this
// process's memory). A runtime builds its Notifier before its store, so
// that the store's own events (DEGRADED at start) raise alerts, and hands
// the store over once it is open.
func (n *Notifier) SetStore(st store.Store) {
	if n == nil {
		return
	}
	if st == nil {
		n.guards.shared.Store(nil)
		return
	}
	n.guards.shared.Store(&st)
}

// Counts returns every counter, zeros included, in a fixed order.
func (n *Notifier) Counts() []Count {
	if n == nil {
		return newCounters().all()
	}
	return n.counts.all()
}

// Count returns one counter.
func (n *Notifier) Count(outcome, reason string) uint64 {
	if n == nil {
		return 0
	}
	return n.counts.get(outcome, reason)
}

// Channels returns the configured channels.
func (n *Notifier) Channels() []Channel {
	var out []Channel
	if n == nil {
		return out
	}
	for _, ch := range Channels {
		if _, ok := n.outlets[ch]; ok {
			out = append(out, ch)
		}
	}
	return out
}

// Close stops accepting alerts, lets the queued ones go out (one attempt
// each) for at most Config.DrainTimeout, then cancels what is in flight and
// counts what is left as dropped (reason closed). Every goroutine the
// Notifier started has returned when Close returns. Close is idempotent.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		n.stopReminders()
		var drain *time.Timer
		if n.cfg.DrainTimeout > 0 {
			drain = time.AfterFunc(n.cfg.DrainTimeout, n.cancel)
		} else {
			n.cancel()
		}
		n.guardMu.Lock()
		close(n.stopIn) // under guardMu: a restart after it starts no run
		n.guardMu.Unlock()
		n.guardWG.Wait()
		close(n.stopOut)
		n.outWG.Wait()
		if drain != nil {
			drain.Stop()
		}
		n.cancel()
		left := n.in.close()
		for _, o := range n.outlets {
			left += o.q.close()
		}
		for range left {
			n.count(OutcomeDropped, ReasonClosed)
		}
		if n.ownClient != nil {
			n.ownClient.CloseIdleConnections()
		}
		_ = n.guards.local.Close()
	})
	return nil
}

// BeatEvery is how often the idle guards' loop calls Config.Beat.
const BeatEvery = 5 * time.Second

// startGuardLocked starts a run of the guards' loop; guardMu is held.
func (n *Notifier) startGuardLocked() {
	// The run's store calls end when the drain is over (n.ctx) or when
	// Restart gives up on the run.
	ctx, cancel := context.WithCancel(context.Background())
	unhook := context.AfterFunc(n.ctx, cancel)
	stop, done := make(chan struct{}), make(chan struct{})
	n.guardCancel, n.guardStop, n.guardDone = cancel, stop, done
	n.guardWG.Add(1)
	go func() {
		defer n.guardWG.Done()
		defer close(done)
		defer unhook()
		defer cancel()
		n.guardLoop(ctx, stop)
	}()
}

// Restart gives up on the guards' loop in force (the watchdog calls it when
// the loop has gone silent, as when a store call hangs): its store calls
// are cancelled, and once it has returned another run starts with the
// queue as it is. Two runs never overlap; after Close it does nothing.
func (n *Notifier) Restart() {
	if n == nil {
		return
	}
	n.guardMu.Lock()
	defer n.guardMu.Unlock()
	if n.guardRestart || n.closed.Load() {
		return
	}
	n.guardRestart = true
	cancel, stop, done := n.guardCancel, n.guardStop, n.guardDone
	close(stop)
	cancel()
	n.guardWG.Add(1) // the run in force still counts: Close cannot be past its Wait
	go func() {
		defer n.guardWG.Done()
		<-done
		n.guardMu.Lock()
		defer n.guardMu.Unlock()
		n.guardRestart = false
		select {
		case <-n.stopIn: // closing: the run that returned was the last
			return
		default:
		}
		n.startGuardLocked()
		n.log.Info("notify.guards_restarted")
	}()
}

func (n *Notifier) guardLoop(ctx context.Context, restart <-chan struct{}) {
	var beatC <-chan time.Time
	if n.cfg.Beat != nil {
		tk := time.NewTicker(n.cfg.BeatEvery) // the watchdog's sense of time is the wall clock
		defer tk.Stop()
		beatC = tk.C
	}
	for {
		if n.cfg.Beat != nil {
			n.cfg.Beat()
		}
		select {
		case <-restart:
			return
		default:
		}
		if a, ok := n.in.pop(); ok {
			n.process(ctx, a)
			continue
		}
		select {
		case <-beatC:
		case <-n.in.wake:
		case <-restart:
			return
		case <-n.stopIn:
			for a, ok := n.in.pop(); ok; a, ok = n.in.pop() {
				n.process(ctx, a)
			}
			return
		}
	}
}

// process applies the guards in order: burst escalation (every raise
// counts), the cooldown, the route (no channel: log only), the overall
// budget, each channel's budget; then queues the alert on its channels.
func (n *Notifier) process(ctx context.Context, a Alert) {
	now := n.cfg.Clock.Now()
	if a.Priority < Critical && n.guards.escalate(ctx, a.Key, now) {
		from := a.Priority
		a.Priority, a.Escalated = a.Priority.up(), true
		n.log.Info("notify.alert_escalated", "key", a.Key, "from", from.String(), "to", a.Priority.String(),
			"threshold", n.cfg.BurstThreshold, "window", n.cfg.BurstWindow.String())
		n.count(OutcomeEscalated, ReasonBurst)
	}
	if n.guards.cooldown(ctx, a, n.owner) {
		n.suppress(a, ReasonCooldown, "")
		return
	}
	route := n.cfg.routes[a.Priority]
	if len(route) == 0 {
		n.suppress(a, ReasonLogOnly, "")
		return
	}
	if !n.guards.admit(ctx, "all", n.cfg.PerMinute, n.cfg.PerHour, now) {
		n.suppress(a, ReasonRateLimited, "")
		return
	}
	for _, ch := range route {
		if !n.guards.admit(ctx, string(ch), n.cfg.ChannelPerMinute, n.cfg.ChannelPerHour, now) {
			n.suppress(a, ReasonRateLimited, ch)
			continue
		}
		evicted, accepted := n.outlets[ch].q.push(a)
		switch {
		case !accepted:
			n.count(OutcomeDropped, ReasonClosed)
		case evicted:
			n.drop(ch)
		}
	}
}

func (n *Notifier) outletLoop(o *outlet) {
	defer n.outWG.Done()
	for {
		if a, ok := o.q.pop(); ok {
			n.deliver(o, a)
			continue
		}
		select {
		case <-o.q.wake:
		case <-n.stopOut:
			for a, ok := o.q.pop(); ok; a, ok = o.q.pop() {
				n.deliver(o, a)
			}
			return
		}
	}
}

// deliver sends a to o's endpoint, retrying on 5xx, 408, 429, timeouts and
// network errors with Config.Backoff, or the server's Retry-After.
func (n *Notifier) deliver(o *outlet, a Alert) {
	body, err := o.encode(a, n.cfg.Source)
	if err != nil {
		n.log.Warn("notify.delivery_failed", "channel", string(o.ch), "endpoint", o.shown, "key", a.Key,
			"error", "cannot encode the alert: "+err.Error())
		n.count(OutcomeFailed, string(o.ch))
		return
	}
	for attempt := 1; ; attempt++ {
		if n.ctx.Err() != nil {
			n.count(OutcomeDropped, ReasonClosed)
			return
		}
		r := o.send(n.ctx, body, n.cfg.Timeout, n.cfg.Clock.Now())
		if r.ok {
			n.log.Debug("notify.alert_delivered", "channel", string(o.ch), "key", a.Key,
				"priority", a.Priority.String(), "attempts", attempt)
			n.count(OutcomeDelivered, string(o.ch))
			return
		}
		if n.ctx.Err() != nil {
			n.count(OutcomeDropped, ReasonClosed)
			return
		}
		if !r.retry || attempt >= n.cfg.MaxAttempts || n.stopping() {
			n.log.Warn("notify.delivery_failed", "channel", string(o.ch), "endpoint", o.shown, "key", a.Key,
				"priority", a.Priority.String(), "status", r.status, "error", r.err.Error(), "attempts", attempt)
			n.count(OutcomeFailed, string(o.ch))
			return
		}
		wait := n.cfg.Backoff(attempt)
		if r.retryAfter > 0 {
			wait = r.retryAfter
		}
		due := make(chan struct{})
		t := n.cfg.Clock.AfterFunc(wait, func() { close(due) })
		n.log.Debug("notify.delivery_retried", "channel", string(o.ch), "endpoint", o.shown, "key", a.Key,
			"status", r.status, "error", r.err.Error(), "attempt", attempt, "wait", wait.String())
		n.count(OutcomeRetried, string(o.ch)) // after arming: a test that saw it may move a fake clock
		select {
		case <-due:
		case <-n.stopOut:
			t.Stop()
			n.count(OutcomeDropped, ReasonClosed)
			return
		}
	}
}

func (n *Notifier) stopping() bool {
	select {
	case <-n.stopOut:
		return true
	default:
		return false
	}
}

// suppress counts and logs an alert that is not sent (to ch, when a
// channel's own budget refused it).
func (n *Notifier) suppress(a Alert, reason string, ch Channel) {
	n.count(OutcomeSuppressed, reason)
	level := slog.LevelDebug
	switch reason {
	case ReasonRateLimited:
		level = slog.LevelWarn
	case ReasonLogOnly:
		level = slog.LevelInfo
		if a.Priority == High {
			level = slog.LevelWarn
		} else if a.Priority == Critical {
			level = slog.LevelError
		}
	}
	attrs := []slog.Attr{slog.String("reason", reason), slog.String("key", a.Key),
		slog.String("priority", a.Priority.String()), slog.String("title", a.Title)}
	if ch != "" {
		attrs = append(attrs, slog.String("channel", string(ch)))
	}
	if a.Service != "" {
		attrs = append(attrs, slog.String("service", a.Service))
	}
	if reason == ReasonLogOnly || reason == ReasonDisabled {
		if a.Text != "" {
			attrs = append(attrs, slog.String("text", a.Text))
		}
		for _, k := range sortedKeys(a.Labels) {
			attrs = append(attrs, slog.String("label."+k, a.Labels[k]))
		}
	}
	n.log.LogAttrs(context.Background(), level, "notify.alert_suppressed", attrs...)
}

// drop counts an alert evicted from a full queue (ch "" is the guards'
// queue) and logs the 1st, 2nd, 4th, 8th… drop, so that a flood of alerts
// does not become a flood of log lines.
func (n *Notifier) drop(ch Channel) {
	n.count(OutcomeDropped, ReasonQueueFull)
	if d := n.dropped.Add(1); bits.OnesCount64(d) == 1 {
		queue := string(ch)
		if queue == "" {
			queue = "guards"
		}
		n.log.Warn("notify.alert_dropped", "reason", ReasonQueueFull, "queue", queue, "dropped_total", d,
			"queue_size", n.cfg.QueueSize)
	}
}

func (n *Notifier) storeFailure(op string, err error) {
	if d := n.storeFailed.Add(1); bits.OnesCount64(d) == 1 {
		n.log.Warn("notify.store_failed", "op", op, "error", err.Error(), "failures_total", d,
			"effect", "the guards use this process's memory until the store answers")
	}
}

func (n *Notifier) count(outcome, reason string) {
	n.counts.add(outcome, reason)
	n.changeMu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.changeMu.Unlock()
}

// changes returns a channel closed at the next counted outcome.
func (n *Notifier) changes() <-chan struct{} {
	n.changeMu.Lock()
	defer n.changeMu.Unlock()
	return n.changed
}
