package notify

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
)

// TestA500IsRetriedWithBackoffThenCountedFailed on a fake clock: attempts
// 1s and 2s apart, then failed after MaxAttempts.
func TestA500IsRetriedWithBackoffThenCountedFailed(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	r := newRig(t, Config{WebhookURL: hook.URL + "/secret-path-token", MaxAttempts: 3})
	r.n.Notify(t.Context(), Alert{Key: "k", Priority: High, Title: "t"})
	waitCount(t, r.n, OutcomeRetried, string(Webhook), 1)
	assert.Equal(t, []time.Time{epoch.Add(time.Second)}, r.clk.Deadlines())
	r.clk.Advance(time.Second)
	waitCount(t, r.n, OutcomeRetried, string(Webhook), 2)
	assert.Equal(t, []time.Time{epoch.Add(3 * time.Second)}, r.clk.Deadlines())
	r.clk.Advance(2 * time.Second)
	waitCount(t, r.n, OutcomeFailed, string(Webhook), 1)
	assert.Len(t, hook.requests(), 3)
	lines := r.logs.Lines("notify.delivery_failed", "channel=webhook", "status=502", "attempts=3")
	require.Len(t, lines, 1, r.logs.String())
	assert.NotContains(t, r.logs.String(), "secret-path-token", "the webhook URL stays out of the log")
}

// TestSlack429RetryAfterIsHonoured: Slack's Retry-After replaces the
// backoff; nothing is sent again before it has passed.
func TestSlack429RetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	slack := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	r := newRig(t, Config{SlackWebhookURL: slack.URL})
	r.n.Notify(t.Context(), Alert{Key: "k", Priority: Medium, Title: "t"})
	waitCount(t, r.n, OutcomeRetried, string(Slack), 1)
	assert.Equal(t, []time.Time{epoch.Add(7 * time.Second)}, r.clk.Deadlines(), "the wait is Slack's 7s, not the 1s backoff")
	r.clk.Advance(6 * time.Second)
	assert.Equal(t, 1, r.clk.Pending(), "still waiting at 6s")
	assert.Len(t, slack.requests(), 1)
	r.clk.Advance(time.Second)
	waitCount(t, r.n, OutcomeDelivered, string(Slack), 1)
	assert.Len(t, slack.requests(), 2)
}

// TestA4xxIsNotRetried: a refusal other than 408 and 429 fails at once.
func TestA4xxIsNotRetried(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) })
	r := newRig(t, Config{WebhookURL: hook.URL})
	r.n.Notify(t.Context(), Alert{Key: "k", Priority: High, Title: "t"})
	waitCount(t, r.n, OutcomeFailed, string(Webhook), 1)
	assert.Zero(t, r.n.Count(OutcomeRetried, string(Webhook)))
	assert.Len(t, hook.requests(), 1)
}

// TestABadChannelChangesNothingForTheCaller: whatever the channel does
// (500, 429, or no answer at all), every Notify returns, the caller sees
// no error, and every alert is accounted for by a counter: delivered,
// failed, suppressed or dropped. Asserted with counters, not wall-clock.
func TestABadChannelChangesNothingForTheCaller(t *testing.T) {
	t.Parallel()
	const raised = 50
	cases := map[string]func(release <-chan struct{}) func(int, http.ResponseWriter, *http.Request){
		"500": func(<-chan struct{}) func(int, http.ResponseWriter, *http.Request) {
			return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }
		},
		"429": func(<-chan struct{}) func(int, http.ResponseWriter, *http.Request) {
			return func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		},
		"hang": func(release <-chan struct{}) func(int, http.ResponseWriter, *http.Request) {
			return func(_ int, _ http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
				_ = await.Hold(release)
			}
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			slack := newReceiver(t, answer(release))
			t.Cleanup(func() { close(release) }) // before the server's Close (cleanups run last first)
			r := newRig(t, Config{SlackWebhookURL: slack.URL, QueueSize: 4, Timeout: time.Hour, PerMinute: -1, PerHour: -1,
				ChannelPerMinute: -1, ChannelPerHour: -1, BurstThreshold: -1})
			returned := 0
			for i := range raised {
				r.n.Notify(t.Context(), Alert{Key: "k" + strconv.Itoa(i), Priority: Critical, Title: "t"})
				returned++
			}
			assert.Equal(t, raised, returned, "every Notify returned while the channel misbehaves")
			// The first alert is held by the channel (retrying or hanging);
			// the queues hold at most 4 + 4; the rest were dropped, counted.
			waitFor(t, r.n, "the guards took every alert", func() bool {
				return r.n.Count(OutcomeDropped, ReasonQueueFull) >= raised-1-4
			})
			require.NoError(t, r.n.Close())
			var total uint64
			for _, c := range r.n.Counts() {
				if c.Outcome != OutcomeRetried {
					total += c.N
				}
			}
			assert.Equal(t, uint64(raised), total, "every alert accounted for: %v", nonZero(r.n.Counts()))
			assert.Zero(t, r.n.Count(OutcomeDelivered, string(Slack)))
			assert.NotEmpty(t, r.logs.Lines("notify.alert_dropped", "reason=queue_full"))
		})
	}
}

