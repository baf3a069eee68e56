package notify

import "sync/atomic"

// Outcomes and reasons of the notification counters (the metric
// baldur_notifications_total{outcome,reason}).
//
//	delivered  slack | webhook | alertmanager   a channel accepted the alert (2xx)
//	failed     slack | webhook | alertmanager   a channel refused it, or every attempt failed
//	retried    slack | webhook | alertmanager   an attempt failed and another is scheduled
//	suppressed disabled | rate_limited | cooldown | log_only
//	dropped    queue_full | closed              lost before the guards or a channel saw it
//	escalated  burst                            burst escalation raised the priority
//
// An alert is counted once per channel for delivered, failed, retried and
// a channel's own rate_limited; once for the other suppressions.
const (
	OutcomeDelivered  = "delivered"
	OutcomeFailed     = "failed"
	OutcomeRetried    = "retried"
	OutcomeSuppressed = "suppressed"
	OutcomeDropped    = "dropped"
	OutcomeEscalated  = "escalated"

	ReasonDisabled    = "disabled"
	ReasonRateLimited = "rate_limited"
	ReasonCooldown    = "cooldown"
	ReasonLogOnly     = "log_only"
	ReasonQueueFull   = "queue_full"
	ReasonClosed      = "closed"
	ReasonBurst       = "burst"
)

// Count is one counter: how many notifications ended with outcome for reason.
type Count struct {
	Outcome, Reason string
	N               uint64
}

type counterKey struct{ outcome, reason string }

// counterKeys is every (outcome, reason) pair, in the order Counts lists them.
var counterKeys = func() []counterKey {
	var ks []counterKey
	for _, o := range []string{OutcomeDelivered, OutcomeFailed, OutcomeRetried} {
		for _, ch := range Channels {
			ks = append(ks, counterKey{o, string(ch)})
		}
	}
	for _, r := range []string{ReasonDisabled, ReasonRateLimited, ReasonCooldown, ReasonLogOnly} {
		ks = append(ks, counterKey{OutcomeSuppressed, r})
	}
	return append(ks, counterKey{OutcomeDropped, ReasonQueueFull}, counterKey{OutcomeDropped, ReasonClosed},
		counterKey{OutcomeEscalated, ReasonBurst})
}()

var counterIndex = func() map[counterKey]int {
	m := make(map[counterKey]int, len(counterKeys))
	for i, k := range counterKeys {
		m[k] = i
	}
	return m
}()

type counters struct {
	n []atomic.Uint64
}

func newCounters() *counters { return &counters{n: make([]atomic.Uint64, len(counterKeys))} }

func (c *counters) add(outcome, reason string) {
	if i, ok := counterIndex[counterKey{outcome, reason}]; ok {
		c.n[i].Add(1)
	}
}

func (c *counters) get(outcome, reason string) uint64 {
	if i, ok := counterIndex[counterKey{outcome, reason}]; ok {
		return c.n[i].Load()
	}
	return 0
}

func (c *counters) all() []Count {
	out := make([]Count, len(counterKeys))
	for i, k := range counterKeys {
		out[i] = Count{Outcome: k.outcome, Reason: k.reason, N: c.n[i].Load()}
	}
	return out
}
