package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
)

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(map[string]string{
		"BALDUR_NOTIFY_ENABLED":                 "true",
		"BALDUR_NOTIFY_SLACK_WEBHOOK_URL":       "https://hooks.slack.com/services/T/B/x",
		"BALDUR_NOTIFY_WEBHOOK_URL":             "http://127.0.0.1:8080/hook",
		"BALDUR_NOTIFY_ALERTMANAGER_URL":        "http://127.0.0.1:9093",
		"BALDUR_NOTIFY_ROUTE_INFO":              "webhook",
		"BALDUR_NOTIFY_ROUTE_LOW":               "log",
		"BALDUR_NOTIFY_ROUTE_CRITICAL":          "slack, alertmanager",
		"BALDUR_NOTIFY_COOLDOWN":                "10m",
		"BALDUR_NOTIFY_RATE_PER_MINUTE":         "5",
		"BALDUR_NOTIFY_RATE_PER_HOUR":           "off",
		"BALDUR_NOTIFY_CHANNEL_RATE_PER_MINUTE": "2",
		"BALDUR_NOTIFY_CHANNEL_RATE_PER_HOUR":   "20",
		"BALDUR_NOTIFY_BURST_THRESHOLD":         "off",
		"BALDUR_NOTIFY_BURST_WINDOW":            "120",
		"BALDUR_NOTIFY_QUEUE_SIZE":              "16",
		"BALDUR_NOTIFY_REMIND_AFTER":            "off",
		"BALDUR_NOTIFY_TIMEOUT":                 "2s",
		"BALDUR_NOTIFY_MAX_ATTEMPTS":            "2",
	}))
	c := ConfigFromEnv(r)
	require.NoError(t, r.Err())
	assert.Equal(t, Config{
		SlackWebhookURL: "https://hooks.slack.com/services/T/B/x", WebhookURL: "http://127.0.0.1:8080/hook",
		AlertmanagerURL: "http://127.0.0.1:9093",
		Routes:          map[Priority][]Channel{Info: {Webhook}, Low: {}, Critical: {Slack, Alertmanager}},
		Cooldown:        10 * time.Minute, PerMinute: 5, PerHour: -1, ChannelPerMinute: 2, ChannelPerHour: 20,
		BurstThreshold: -1, BurstWindow: 2 * time.Minute, QueueSize: 16, RemindAfter: -1, Timeout: 2 * time.Second, MaxAttempts: 2,
	}, c)

	off := env.New(env.Map(map[string]string{"BALDUR_NOTIFY_ENABLED": "off"}))
	assert.True(t, ConfigFromEnv(off).Disabled)
}

// TestAMalformedWebhookURLNamesTheVariableNotTheSecret: each bad value is
// reported with its variable; a URL shows its scheme and host at most.
func TestAMalformedWebhookURLNamesTheVariableNotTheSecret(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(map[string]string{
		"BALDUR_NOTIFY_SLACK_WEBHOOK_URL": "hxxps://hooks.slack.com/services/T0/B0/SLACKSECRET",
		"BALDUR_NOTIFY_WEBHOOK_URL":       "http:///HOOKSECRET",
		"BALDUR_NOTIFY_ALERTMANAGER_URL":  "alertmanager:9093/AMSECRET",
		"BALDUR_NOTIFY_ROUTE_HIGH":        "pager",
		"BALDUR_NOTIFY_COOLDOWN":          "soon",
		"BALDUR_NOTIFY_RATE_PER_MINUTE":   "0",
	}))
	ConfigFromEnv(r)
	err := r.Err()
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{`BALDUR_NOTIFY_SLACK_WEBHOOK_URL: "hxxps://hooks.slack.com/xxxxx" is not an http or https URL`,
		"BALDUR_NOTIFY_WEBHOOK_URL:", "BALDUR_NOTIFY_ALERTMANAGER_URL:", `BALDUR_NOTIFY_ROUTE_HIGH="pager"`,
		`BALDUR_NOTIFY_COOLDOWN="soon"`, `BALDUR_NOTIFY_RATE_PER_MINUTE="0"`} {
		assert.Contains(t, msg, want)
	}
	for _, secret := range []string{"SLACKSECRET", "HOOKSECRET", "AMSECRET", "/services/"} {
		assert.NotContains(t, msg, secret)
	}
}

func TestNewRefusesAMalformedURLWithoutShowingIt(t *testing.T) {
	t.Parallel()
	_, err := New(Config{WebhookURL: "ftp://files.example.com/drop/FTPSECRET"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `notify: WebhookURL: "ftp://files.example.com/xxxxx" is not an http or https URL with a host`)
	assert.NotContains(t, err.Error(), "FTPSECRET")
}

func TestPriorityNames(t *testing.T) {
	t.Parallel()
	for _, p := range Priorities {
		got, err := ParsePriority(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	_, err := ParsePriority("urgent")
	assert.EqualError(t, err, `unknown priority "urgent": want one of CRITICAL, HIGH, MEDIUM, LOW, INFO`)
	assert.Equal(t, Critical, Critical.up())
	assert.Equal(t, High, Medium.up())
}
