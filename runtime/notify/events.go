package notify

import (
	"context"
	"log/slog"
)

// Handler returns a slog.Handler that passes every record to next and
// turns the runtime's events into the built-in alerts (the rules below).
// Building the runtime's logger on it gives every component, whatever it
// logs through, its alerts without knowing about the Notifier:
//
//	event                              alert (key)                      priority  kind
//	cb.state_changed to OPEN/FORCED_OPEN breaker_open:<service>          HIGH      Begin (reminders while open)
//	cb.state_changed to (FORCED_)CLOSED breaker_open:<service>           HIGH      End (resolved)
//	store.degraded_entered              store_degraded                   HIGH      Begin
//	store.degraded_exited               store_degraded                   HIGH      End
//	control.switch_disabled             kill_switch_off                  CRITICAL  Begin
//	control.switch_enabled              kill_switch_off                  CRITICAL  End
//	control.dryrun_started              dry_run                          MEDIUM    Begin
//	control.dryrun_stopped              dry_run                          MEDIUM    End
//	dlq.entry_rejected                  dlq_overflow:<domain>            HIGH      Notify
//	dlq.entry_evicted                   dlq_evicted:<domain>             MEDIUM    Notify
//	dlq.entry_needs_review              dlq_needs_review:<domain>        MEDIUM    Notify
//
// Handle never blocks on a delivery (Notify and Begin only queue). Enabled
// reports true for every level so that the rules see events next would
// filter out; a record is passed to next only when next is enabled for it.
func (n *Notifier) Handler(next slog.Handler) slog.Handler {
	return &tap{n: n, next: next}
}

type tap struct {
	n     *Notifier
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, read by the rules too
}

func (t *tap) Enabled(context.Context, slog.Level) bool { return true }

func (t *tap) Handle(ctx context.Context, r slog.Record) error {
	if rule, ok := rules[r.Message]; ok {
		rule(ctx, t.n, t.reader(r))
	}
	if t.next.Enabled(ctx, r.Level) {
		return t.next.Handle(ctx, r)
	}
	return nil
}

func (t *tap) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &tap{n: t.n, next: t.next.WithAttrs(attrs), attrs: append(t.attrs[:len(t.attrs):len(t.attrs)], attrs...)}
}

func (t *tap) WithGroup(name string) slog.Handler {
	return &tap{n: t.n, next: t.next.WithGroup(name), attrs: t.attrs}
}

// attrs reads a record's attributes (and the handler's) by key.
type attrs func(key string) string

func (t *tap) reader(r slog.Record) attrs {
	return func(key string) string {
		v := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				v = a.Value.Resolve().String()
				return false
			}
			return true
		})
		if v == "" {
			for _, a := range t.attrs {
				if a.Key == key {
					v = a.Value.Resolve().String()
				}
			}
		}
		return v
	}
}

type rule func(ctx context.Context, n *Notifier, attr attrs)

var rules = map[string]rule{
	"cb.state_changed": func(ctx context.Context, n *Notifier, attr attrs) {
		svc, to := attr("service"), attr("to")
		switch to {
		case "OPEN", "FORCED_OPEN":
			n.Begin(ctx, Alert{Key: "breaker_open:" + svc, Priority: High, Service: svc,
				Title: "Breaker " + svc + " is " + to,
				Text:  "Calls to " + svc + " are rejected (or served by their fallbacks). Reason: " + attr("reason") + "."})
		case "CLOSED", "FORCED_CLOSED":
			n.End(ctx, Alert{Key: "breaker_open:" + svc, Priority: High, Service: svc, Title: "Breaker " + svc + " is OPEN",
				Text: "Breaker " + svc + " is " + to + " again: calls go through."})
		}
	},
	"store.degraded_entered": func(ctx context.Context, n *Notifier, attr attrs) {
		n.Begin(ctx, storeDegraded.alert("This process serves from its local store; breaker state and claims are not "+
			"shared with the fleet until Redis is back. Reason: "+attr("reason")+"."))
	},
	"store.degraded_exited": func(ctx context.Context, n *Notifier, attr attrs) {
		n.End(ctx, storeDegraded.alert("Redis answers again; the local writes were replayed (DEGRADED for "+attr("degraded_for")+")."))
	},
	"control.switch_disabled": func(ctx context.Context, n *Notifier, attr attrs) {
		n.Begin(ctx, killSwitchOff.alert("Every protected call goes straight to its service: no breaker, retry, "+
			"timeout, fallback or idempotency."+by(attr)))
	},
	"control.switch_enabled": func(ctx context.Context, n *Notifier, attr attrs) {
		n.End(ctx, killSwitchOff.alert("Kill switch back ON: calls are protected again."+by(attr)))
	},
	"control.dryrun_started": func(ctx context.Context, n *Notifier, attr attrs) {
		n.Begin(ctx, dryRun.alert("Breakers, bulkheads, retries and timeouts only record what they would have done."+by(attr)))
	},
	"control.dryrun_stopped": func(ctx context.Context, n *Notifier, attr attrs) {
		n.End(ctx, dryRun.alert("Dry-run ended: policies act again."+by(attr)))
	},
	"dlq.entry_rejected": func(ctx context.Context, n *Notifier, attr attrs) {
		d := attr("domain")
		n.Notify(ctx, Alert{Key: "dlq_overflow:" + d, Priority: High, Service: d, Title: "Dead-letter queue full for " + d,
			Text: "A failed call could not be parked, so it cannot be replayed: " + attr("reason") + "."})
	},
	"dlq.entry_evicted": func(ctx context.Context, n *Notifier, attr attrs) {
		d := attr("domain")
		n.Notify(ctx, Alert{Key: "dlq_evicted:" + d, Priority: Medium, Service: d, Title: "Dead letters evicted in " + d,
			Text: "The queue was full: an entry of " + d + "." + attr("operation") + " was dropped (" + attr("strategy") + ")."})
	},
	"dlq.entry_needs_review": func(ctx context.Context, n *Notifier, attr attrs) {
		d := attr("domain")
		n.Notify(ctx, Alert{Key: "dlq_needs_review:" + d, Priority: Medium, Service: d, Title: "Dead letters need review in " + d,
			Text: "An entry of " + d + "." + attr("operation") + " will not be replayed automatically: " + attr("reason") + "."})
	},
}

// condition is a fleet-wide condition the rules Begin and End.
type condition struct {
	key   string
	p     Priority
	title string
}

var (
	storeDegraded = condition{"store_degraded", High, "Store DEGRADED: Redis is unreachable"}
	killSwitchOff = condition{"kill_switch_off", Critical, "Kill switch OFF: calls are unprotected"}
	dryRun        = condition{"dry_run", Medium, "Dry-run started: policies record, nothing intervenes"}
)

func (c condition) alert(text string) Alert {
	return Alert{Key: c.key, Priority: c.p, Title: c.title, Text: text}
}

// by names who flipped a switch, when the event says.
func by(attr attrs) string {
	who, why := attr("who"), attr("reason")
	s := ""
	if who != "" {
		s += " By " + who + "."
	}
	if why != "" {
		s += " Reason: " + why + "."
	}
	return s
}
