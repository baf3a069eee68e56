package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBeginRemindsWhileAConditionLastsAndEndResolvesIt on a fake clock:
// the alert at once, a reminder every RemindAfter, a resolved alert at the
// end that reaches Alertmanager with an endsAt and the same labels.
func TestBeginRemindsWhileAConditionLastsAndEndResolvesIt(t *testing.T) {
	t.Parallel()
	hook, am := newReceiver(t, nil), newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL, AlertmanagerURL: am.URL, RemindAfter: 15 * time.Minute, BurstThreshold: -1})
	open := Alert{Key: "breaker_open:payments", Priority: High, Title: "Breaker payments is OPEN", Service: "payments"}
	r.n.Begin(t.Context(), open)
	r.n.Begin(t.Context(), open) // already begun: nothing new
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 1)
	assert.Equal(t, []string{"breaker_open:payments"}, r.n.Ongoing())

	r.clk.Advance(15 * time.Minute)
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 2)
	var still WebhookPayload
	hook.decode(t, 1, &still)
	assert.Equal(t, "Breaker payments is OPEN — still, for 15m0s", still.Title)
	assert.Equal(t, epoch.Add(15*time.Minute), still.At)

	r.clk.Advance(2 * time.Minute)
	require.True(t, r.n.End(t.Context(), Alert{Key: "breaker_open:payments", Text: "closed again after 17m"}))
	assert.False(t, r.n.End(t.Context(), Alert{Key: "breaker_open:payments"}), "ended already; no text, nothing raised")
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 3)
	waitCount(t, r.n, OutcomeDelivered, string(Alertmanager), 3)
	var resolved WebhookPayload
	hook.decode(t, 2, &resolved)
	assert.True(t, resolved.Resolved)
	assert.Equal(t, "closed again after 17m", resolved.Text)
	assert.Equal(t, "HIGH", resolved.Priority)

	var firing, done []struct {
		Labels   map[string]string `json:"labels"`
		StartsAt string            `json:"startsAt"`
		EndsAt   string            `json:"endsAt"`
	}
	am.decode(t, 0, &firing)
	am.decode(t, 2, &done)
	assert.Equal(t, firing[0].Labels, done[0].Labels, "the same labels name the same alert in Alertmanager")
	assert.Empty(t, done[0].StartsAt)
	assert.Equal(t, "2026-03-04T10:17:00Z", done[0].EndsAt)
	assert.Empty(t, firing[0].EndsAt)

	assert.Zero(t, r.clk.Pending(), "no reminder left armed")
	assert.Empty(t, r.n.Ongoing())
}

// TestCloseDisarmsReminders: nothing is left on the clock after Close.
func TestCloseDisarmsReminders(t *testing.T) {
	t.Parallel()
	r := newRig(t, Config{})
	r.n.Begin(t.Context(), Alert{Key: "degraded", Priority: High})
	assert.Equal(t, 1, r.clk.Pending())
	require.NoError(t, r.n.Close())
	assert.Zero(t, r.clk.Pending())
	r.n.Begin(t.Context(), Alert{Key: "late", Priority: High})
	assert.Zero(t, r.clk.Pending())
}