// TestClosedNotifierCountsLateAlerts: Notify after Close returns at once
// and counts the alert as dropped (closed).
func TestClosedNotifierCountsLateAlerts(t *testing.T) {
	t.Parallel()
	r := newRig(t, Config{})
	require.NoError(t, r.n.Close())
	r.n.Notify(t.Context(), Alert{Key: "late", Priority: Critical})
	assert.Equal(t, uint64(1), r.n.Count(OutcomeDropped, ReasonClosed))
	var nilNotifier *Notifier
	nilNotifier.Notify(t.Context(), Alert{Key: "nil"}) // a runtime without notifier: no panic
	assert.NoError(t, nilNotifier.Close())
}

// TestANetworkErrorNeverShowsTheURL: net/http puts the URL in its errors;
// the notifier's log line shows the scheme and host only.
func TestANetworkErrorNeverShowsTheURL(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	url := hook.URL + "/services/T0/B0/TOPSECRETTOKEN"
	hook.Close() // nothing listens any more: connection refused
	r := newRig(t, Config{WebhookURL: url, MaxAttempts: 1})
	r.n.Notify(t.Context(), Alert{Key: "k", Priority: High, Title: "t"})
	waitCount(t, r.n, OutcomeFailed, string(Webhook), 1)
	logs := r.logs.String()
	assert.NotContains(t, logs, "TOPSECRETTOKEN")
	assert.NotContains(t, logs, "/services/")
	host := strings.TrimPrefix(hook.URL, "http://")
	assert.Contains(t, logs, "endpoint=http://"+host+"/xxxxx", logs)
}

// TestAFullQueueDropsTheOldest: while the channel holds the first alert,
// later ones overflow the queues; the newest survive and go out once the
// channel answers again.
func TestAFullQueueDropsTheOldest(t *testing.T) {
	t.Parallel()
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	hook := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			arrived <- struct{}{}
			_ = await.Hold(release)
		}
	})
	r := newRig(t, Config{WebhookURL: hook.URL, QueueSize: 2, Timeout: time.Hour, PerMinute: -1, PerHour: -1,
		ChannelPerMinute: -1, ChannelPerHour: -1, BurstThreshold: -1})
	r.n.Notify(t.Context(), Alert{Key: "k0", Priority: Critical})
	await.Signal(t, arrived, "the first alert reached the webhook")
	for i := 1; i <= 10; i++ {
		r.n.Notify(t.Context(), Alert{Key: "k" + strconv.Itoa(i), Priority: Critical})
	}
	waitCount(t, r.n, OutcomeDropped, ReasonQueueFull, 8)
	close(release)
	waitCount(t, r.n, OutcomeDelivered, string(Webhook), 3)
	var keys []string
	for i := range 3 {
		var p WebhookPayload
		hook.decode(t, i, &p)
		keys = append(keys, p.Key)
	}
	assert.Equal(t, []string{"k0", "k9", "k10"}, keys)
}
