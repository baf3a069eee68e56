// Package notify delivers alerts to the people who should act on them: a
// Slack incoming webhook, a generic JSON webhook, Prometheus Alertmanager and
// the log, routed by priority and kept from flooding anyone by fleet-wide
// guards (a rate limit, a cooldown per alert key, burst escalation).
//
// A Notifier never stands in the way of the code that raises an alert: Notify
// only puts the alert on a bounded queue (the oldest alert is dropped, and
// counted, when it is full) and returns; the guards, which may talk to the
// shared store, and the HTTP deliveries, with their retries, run on the
// Notifier's own goroutines. A channel that answers 500, 429 or not at all
// costs its own queue and nothing else.
//
// Routing, as in the Python Baldur: CRITICAL and HIGH go to every configured
// channel, MEDIUM and LOW to Slack only, INFO is only logged, unless
// Config.Routes says otherwise. An alert that no configured channel takes is
// logged as notify.alert_suppressed with reason log_only.
package notify

import (
	"fmt"
	"strings"
	"time"
)

// Priority ranks an alert. The zero value is INFO.
type Priority uint8

// Priorities, lowest first: burst escalation moves an alert one step up.
const (
	Info Priority = iota
	Low
	Medium
	High
	Critical
)

var priorityNames = [...]string{"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// Priorities lists every priority, lowest first.
var Priorities = []Priority{Info, Low, Medium, High, Critical}

// String returns the upper-case name, "CRITICAL".
func (p Priority) String() string {
	if int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return fmt.Sprintf("Priority(%d)", uint8(p))
}

// ParsePriority reads a priority name in any case.
func ParsePriority(s string) (Priority, error) {
	for i, n := range priorityNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("unknown priority %q: want one of CRITICAL, HIGH, MEDIUM, LOW, INFO", s)
}

// up returns the next priority, CRITICAL staying CRITICAL.
func (p Priority) up() Priority {
	if p >= Critical {
		return Critical
	}
	return p + 1
}

// Alert is one thing to tell people about.
type Alert struct {
	// Key identifies the alert for the cooldown and burst escalation: the
	// same condition raised again, by this process or another sharing the
	// store, carries the same key ("breaker_open:payments"). Default: the
	// service and the title.
	Key string
	// Priority decides the channels; the zero value is INFO.
	Priority Priority
	// Title is the one-line summary (Slack's header, Alertmanager's
	// summary). Default: the key.
	Title string
	// Text says what happened and what to do, in a few lines.
	Text string
	// Service is the protected service the alert is about, if any.
	Service string
	// Labels are extra name/value pairs passed to every channel
	// (Alertmanager labels, Slack's context line, the webhook's "labels").
	Labels map[string]string
	// At is when it happened. Default: when Notify was called.
	At time.Time
	// Resolved says that the condition is over (End raises it): the
	// Slack header says RESOLVED, the webhook's "resolved" is true and
	// Alertmanager gets an endsAt, which resolves the alert there. It has a
	// cooldown of its own, apart from the firing alert's.
	Resolved bool
	// Escalated is set by the Notifier when burst escalation raised the
	// priority: Priority is then one step above the one raised.
	Escalated bool
}

// normalise fills the defaults and copies Labels, so that the caller may
// reuse its map once Notify has returned.
func (a Alert) normalise(now time.Time) Alert {
	if a.Key == "" {
		a.Key = a.Title
		if a.Service != "" {
			a.Key = a.Service + ":" + a.Title
		}
	}
	if a.Title == "" {
		a.Title = a.Key
	}
	if a.Key == "" {
		a.Key, a.Title = "untitled", "untitled alert"
	}
	if a.Priority > Critical {
		a.Priority = Critical
	}
	if a.At.IsZero() {
		a.At = now
	}
	if len(a.Labels) > 0 {
		labels := make(map[string]string, len(a.Labels))
		for k, v := range a.Labels {
			labels[k] = v
		}
		a.Labels = labels
	}
	a.Escalated = false
	return a
}
