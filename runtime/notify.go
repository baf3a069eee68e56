package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/baldur-go/baldur/runtime/notify"
)

// Notify raises an alert of the application's own through the runtime's
// notifier (README, Alerts): routed by priority, kept from flooding by the
// fleet-wide guards, delivered on the notifier's goroutines. It never blocks
// and never fails; a nil runtime drops it.
func (rt *Runtime) Notify(ctx context.Context, a notify.Alert) {
	if rt == nil {
		return
	}
	rt.notifier.Notify(ctx, a)
}

// Notifier returns the runtime's notifier, for the daily report, the
// metrics and lasting conditions of the application's own (Begin, End).
func (rt *Runtime) Notifier() *notify.Notifier { return rt.notifier }

// openNotifier builds the notifier before the store, so that the store's
// own events (DEGRADED at start) raise alerts, and wraps the runtime's
// logger so that every component's events reach the built-in rules; the
// notifier logs through the logger as given (its own events raise nothing).
func (rt *Runtime) openNotifier() error {
	cfg := rt.cfg.Notify
	cfg.Store = nil // handed over (SetStore) once the store is open
	if cfg.Clock == nil {
		cfg.Clock = rt.clock
	}
	if cfg.Logger == nil {
		cfg.Logger = rt.log
	}
	if cfg.Source == "" {
		cfg.Source = rt.node
	}
	if cfg.Beat == nil {
		cfg.Beat = rt.beats.notify.Beat
		cfg.BeatEvery = rt.cfg.loopBeat
	}
	n, err := notify.New(cfg)
	if err != nil {
		return fmt.Errorf("baldur: config: %w", err)
	}
	rt.notifier = n
	rt.log = slog.New(n.Handler(rt.log.Handler()))
	return nil
}

// idemAlertEvery bounds how often one service's fail-closed refusals raise
// an alert from this process: a refusal is per call, the alert per outage.
const idemAlertEvery = 10 * time.Second

// idemUnavailable raises idem_unavailable:<service> (HIGH) when an
// idempotent method refuses a call because the idempotency store is
// unreachable, at most once per idemAlertEvery per method from this
// process (the notifier's cooldown then keeps the fleet to one).
func (z *Zone) idemUnavailable(ctx context.Context, err error) {
	now := z.rt.clock.Now().UnixNano()
	last := z.idem.alerted.Load()
	if last != 0 && now-last < int64(idemAlertEvery) || !z.idem.alerted.CompareAndSwap(last, now) {
		return
	}
	svc := z.spec.Service
	z.rt.notifier.Notify(ctx, notify.Alert{Key: "idem_unavailable:" + svc, Priority: notify.High, Service: svc,
		Title: "Idempotency store unavailable: " + svc + " refuses calls",
		Text:  z.spec.Method + " fails closed (ErrIdempotencyUnavailable) rather than risk a duplicate: " + err.Error()})
}
