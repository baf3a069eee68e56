package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// OperatorRuntime is the Operator of the records of automated actions.
const OperatorRuntime = "runtime"

// automatedRule turns one log event into a record of an automated action:
// the runtime's own events are the one place every such action is already
// named, so watching them audits actions added later without new code here.
type automatedRule struct {
	action string
	// suffix, when set, adds ".<what it returns>" to action.
	suffix func(a attrs) string
	// keep, when set, decides whether this occurrence is an action.
	keep func(a attrs) bool
	// target, reason and detail read the record's fields from the event.
	target, reason func(a attrs) string
	detail         func(a attrs) string
}

type attrs map[string]string

func attr(name string) func(attrs) string { return func(a attrs) string { return a[name] } }

func fixed(s string) func(attrs) string { return func(attrs) string { return s } }

// automated lists the events that are automated actions changing behaviour.
var automated = map[string]automatedRule{
	"cb.state_changed": {action: "breaker.state_changed", target: attr("service"), reason: attr("reason"),
		// A transition adopted from another process is that process's
		// record, and one an admin request caused (its reason ends "(by
		// WHO)") is that request's.
		keep: func(a attrs) bool {
			r := a["reason"]
			return !strings.HasPrefix(r, "remote") && !(strings.Contains(r, " (by ") && strings.HasSuffix(r, ")"))
		},
		detail: func(a attrs) string { return a["from"] + " -> " + a["to"] }},
	"store.degraded_entered": {action: "store.degraded_entered", target: fixed("store"), reason: attr("reason")},
	"store.degraded_exited": {action: "store.degraded_exited", target: fixed("store"),
		detail: func(a attrs) string {
			return fmt.Sprintf("degraded for %s, %s writes replayed, %s conflicts", a["degraded_for"], a["replayed"], a["conflicts"])
		}},
	// Automatic changes of the emergency level: logged by the process that
	// wrote them, once for the fleet.
	"emergency.auto_changed": {action: "emergency.auto", suffix: attr("action"), target: attr("to"), reason: attr("reason"),
		detail: func(a attrs) string { return a["from"] + " -> " + a["to"] }},
	"dlq.entry_needs_review": {action: "dlq.entry_needs_review", reason: attr("reason"),
		target: func(a attrs) string { return a["domain"] + "/" + a["id"] }},
	"dlq.batch_finished": {action: "dlq.sweep", target: attr("domain"),
		keep: func(a attrs) bool { return a["automatic"] == "true" }, // an operator's batch has its own record
		detail: func(a attrs) string {
			return fmt.Sprintf("replayed %s, resolved %s, needs_review %s", a["replayed"], a["resolved"], a["needs_review"])
		}},
	// Policy overrides and canaries changed through the Go API (a canary
	// controller, your code); the admin server's own records its routes'.
	"policy.override_set":    policyRule("policy.override_set"),
	"policy.override_unset":  policyRule("policy.override_unset"),
	"policy.canary_staged":   policyRule("policy.canary_staged"),
	"policy.canary_promoted": policyRule("policy.canary_promoted"),
	"policy.canary_cleared":  policyRule("policy.canary_cleared"),
}

func policyRule(action string) automatedRule {
	return automatedRule{action: action, target: attr("scope"), reason: attr("reason"),
		keep: func(a attrs) bool { return a["audited"] != "true" },
		detail: func(a attrs) string {
			d := "by " + a["by"]
			if v := a["values"]; v != "" {
				d = v + " " + d
			}
			if p := a["permille"]; p != "" {
				d += ", " + p + " permille"
			}
			if id := a["id"]; id != "" {
				d += ", canary " + id
			}
			if r := a["rollout"]; r != "" && r != a["id"] {
				d += " of rollout " + r
			}
			return d
		}}
}

// Handler returns a slog.Handler that passes every record to next and,
// for the runtime's events that are automated actions (breaker
// transitions, DEGRADED entered and left, automatic DLQ sweeps, entries
// sent to needs_review), queues a record of the action. It never blocks the
// caller: records are written by the trail's own goroutine, and a full
// queue drops the record (counted in Stats.Lost). A nil trail returns next.
func (t *Trail) Handler(next slog.Handler) slog.Handler {
	if t == nil {
		return next
	}
	tap := &tap{}
	tap.trail.Store(t)
	return &eventHandler{tap: tap, next: next}
}

// NewTap returns Handler's handler before the trail exists: the runtime's
// logger must be in place before its store opens, and the trail lives in
// that store. Actions seen before attach is called (the store going
// DEGRADED at start) are kept, up to queueSize, and handed over by attach.
func NewTap(next slog.Handler) (h slog.Handler, attach func(*Trail)) {
	tap := &tap{}
	return &eventHandler{tap: tap, next: next}, tap.attach
}

// tap is what every handler derived from one Handler or NewTap shares.
type tap struct {
	trail atomic.Pointer[Trail]
	mu    sync.Mutex
	early []Record // seen before attach
}

func (p *tap) attach(t *Trail) {
	p.mu.Lock()
	early := p.early
	p.early = nil
	p.trail.Store(t) // under mu: send sees either the trail or the slice
	p.mu.Unlock()
	for _, r := range early {
		t.enqueue(r)
	}
}

func (p *tap) send(r Record) {
	if t := p.trail.Load(); t != nil {
		t.enqueue(r)
		return
	}
	p.mu.Lock()
	if t := p.trail.Load(); t == nil {
		if len(p.early) < queueSize {
			p.early = append(p.early, r)
		}
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.trail.Load().enqueue(r)
}

type eventHandler struct {
	tap  *tap
	next slog.Handler
}

// Enabled is true from INFO up whatever the log's level (an action logged
// at INFO is still an action when the log shows only warnings); below INFO,
// where no watched event is logged, it is the log's own answer, so that DEBUG
// calls stay as cheap as they were.
func (h *eventHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *eventHandler) Handle(ctx context.Context, r slog.Record) error {
	if rule, ok := automated[r.Message]; ok {
		h.observe(rule, r)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *eventHandler) observe(rule automatedRule, r slog.Record) {
	a := attrs{}
	r.Attrs(func(at slog.Attr) bool {
		a[at.Key] = at.Value.Resolve().String()
		return true
	})
	if rule.keep != nil && !rule.keep(a) {
		return
	}
	rec := Record{Time: r.Time, Actor: Actor{Operator: OperatorRuntime}, Action: rule.action}
	if rule.suffix != nil {
		rec.Action += "." + rule.suffix(a)
	}
	if rule.target != nil {
		rec.Target = rule.target(a)
	}
	if rule.reason != nil {
		rec.Reason = rule.reason(a)
	}
	if rule.detail != nil {
		rec.Detail = rule.detail(a)
	}
	h.tap.send(rec)
}

func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &eventHandler{tap: h.tap, next: h.next.WithAttrs(as)}
}

func (h *eventHandler) WithGroup(name string) slog.Handler {
	return &eventHandler{tap: h.tap, next: h.next.WithGroup(name)}
}
