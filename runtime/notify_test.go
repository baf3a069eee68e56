package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/store"
)

// webhook is a real HTTP server on loopback standing in for the JSON
// webhook: each payload it receives is sent on the channel.
func webhook(t *testing.T) (string, <-chan notify.WebhookPayload) {
	t.Helper()
	ch := make(chan notify.WebhookPayload, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p notify.WebhookPayload
		if json.Unmarshal(b, &p) == nil {
			ch <- p
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook", ch
}

// TestTheRuntimesEventsReachItsNotifier: a breaker forced open and closed,
// the kill switch flipped and an application alert, through a runtime
// built with a webhook, arrive as their alerts.
func TestTheRuntimesEventsReachItsNotifier(t *testing.T) {
	url, got := webhook(t)
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler),
		Notify: notify.Config{WebhookURL: url, BurstThreshold: -1,
			Routes: map[notify.Priority][]notify.Channel{notify.Info: {notify.Webhook}}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	ctx := context.Background()

	rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	b, ok := rt.Breaker("payments")
	require.True(t, ok)
	b.ForceOpen("maintenance")
	p := await.Recv(t, got, "the breaker alert")
	assert.Equal(t, "breaker_open:payments", p.Key)
	assert.Equal(t, "HIGH", p.Priority)
	assert.Equal(t, rt.node, p.Source)
	b.ForceClose("done")
	p = await.Recv(t, got, "the breaker's resolved alert")
	assert.Equal(t, "breaker_open:payments", p.Key)
	assert.True(t, p.Resolved)

	_, err = rt.Control().Disable(ctx, "alice", "incident 7")
	require.NoError(t, err)
	p = await.Recv(t, got, "the kill switch alert")
	assert.Equal(t, "kill_switch_off", p.Key)
	assert.Equal(t, "CRITICAL", p.Priority)
	assert.Contains(t, p.Text, "By alice. Reason: incident 7.")

	rt.Notify(ctx, notify.Alert{Key: "app:ledger_lag", Priority: notify.Info, Title: "Ledger lags 5 min"})
	p = await.Recv(t, got, "the application's alert")
	assert.Equal(t, "app:ledger_lag", p.Key)
	require.NoError(t, rt.Close())
}

// flakyStore fails idempotency claims while down, as an unreachable Redis
// does.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) SetNX(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	if f.down.Load() && strings.Contains(key, "idem") {
		return false, store.ErrUnavailable
	}
	return f.Store.SetNX(ctx, key, v, ttl)
}

// TestFailClosedRefusalsRaiseOneAlert: 50 calls refused while the
// idempotency store is unreachable raise idem_unavailable once.
func TestFailClosedRefusalsRaiseOneAlert(t *testing.T) {
	url, got := webhook(t)
	mem := store.NewMemory()
	t.Cleanup(func() { mem.Close() })
	st := &flakyStore{Store: mem}
	rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler),
		Notify: notify.Config{WebhookURL: url, BurstThreshold: -1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Idempotency: "orderID"})
	st.down.Store(true)
	for i := range 50 {
		_, err := z.Claim(context.Background(), "order-"+strings.Repeat("x", i%3), 1)
		require.ErrorIs(t, err, ErrIdempotencyUnavailable)
	}
	p := await.Recv(t, got, "the idempotency alert")
	assert.Equal(t, "idem_unavailable:payments", p.Key)
	assert.Equal(t, "HIGH", p.Priority)
	require.NoError(t, rt.Close()) // lets anything queued go out
	assert.Empty(t, got, "one alert for the 50 refusals")
	assert.Equal(t, uint64(1), rt.Notifier().Count(notify.OutcomeDelivered, string(notify.Webhook)))
}

// TestAMalformedWebhookURLFailsNamingTheVariable: from the environment
// and from Config, the URL's secret never shows.
func TestAMalformedWebhookURLFailsNamingTheVariable(t *testing.T) {
	_, err := configFromLookup(vars("BALDUR_NOTIFY_SLACK_WEBHOOK_URL", "https//hooks.slack.com/services/T0/B0/SLACKSECRET"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BALDUR_NOTIFY_SLACK_WEBHOOK_URL")
	assert.NotContains(t, err.Error(), "SLACKSECRET")

	_, err = New(context.Background(), Config{Store: store.NewMemory(), Logger: slog.New(slog.DiscardHandler),
		Notify: notify.Config{AlertmanagerURL: "tcp://am.internal:9093/AMSECRET"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `baldur: config: notify: AlertmanagerURL: "tcp://am.internal:9093/xxxxx"`)
	assert.NotContains(t, err.Error(), "AMSECRET")
	assert.False(t, errors.Is(err, store.ErrUnavailable))
}
