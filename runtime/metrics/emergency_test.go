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
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestEmergencyAndGovernanceSeries(t *testing.T) {
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	rt, err := runtime.New(context.Background(), runtime.Config{Store: st, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry(rt), promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	ctx := context.Background()

	f := scrape(t, srv.Client(), srv.URL)
	assert.Equal(t, 0.0, f.find(t, "baldur_emergency_level", nil).GetGauge().GetValue())
	assert.Equal(t, 0.0, f.find(t, "baldur_canary_events_total", map[string]string{"event": "panic"}).GetCounter().GetValue())

	_, err = rt.Emergency().Declare(ctx, "op", emergency.Critical, "drill")
	require.NoError(t, err)
	z := rt.Zone(runtime.ZoneSpec{Service: "search", Method: "Find"})
	_, err = z.Enter(ctx)
	require.ErrorIs(t, err, runtime.ErrShed)
	_, err = rt.Governance().DeclareStrict(ctx, "op", "freeze", time.Hour)
	require.NoError(t, err)
	require.ErrorIs(t, rt.Governance().Check(ctx, governance.Action{Name: "x"}).Err(), governance.ErrBlocked)

	f = scrape(t, srv.Client(), srv.URL)
	assert.Equal(t, 3.0, f.find(t, "baldur_emergency_level", nil).GetGauge().GetValue())
	assert.Equal(t, 1.0, f.find(t, "baldur_emergency_shed_total", nil).GetCounter().GetValue())
	assert.Equal(t, 1.0, f.find(t, "baldur_governance_blocked_total", map[string]string{"check": "emergency"}).GetCounter().GetValue())
	assert.Equal(t, 1.0, f.find(t, "baldur_governance_decisions_total", map[string]string{"outcome": "blocked"}).GetCounter().GetValue())
	assert.Equal(t, 0.0, f.find(t, "baldur_governance_failsafe_total", map[string]string{"check": "strict"}).GetCounter().GetValue())
}
