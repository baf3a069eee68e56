package notify

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/store"
)

// TestCooldownDeliversAKeyOncePerWindow on a fake clock: the same key is
// delivered once until the cooldown has passed, another key is not held up.
func TestCooldownDeliversAKeyOncePerWindow(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL, Cooldown: 10 * time.Minute, BurstThreshold: -1})
	for range 5 {
		r.n.Notify(t.Context(), Alert{Key: "a", Priority: High, Title: "a"})
	}
	r.n.Notify(t.Context(), Alert{Key: "b", Priority: High, Title: "b"})
	waitFor(t, r.n, "six alerts settled", func() bool { return settled(r.n) == 6 })
	assert.Equal(t, uint64(2), r.n.Count(OutcomeDelivered, string(Webhook)))
	assert.Equal(t, uint64(4), r.n.Count(OutcomeSuppressed, ReasonCooldown))
	assert.Len(t, r.logs.Lines("notify.alert_suppressed", "reason=cooldown", "key=a"), 4)

	r.clk.Advance(9 * time.Minute)
	r.n.Notify(t.Context(), Alert{Key: "a", Priority: High, Title: "a"})
	waitCount(t, r.n, OutcomeSuppressed, ReasonCooldown, 5)
	r.clk.Advance(time.Minute)
	r.n.Notify(t.Context(), Alert{Key: "a", Priority: High, Title: "a"})
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 3)
	assert.Len(t, hook.requests(), 3)
}

// TestCooldownSpansNotifiersSharingAStore: two Notifiers on one store
// deliver a key once between them.
func TestCooldownSpansNotifiersSharingAStore(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	a := newRig(t, Config{WebhookURL: hook.URL, BurstThreshold: -1})
	b := newRig(t, Config{WebhookURL: hook.URL, BurstThreshold: -1, Store: a.store, Clock: a.clk})
	for range 10 {
		a.n.Notify(t.Context(), Alert{Key: "k", Priority: Critical, Title: "t"})
		b.n.Notify(t.Context(), Alert{Key: "k", Priority: Critical, Title: "t"})
	}
	waitFor(t, a.n, "a settled", func() bool { return settled(a.n) == 10 })
	waitFor(t, b.n, "b settled", func() bool { return settled(b.n) == 10 })
	assert.Equal(t, uint64(1), a.n.Count(OutcomeDelivered, string(Webhook))+b.n.Count(OutcomeDelivered, string(Webhook)))
	assert.Len(t, hook.requests(), 1)
}

// TestRateLimitOnAFakeClock: the overall per-minute budget refuses the
// fourth distinct alert in a minute, the next minute has a budget again,
// and the per-hour budget caps the hour.
func TestRateLimitOnAFakeClock(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL, PerMinute: 3, PerHour: 5, ChannelPerMinute: -1, ChannelPerHour: -1, BurstThreshold: -1})
	raise := func(from, to int) {
		for i := from; i < to; i++ {
			r.n.Notify(t.Context(), Alert{Key: "k" + strconv.Itoa(i), Priority: Critical, Title: "t"})
		}
	}
	raise(0, 5)
	waitFor(t, r.n, "five settled", func() bool { return settled(r.n) == 5 })
	assert.Equal(t, uint64(3), r.n.Count(OutcomeDelivered, string(Webhook)))
	assert.Equal(t, uint64(2), r.n.Count(OutcomeSuppressed, ReasonRateLimited))
	assert.Len(t, r.logs.Lines("notify.alert_suppressed", "reason=rate_limited", "level=WARN"), 2)

	r.clk.Advance(time.Minute)
	raise(5, 8)
	waitFor(t, r.n, "eight settled", func() bool { return settled(r.n) == 8 })
	assert.Equal(t, uint64(5), r.n.Count(OutcomeDelivered, string(Webhook)), "two more in the new minute: the hour's budget of 5 is spent")
	assert.Equal(t, uint64(3), r.n.Count(OutcomeSuppressed, ReasonRateLimited))

	r.clk.Set(epoch.Add(time.Hour))
	raise(8, 9)
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 6)
	assert.Len(t, hook.requests(), 6)
}

// TestChannelRateLimitHoldsBackOneChannelOnly: a channel over its budget
// is skipped while the others still receive the alert.
func TestChannelRateLimitHoldsBackOneChannelOnly(t *testing.T) {
	t.Parallel()
	slack, hook := newReceiver(t, nil), newReceiver(t, nil)
	r := newRig(t, Config{SlackWebhookURL: slack.URL, WebhookURL: hook.URL, ChannelPerMinute: 2, BurstThreshold: -1,
		Routes: map[Priority][]Channel{Medium: {Slack, Webhook}}})
	for i := range 3 {
		r.n.Notify(t.Context(), Alert{Key: "k" + strconv.Itoa(i), Priority: Medium, Title: "t"})
	}
	r.n.Notify(t.Context(), Alert{Key: "crit", Priority: Critical, Title: "t"})
	waitFor(t, r.n, "all settled", func() bool { return settled(r.n) == 8 })
	assert.Equal(t, uint64(2), r.n.Count(OutcomeDelivered, string(Slack)))
	assert.Equal(t, uint64(2), r.n.Count(OutcomeDelivered, string(Webhook)))
	assert.Equal(t, uint64(4), r.n.Count(OutcomeSuppressed, ReasonRateLimited))
	assert.Len(t, r.logs.Lines("notify.alert_suppressed", "reason=rate_limited", "channel=slack"), 2)
	assert.Len(t, r.logs.Lines("notify.alert_suppressed", "reason=rate_limited", "channel=webhook"), 2)
}

