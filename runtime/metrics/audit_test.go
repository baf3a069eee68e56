package metrics_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestAuditSeries(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{Logger: quiet, Store: store.NewMemory()})
	require.NoError(t, err)
	defer rt.Close()
	for range 3 {
		require.NoError(t, rt.Audit().Record(ctx, audit.Record{Action: "control.disable", Reason: "drill"}))
	}
	require.NoError(t, rt.Audit().Sync(ctx))
	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry(rt), promhttp.HandlerOpts{}))
	defer srv.Close()
	f := scrape(t, srv.Client(), srv.URL)
	assert.Equal(t, 3.0, f.value(t, "baldur_audit_records_total", nil))
	assert.Equal(t, 0.0, f.value(t, "baldur_audit_backlog", nil))
	assert.Equal(t, 0.0, f.value(t, "baldur_audit_chain_broken", nil))

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.AuditCollector(rt.Audit())))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
}
