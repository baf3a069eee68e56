package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status is what an operator sees of the Notifier: its channels (the
// endpoint as scheme and host only), routes, guards, counters and the
// lasting conditions under way in this process.
type Status struct {
	Enabled bool
	Source  string
	// Channels lists the configured channels, in the order of Channels.
	Channels []ChannelStatus
	// Routes gives each priority's channels, INFO first (none: logged only).
	Routes []Route
	// Guards: 0 means off (a negative Config value).
	Cooldown         time.Duration
	PerMinute        int
	PerHour          int
	ChannelPerMinute int
	ChannelPerHour   int
	BurstThreshold   int
	BurstWindow      time.Duration
	RemindAfter      time.Duration
	// Queued is how many alerts wait for the guards.
	Queued int
	// Counts is every counter, in the order Counts lists them.
	Counts []Count
	// Lasting is every condition begun and not ended in this process,
	// oldest first.
	Lasting []Lasting
}

// ChannelStatus is one configured channel.
type ChannelStatus struct {
	Name Channel
	// Endpoint is the URL's scheme and host: the rest is a secret.
	Endpoint string
	// Priorities routed to the channel, lowest first.
	Priorities []string
	// Queued is how many alerts wait for delivery.
	Queued                     int
	Delivered, Failed, Retried uint64
}

// Route is one priority's channels.
type Route struct {
	Priority string
	Channels []Channel
}

// Lasting is one condition between Begin and End.
type Lasting struct {
	Key       string
	Priority  string
	Title     string
	Service   string
	Since     time.Time
	Reminders int
}

// Status returns the Notifier's state. It reads only this process's memory.
func (n *Notifier) Status() Status {
	if n == nil {
		return Status{Counts: newCounters().all()}
	}
	off := func(v int) int { return max(v, 0) }
	offD := func(d time.Duration) time.Duration { return max(d, 0) }
	s := Status{Enabled: !n.cfg.Disabled, Source: n.cfg.Source, Cooldown: offD(n.cfg.Cooldown),
		PerMinute: off(n.cfg.PerMinute), PerHour: off(n.cfg.PerHour),
		ChannelPerMinute: off(n.cfg.ChannelPerMinute), ChannelPerHour: off(n.cfg.ChannelPerHour),
		BurstThreshold: off(n.cfg.BurstThreshold), BurstWindow: offD(n.cfg.BurstWindow),
		RemindAfter: offD(n.cfg.RemindAfter), Queued: n.in.len(), Counts: n.Counts()}
	for _, p := range Priorities {
		s.Routes = append(s.Routes, Route{Priority: p.String(), Channels: slices.Clone(n.cfg.routes[p])})
	}
	for _, ch := range n.Channels() {
		o := n.outlets[ch]
		cs := ChannelStatus{Name: ch, Endpoint: o.shown, Queued: o.q.len(),
			Delivered: n.Count(OutcomeDelivered, string(ch)), Failed: n.Count(OutcomeFailed, string(ch)),
			Retried: n.Count(OutcomeRetried, string(ch))}
		for _, p := range Priorities {
			if containsChannel(n.cfg.routes[p], ch) {
				cs.Priorities = append(cs.Priorities, p.String())
			}
		}
		s.Channels = append(s.Channels, cs)
	}
	n.lastMu.Lock()
	for _, o := range n.lasting {
		s.Lasting = append(s.Lasting, Lasting{Key: o.alert.Key, Priority: o.alert.Priority.String(),
			Title: o.alert.Title, Service: o.alert.Service, Since: o.alert.At, Reminders: o.reminders})
	}
	n.lastMu.Unlock()
	slices.SortFunc(s.Lasting, func(a, b Lasting) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return s
}

// TestKey is the key of the alerts Test sends.
const TestKey = "notify_test"

// TestResult is one channel's answer to a test alert.
type TestResult struct {
	Channel  Channel
	Endpoint string // scheme and host only
	OK       bool
	Status   int    // the HTTP status, 0 when no answer came
	Error    string // never holds the URL
	Took     time.Duration
}

// ErrNoChannel is Test's error when no channel is configured.
var ErrNoChannel = errors.New("no alert channel is configured (BALDUR_NOTIFY_SLACK_WEBHOOK_URL, BALDUR_NOTIFY_WEBHOOK_URL, BALDUR_NOTIFY_ALERTMANAGER_URL)")

// ErrDisabled is Test's error while alerts are disabled.
var ErrDisabled = errors.New("alerts are disabled (BALDUR_NOTIFY_ENABLED=false)")

// Test sends one test alert (key TestKey, priority LOW) to channel ch, or to
// every configured channel when ch is "", and waits for each answer: one
// attempt per channel, bounded by Config.Timeout, past the guards (a test
// is not held by a cooldown or a budget, and does not spend them). Each
// delivery is counted as any other (delivered or failed). by and reason are
// put in the alert's text. The channels are tried one after another, on the
// caller's goroutine; ctx bounds the whole.
func (n *Notifier) Test(ctx context.Context, ch Channel, by, reason string) ([]TestResult, error) {
	if n == nil || len(n.outlets) == 0 {
		return nil, ErrNoChannel
	}
	if n.cfg.Disabled {
		return nil, ErrDisabled
	}
	if n.closed.Load() {
		return nil, errors.New("the notifier is closed")
	}
	targets := n.Channels()
	if ch != "" {
		if _, ok := n.outlets[ch]; !ok {
			names := make([]string, len(targets))
			for i, c := range targets {
				names[i] = string(c)
			}
			return nil, fmt.Errorf("channel %q is not configured: configured are %s", ch, strings.Join(names, ", "))
		}
		targets = []Channel{ch}
	}
	text := "A test alert, sent through the admin server by " + by + "; nothing is wrong."
	if reason != "" {
		text += " Reason: " + reason
	}
	a := Alert{Key: TestKey, Priority: Low, Title: "Test alert from " + n.owner, Text: text,
		Labels: map[string]string{"test": "true"}}.normalise(n.cfg.Clock.Now())
	out := make([]TestResult, 0, len(targets))
	for _, c := range targets {
		o := n.outlets[c]
		tr := TestResult{Channel: c, Endpoint: o.shown}
		body, err := o.encode(a, n.cfg.Source)
		if err != nil {
			tr.Error = "cannot encode the alert: " + err.Error()
			out = append(out, tr)
			continue
		}
		start := time.Now()
		r := o.send(ctx, body, n.cfg.Timeout, n.cfg.Clock.Now())
		tr.Took = time.Since(start)
		tr.OK, tr.Status = r.ok, r.status
		if r.err != nil {
			tr.Error = r.err.Error()
		}
		outcome := OutcomeDelivered
		if !r.ok {
			outcome = OutcomeFailed
			n.log.Warn("notify.test_failed", "channel", string(c), "endpoint", o.shown, "status", r.status, "error", tr.Error)
		} else {
			n.log.Info("notify.test_delivered", "channel", string(c), "by", by)
		}
		n.count(outcome, string(c))
		out = append(out, tr)
	}
	return out, nil
}
