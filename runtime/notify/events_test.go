package notify

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/logtest"
)

// TestRuntimeEventsRaiseTheBuiltInAlerts logs each event the runtime's
// components log through a logger built on Handler and reads what the
// webhook received.
func TestRuntimeEventsRaiseTheBuiltInAlerts(t *testing.T) {
	t.Parallel()
	everything := map[Priority][]Channel{}
	for _, p := range Priorities {
		everything[p] = []Channel{Webhook}
	}
	cases := []struct {
		event     string
		args      []any
		key, prio string
		resolved  bool
		title     string
	}{
		{"cb.state_changed", []any{"service", "payments", "from", "CLOSED", "to", "OPEN", "reason", "5 failures"},
			"breaker_open:payments", "HIGH", false, "Breaker payments is OPEN"},
		{"cb.state_changed", []any{"service", "payments", "from", "HALF_OPEN", "to", "CLOSED", "reason", "probes passed"},
			"breaker_open:payments", "HIGH", true, "Breaker payments is OPEN"},
		{"cb.state_changed", []any{"service", "ledger", "from", "CLOSED", "to", "FORCED_OPEN", "reason", "maintenance"},
			"breaker_open:ledger", "HIGH", false, "Breaker ledger is FORCED_OPEN"},
		{"cb.state_changed", []any{"service", "ledger", "from", "FORCED_OPEN", "to", "FORCED_CLOSED", "reason", "done"},
			"breaker_open:ledger", "HIGH", true, "Breaker ledger is FORCED_OPEN"},
		{"store.degraded_entered", []any{"reason", "dial tcp: refused"}, "store_degraded", "HIGH", false, "Store DEGRADED: Redis is unreachable"},
		{"store.degraded_exited", []any{"degraded_for", "3s"}, "store_degraded", "HIGH", true, "Store DEGRADED: Redis is unreachable"},
		{"control.switch_disabled", []any{"who", "alice", "reason", "incident 42"}, "kill_switch_off", "CRITICAL", false, "Kill switch OFF: calls are unprotected"},
		{"control.switch_enabled", []any{"who", "bob"}, "kill_switch_off", "CRITICAL", true, "Kill switch OFF: calls are unprotected"},
		{"control.dryrun_started", []any{"who", "alice"}, "dry_run", "MEDIUM", false, "Dry-run started: policies record, nothing intervenes"},
		{"control.dryrun_stopped", []any{"who", "alice"}, "dry_run", "MEDIUM", true, "Dry-run started: policies record, nothing intervenes"},
		{"dlq.entry_rejected", []any{"domain", "ledger", "reason", "queue holds 10 entries, its cap is 10"}, "dlq_overflow:ledger", "HIGH", false, "Dead-letter queue full for ledger"},
		{"dlq.entry_evicted", []any{"domain", "ledger", "operation", "Post", "strategy", "drop_oldest"}, "dlq_evicted:ledger", "MEDIUM", false, "Dead letters evicted in ledger"},
		{"dlq.entry_needs_review", []any{"domain", "ledger", "operation", "Post", "reason", "budget spent"}, "dlq_needs_review:ledger", "MEDIUM", false, "Dead letters need review in ledger"},
	}
	hook := newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL, Routes: everything, BurstThreshold: -1})
	var out logtest.Buffer
	log := slog.New(r.n.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError})))
	for i, c := range cases {
		log.Info(c.event, c.args...)
		waitCount(t, r.n, OutcomeDelivered, string(Webhook), uint64(i+1))
		var p WebhookPayload
		hook.decode(t, i, &p)
		assert.Equal(t, c.key, p.Key, c.event)
		assert.Equal(t, c.prio, p.Priority, c.event)
		assert.Equal(t, c.resolved, p.Resolved, c.event)
		assert.Equal(t, c.title, p.Title, c.event)
		assert.NotEmpty(t, p.Text, c.event)
	}
	var kill WebhookPayload
	hook.decode(t, 6, &kill)
	assert.Contains(t, kill.Text, "By alice. Reason: incident 42.")
	assert.Empty(t, out.String(), "records below the next handler's level are not passed on")
	assert.Empty(t, r.n.Ongoing(), "every condition begun was ended")
}

// TestHandlerPassesRecordsOnWithTheirAttributes: the tap is transparent to
// the handler it wraps, With attributes included, and reads With
// attributes for its rules.
func TestHandlerPassesRecordsOnWithTheirAttributes(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL, BurstThreshold: -1})
	var out logtest.Buffer
	log := slog.New(r.n.Handler(slog.NewTextHandler(&out, nil))).With("domain", "ledger")
	log.Warn("dlq.entry_rejected", "reason", "full")
	log.Info("something.else_happened", "n", 1)
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 1)
	var p WebhookPayload
	hook.decode(t, 0, &p)
	assert.Equal(t, "dlq_overflow:ledger", p.Key)
	require.Len(t, out.Lines("msg=dlq.entry_rejected", "domain=ledger", "reason=full"), 1)
	require.Len(t, out.Lines("msg=something.else_happened", "domain=ledger", "n=1"), 1)
}