// TestBurstEscalationOnAFakeClock: the fourth raise of a key within the
// window (threshold 3) goes up one priority, which takes it from Slack
// only (MEDIUM) to every channel (HIGH), once; a new window starts over.
func TestBurstEscalationOnAFakeClock(t *testing.T) {
	t.Parallel()
	slack, hook := newReceiver(t, nil), newReceiver(t, nil)
	r := newRig(t, Config{SlackWebhookURL: slack.URL, WebhookURL: hook.URL, BurstThreshold: 3, BurstWindow: time.Minute})
	for range 6 {
		r.n.Notify(t.Context(), Alert{Key: "retry_pressure:ledger", Priority: Medium, Title: "retries climbing"})
	}
	waitFor(t, r.n, "six settled", func() bool { return settled(r.n) == 7 }) // the escalated one reaches two channels
	assert.Equal(t, uint64(3), r.n.Count(OutcomeEscalated, ReasonBurst), "raises 4, 5 and 6 are past the threshold")
	assert.Equal(t, uint64(2), r.n.Count(OutcomeDelivered, string(Slack)), "MEDIUM once, HIGH once")
	assert.Equal(t, uint64(1), r.n.Count(OutcomeDelivered, string(Webhook)), "HIGH once")
	assert.Equal(t, uint64(4), r.n.Count(OutcomeSuppressed, ReasonCooldown))

	var first, second struct {
		Blocks []struct {
			Text struct{ Text string } `json:"text"`
		} `json:"blocks"`
	}
	slack.decode(t, 0, &first)
	slack.decode(t, 1, &second)
	assert.Contains(t, first.Blocks[0].Text.Text, "MEDIUM: retries climbing")
	assert.Contains(t, second.Blocks[0].Text.Text, "HIGH: retries climbing (escalated)")
	var wh WebhookPayload
	hook.decode(t, 0, &wh)
	assert.Equal(t, "HIGH", wh.Priority)
	assert.True(t, wh.Escalated)
	assert.Len(t, r.logs.Lines("notify.alert_escalated", "from=MEDIUM", "to=HIGH"), 3)

	// A new burst window, past the cooldown: the count starts over.
	r.clk.Advance(DefaultCooldown)
	r.n.Notify(t.Context(), Alert{Key: "retry_pressure:ledger", Priority: Medium, Title: "retries climbing"})
	waitCount(t, r.n, OutcomeDelivered, string(Slack), 3)
	assert.Equal(t, uint64(3), r.n.Count(OutcomeEscalated, ReasonBurst))
}

// brokenStore fails every operation as an unreachable store does.
type brokenStore struct{ store.Store }

func (brokenStore) Incr(_ context.Context, _ string, _ int64, _ time.Duration) (int64, error) {
	return 0, store.ErrUnavailable
}

func (brokenStore) SetNX(_ context.Context, _ string, _ []byte, _ time.Duration) (bool, error) {
	return false, store.ErrUnavailable
}

// TestAFailingStoreFallsBackToThisProcess: the guards keep working in
// memory; alerts still go out, once per cooldown.
func TestAFailingStoreFallsBackToThisProcess(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL, Store: brokenStore{}, BurstThreshold: -1})
	for range 3 {
		r.n.Notify(t.Context(), Alert{Key: "idem_unavailable", Priority: Critical, Title: "t"})
	}
	waitFor(t, r.n, "three settled", func() bool { return settled(r.n) == 3 })
	assert.Equal(t, uint64(1), r.n.Count(OutcomeDelivered, string(Webhook)))
	assert.Equal(t, uint64(2), r.n.Count(OutcomeSuppressed, ReasonCooldown))
	require.NotEmpty(t, r.logs.Lines("notify.store_failed"))
}

// TestSetStoreHandsTheGuardsToTheSharedStore: a Notifier built before its
// store keeps its guards in memory, then shares them once SetStore is
// called.
func TestSetStoreHandsTheGuardsToTheSharedStore(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	a := newRig(t, Config{WebhookURL: hook.URL, BurstThreshold: -1})
	b := newRig(t, Config{WebhookURL: hook.URL, BurstThreshold: -1, Clock: a.clk})
	b.n.SetStore(nil)
	b.n.Notify(t.Context(), Alert{Key: "early", Priority: Critical})
	a.n.Notify(t.Context(), Alert{Key: "early", Priority: Critical})
	waitCount(t, b.n, OutcomeDelivered, string(Webhook), 1)
	waitCount(t, a.n, OutcomeDelivered, string(Webhook), 1) // b's claim was in its memory: a delivers too

	b.n.SetStore(a.store)
	b.n.Notify(t.Context(), Alert{Key: "late", Priority: Critical})
	waitCount(t, b.n, OutcomeDelivered, string(Webhook), 2)
	a.n.Notify(t.Context(), Alert{Key: "late", Priority: Critical})
	waitCount(t, a.n, OutcomeSuppressed, ReasonCooldown, 1)
}
