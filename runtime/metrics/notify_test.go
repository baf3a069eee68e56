package metrics_test

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/store"
)

// TestNotificationsAreCountedAndTheWebhookURLNeverShows: suppressions are
// counted by reason (disabled counts at once, in Notify), every pair is
// there at zero, and the configured webhook URL is nowhere in the scrape.
func TestNotificationsAreCountedAndTheWebhookURLNeverShows(t *testing.T) {
	const secret = "/services/T0/B0/METRICSSECRET"
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, Store: store.NewMemory(),
		Notify: notify.Config{Disabled: true, SlackWebhookURL: "https://hooks.slack.example" + secret}})
	require.NoError(t, err)
	defer rt.Close()
	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry(rt), promhttp.HandlerOpts{}))
	defer srv.Close()
	for range 2 {
		rt.Notify(context.Background(), notify.Alert{Key: "app:x", Priority: notify.Critical})
	}
	f := scrape(t, srv.Client(), srv.URL+"/metrics")
	assert.Equal(t, 2.0, f.value(t, "baldur_notifications_total", map[string]string{"outcome": "suppressed", "reason": "disabled"}))
	assert.Equal(t, 0.0, f.value(t, "baldur_notifications_total", map[string]string{"outcome": "delivered", "reason": "slack"}))
	assert.Equal(t, 0.0, f.value(t, "baldur_notifications_total", map[string]string{"outcome": "dropped", "reason": "queue_full"}))

	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.NotContains(t, string(body), "METRICSSECRET")
	assert.NotContains(t, string(body), "hooks.slack.example")
}
