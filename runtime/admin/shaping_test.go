package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// shaping/ answers each shaped method's policies with live figures, in the
// contract's types (unknown fields refused), for a viewer key and no less.
func TestShapingRouteShowsEachPolicysState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	quotes := f.rt.Zone(runtime.ZoneSpec{Service: "quotes", Method: "Get", Breaker: true, Rate: "100/h", Burst: 40})
	f.rt.Zone(runtime.ZoneSpec{Service: "orders", Method: "Place", Breaker: true, Attempts: 3, RetryBudget: "20%",
		Throttle: runtime.Adaptive, Concurrency: runtime.Adaptive})
	for range 5 {
		p, err := quotes.Enter(ctx)
		require.NoError(t, err)
		quotes.Done(ctx, p, nil, 1)
	}

	assert.Equal(t, http.StatusUnauthorized, f.do(t, req{path: adminapi.URL(adminapi.PathShaping)}).code, "no key")
	r := f.do(t, req{path: adminapi.URL(adminapi.PathShaping), key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	var ans adminapi.Shaping
	dec := json.NewDecoder(strings.NewReader(r.raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&ans))
	assert.Equal(t, "NORMAL", ans.Level)
	require.Len(t, ans.Methods, 2)

	orders, q := ans.Methods[0], ans.Methods[1]
	assert.Equal(t, "orders", orders.Service)
	assert.Equal(t, []string{"throttle", "concurrency", "retry_budget"}, orders.Policies)
	require.NotNil(t, orders.Throttle)
	assert.Zero(t, orders.Throttle.Probability)
	require.NotNil(t, orders.Concurrency)
	assert.Equal(t, int64(20), orders.Concurrency.Limit)
	require.NotNil(t, orders.Budget)
	assert.Equal(t, "20%", orders.Budget.Budget)
	assert.InDelta(t, 100, orders.Budget.Allowed, 0.001, "the floor: 10 a second over 10 s")
	assert.Nil(t, orders.Rate)

	assert.Equal(t, "quotes", q.Service)
	require.NotNil(t, q.Rate)
	assert.Equal(t, "100/h", q.Rate.Limit)
	assert.Equal(t, int64(40), q.Rate.Burst)
	assert.Equal(t, int64(31-5), q.Rate.Tokens, "the local bucket's 31 less the 5 calls made")
	assert.Nil(t, q.Throttle)
	assert.Nil(t, q.Budget)
}

// The cache and hedging are on shaping/ too: their counters and bounds.
func TestShapingRouteShowsCacheAndHedging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	f.rt.Zone(runtime.ZoneSpec{Service: "prices", Method: "Quote", Breaker: true, Cache: time.Minute})
	f.rt.Zone(runtime.ZoneSpec{Service: "search", Method: "Find", Breaker: true, Hedge: 2, HedgeDelay: "50ms"})

	r := f.do(t, req{path: adminapi.URL(adminapi.PathShaping), key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	var ans adminapi.Shaping
	dec := json.NewDecoder(strings.NewReader(r.raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&ans))
	require.Len(t, ans.Methods, 2, r.raw)

	prices, search := ans.Methods[0], ans.Methods[1]
	assert.Equal(t, []string{"cache"}, prices.Policies)
	require.NotNil(t, prices.Cache, r.raw)
	assert.Positive(t, prices.Cache.Max, "the size bound")
	assert.Zero(t, prices.Cache.Hits)
	assert.Nil(t, prices.Hedge)

	assert.Equal(t, []string{"hedge"}, search.Policies)
	require.NotNil(t, search.Hedge, r.raw)
	assert.InDelta(t, 50, search.Hedge.DelayMs, 0.001)
	assert.Nil(t, search.Cache)
}
