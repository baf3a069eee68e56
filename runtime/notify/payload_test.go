package notify

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEachChannelReceivesItsPayload sends one CRITICAL alert to real
// servers standing in for Slack, a webhook and Alertmanager and reads what
// each received.
func TestEachChannelReceivesItsPayload(t *testing.T) {
	t.Parallel()
	slack, hook, am := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	r := newRig(t, Config{SlackWebhookURL: slack.URL + "/services/T0/B0/secret", WebhookURL: hook.URL + "/in",
		AlertmanagerURL: am.URL + "/", Source: "node-a"})
	r.n.Notify(t.Context(), Alert{Key: "breaker_open:payments", Priority: Critical, Title: "Breaker payments is OPEN",
		Text: "5 failures in 60s <!channel> & more", Service: "payments", Labels: map[string]string{"team": "pay", "weird-name": "v"}})
	for _, ch := range Channels {
		waitCount(t, r.n, OutcomeDelivered, string(ch), 1)
	}

	var sl struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Type, Text string
			} `json:"text"`
			Elements []struct{ Type, Text string } `json:"elements"`
		} `json:"blocks"`
	}
	slack.decode(t, 0, &sl)
	assert.Equal(t, "/services/T0/B0/secret", slack.requests()[0].Path)
	assert.Equal(t, "application/json", slack.requests()[0].ContentType)
	assert.Equal(t, "[CRITICAL: Breaker payments is OPEN]", sl.Text)
	require.Len(t, sl.Blocks, 3)
	assert.Equal(t, "header", sl.Blocks[0].Type)
	assert.Equal(t, "plain_text", sl.Blocks[0].Text.Type)
	assert.Contains(t, sl.Blocks[0].Text.Text, "CRITICAL: Breaker payments is OPEN")
	assert.Equal(t, "section", sl.Blocks[1].Type)
	assert.Equal(t, "mrkdwn", sl.Blocks[1].Text.Type)
	assert.Equal(t, "5 failures in 60s &lt;!channel&gt; &amp; more", sl.Blocks[1].Text.Text, "mrkdwn is escaped: no channel ping")
	assert.Equal(t, "context", sl.Blocks[2].Type)
	require.Len(t, sl.Blocks[2].Elements, 1)
	ctxLine := sl.Blocks[2].Elements[0].Text
	for _, want := range []string{"*service* payments", "*key* breaker_open:payments", "*source* node-a", "team=pay", "2026-03-04T10:00:00Z"} {
		assert.Contains(t, ctxLine, want)
	}

	var wh WebhookPayload
	hook.decode(t, 0, &wh)
	assert.Equal(t, "/in", hook.requests()[0].Path)
	assert.Equal(t, WebhookPayload{Key: "breaker_open:payments", Priority: "CRITICAL", Title: "Breaker payments is OPEN",
		Text: "5 failures in 60s <!channel> & more", Service: "payments", Labels: map[string]string{"team": "pay", "weird-name": "v"},
		At: epoch, Source: "node-a"}, wh)

	var alerts []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    string            `json:"startsAt"`
	}
	am.decode(t, 0, &alerts)
	assert.Equal(t, "/api/v2/alerts", am.requests()[0].Path)
	require.Len(t, alerts, 1)
	assert.Equal(t, map[string]string{"alertname": "breaker_open:payments", "severity": "critical", "service": "payments",
		"source": "node-a", "team": "pay", "weird_name": "v"}, alerts[0].Labels)
	assert.Equal(t, map[string]string{"summary": "Breaker payments is OPEN", "description": "5 failures in 60s <!channel> & more"},
		alerts[0].Annotations)
	assert.Equal(t, "2026-03-04T10:00:00Z", alerts[0].StartsAt)
}

// TestRoutingFollowsTheSeed: CRITICAL and HIGH go everywhere, MEDIUM and
// LOW to Slack only, INFO to the log only; Routes moves INFO to a channel.
func TestRoutingFollowsTheSeed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p      Priority
		routes map[Priority][]Channel
		want   []Channel // the channels that receive it; none: log_only
	}{
		{Critical, nil, Channels},
		{High, nil, Channels},
		{Medium, nil, []Channel{Slack}},
		{Low, nil, []Channel{Slack}},
		{Info, nil, nil},
		{Info, map[Priority][]Channel{Info: {Webhook}}, []Channel{Webhook}},
		{High, map[Priority][]Channel{High: {}}, nil},
	}
	for _, c := range cases {
		t.Run(c.p.String(), func(t *testing.T) {
			t.Parallel()
			recv := map[Channel]*receiver{Slack: newReceiver(t, nil), Webhook: newReceiver(t, nil), Alertmanager: newReceiver(t, nil)}
			r := newRig(t, Config{SlackWebhookURL: recv[Slack].URL, WebhookURL: recv[Webhook].URL,
				AlertmanagerURL: recv[Alertmanager].URL, Routes: c.routes})
			r.n.Notify(t.Context(), Alert{Key: "k", Priority: c.p, Title: "something", Text: "details"})
			waitFor(t, r.n, "the alert settled", func() bool { return settled(r.n) >= uint64(max(len(c.want), 1)) })
			require.NoError(t, r.n.Close()) // nothing more can arrive
			for _, ch := range Channels {
				want := 0
				if containsChannel(c.want, ch) {
					want = 1
				}
				assert.Len(t, recv[ch].requests(), want, "%s to %s", c.p, ch)
				assert.Equal(t, uint64(want), r.n.Count(OutcomeDelivered, string(ch)))
			}
			if len(c.want) == 0 {
				assert.Equal(t, uint64(1), r.n.Count(OutcomeSuppressed, ReasonLogOnly))
				lines := r.logs.Lines("notify.alert_suppressed", "reason=log_only", "key=k", "title=something", "text=details")
				assert.Len(t, lines, 1, r.logs.String())
			}
		})
	}
}

// TestAChannelWithoutURLIsNotRouted: MEDIUM with no Slack configured is
// logged only, even though a webhook is.
func TestAChannelWithoutURLIsNotRouted(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, nil)
	r := newRig(t, Config{WebhookURL: hook.URL})
	r.n.Notify(t.Context(), Alert{Key: "m", Priority: Medium, Title: "medium"})
	waitCount(t, r.n, OutcomeSuppressed, ReasonLogOnly, 1)
	assert.Empty(t, hook.requests())
	assert.Equal(t, []Channel{Webhook}, r.n.Channels())
}

// TestSlackTextIsBoundedBySlackLimits: a huge text is cut to Slack's limits
// rather than refused by Slack.
func TestSlackTextIsBoundedBySlackLimits(t *testing.T) {
	t.Parallel()
	body, err := slackPayload(Alert{Key: "k", Priority: Low, Title: strings.Repeat("t", 500), Text: strings.Repeat("x", 10000)}, "")
	require.NoError(t, err)
	assert.Less(t, len(body), 4000)
	assert.Contains(t, string(body), "…")
}

func TestDisabledSuppressesEveryAlert(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	r := newRig(t, Config{WebhookURL: hook.URL, Disabled: true})
	for range 3 {
		r.n.Notify(t.Context(), Alert{Key: "k", Priority: Critical, Title: "t"})
	}
	assert.Equal(t, uint64(3), r.n.Count(OutcomeSuppressed, ReasonDisabled), "counted at once, in Notify")
	require.NoError(t, r.n.Close())
	assert.Empty(t, hook.requests())
	assert.Len(t, r.logs.Lines("notify.alert_suppressed", "reason=disabled"), 3)
}
