package metrics_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestShapingSeries(t *testing.T) {
	t.Parallel()
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, Store: store.NewMemory()})
	require.NoError(t, err)
	defer rt.Close()
	z := rt.Zone(runtime.ZoneSpec{Service: "quotes", Method: "Get", Attempts: 1, Rate: "1/h", Burst: 1,
		RateScope: runtime.RateScopeFleet, Throttle: runtime.Adaptive, Concurrency: runtime.Adaptive, RetryBudget: "20%"})
	ctx := context.Background()
	for range 2 {
		p, err := z.Enter(ctx)
		if err == nil {
			z.Done(ctx, p, nil, 1)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.NewCollector(rt, metrics.Options{})))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	f := families{}
	for _, mf := range mfs {
		f[mf.GetName()] = mf
	}
	m := map[string]string{"service": "quotes", "method": "Get"}
	with := func(k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	assert.Equal(t, 1.0, f.value(t, "baldur_rate_limited_total", m))
	assert.Equal(t, 1.0, f.value(t, "baldur_rate_fleet_leases_total", with("outcome", "ok")))
	assert.Equal(t, 20.0, f.value(t, "baldur_concurrency_limit", m))
	assert.Zero(t, f.value(t, "baldur_concurrency_in_flight", m))
	assert.Zero(t, f.value(t, "baldur_throttle_reject_probability", m))
	assert.Zero(t, f.value(t, "baldur_retry_budget_total", with("outcome", "exhausted")))
}
