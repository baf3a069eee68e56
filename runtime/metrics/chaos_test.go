package metrics_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/chaos"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestChaosSeries(t *testing.T) {
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	rt, err := runtime.New(context.Background(), runtime.Config{Store: st, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry(rt), promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	z := rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge"})

	f := scrape(t, srv.Client(), srv.URL)
	assert.Equal(t, 0.0, f.find(t, "baldur_chaos_active", map[string]string{"service": "payments"}).GetGauge().GetValue())

	_, err = rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 100, Duration: time.Minute, By: "op"})
	require.NoError(t, err)
	for range 3 {
		require.ErrorIs(t, z.Inject(ctx), chaos.ErrInjected)
	}
	f = scrape(t, srv.Client(), srv.URL)
	assert.Equal(t, 1.0, f.find(t, "baldur_chaos_active", map[string]string{"service": "payments"}).GetGauge().GetValue())
	assert.Equal(t, 3.0, f.find(t, "baldur_chaos_injected_total", map[string]string{"service": "payments", "kind": "error"}).GetCounter().GetValue())
	assert.Equal(t, 0.0, f.find(t, "baldur_chaos_injected_total", map[string]string{"service": "payments", "kind": "latency"}).GetCounter().GetValue())
}
