package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

// The series routes answer what the runtime's minute tick recorded, typed
// by the contract: a summary per service and one service's points, with an
// outage's OPEN minute and the kill-switch change on the same axis.
func TestSeriesRoutesAnswerTheRecordedPoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC))
	rt, err := runtime.New(ctx, runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir(), Clock: clk})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	z := rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	rt.Zone(runtime.ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
	h, err := admin.New(admin.Options{Runtime: rt, Control: rt.Control(), Security: admin.Security{Keys: keys()}, Port: "9090", Logger: quiet})
	require.NoError(t, err)
	call := func(fail error) {
		if p, err := z.Enter(ctx); err == nil {
			z.Done(ctx, p, fail, 1)
		}
	}
	for range 4 {
		call(nil)
	}
	clk.Advance(30 * time.Second)
	for range 20 { // the breaker opens at the default threshold and refuses the rest
		call(errors.New("down"))
	}
	_, err = rt.Control().Disable(ctx, "ops", "incident")
	require.NoError(t, err)
	clk.Advance(time.Minute)

	fetch := func(path string, v any) int {
		r := httptest.NewRequest(http.MethodGet, urlOf(path), nil)
		r.Host = testHost
		r.Header.Set(adminapi.KeyHeader, viewerKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(v))
		}
		return w.Code
	}
	var list adminapi.SeriesList
	require.Equal(t, http.StatusOK, fetch(adminapi.PathSeries, &list))
	assert.Equal(t, adminapi.SeriesScopeFleet, list.Scope, "the fleet by default")
	require.NotNil(t, list.Fleet)
	assert.Equal(t, 1, list.Fleet.Processes, "alone on its embedded store")
	require.Len(t, list.Services, 2)
	pay := list.Services[1]
	assert.Equal(t, "payments", pay.Service)
	assert.Equal(t, "HALF_OPEN", pay.State, "the recovery timeout passed during the minute")
	assert.Equal(t, []uint64{4, 20}, pay.Calls, "one value per recorded minute")
	require.NotNil(t, pay.Last)
	require.NotEmpty(t, list.Annotations)
	assert.Equal(t, "ops", list.Annotations[len(list.Annotations)-1].Who)

	var one adminapi.Series
	require.Equal(t, http.StatusOK, fetch(adminapi.SeriesPath("payments"), &one))
	require.Len(t, one.Minutes, 2)
	assert.Equal(t, "CLOSED", one.Minutes[0].Worst)
	outage := one.Minutes[1]
	assert.Equal(t, "OPEN", outage.Worst)
	assert.Equal(t, 60, outage.StepSeconds)
	assert.Positive(t, outage.Failures)
	assert.Positive(t, outage.Rejections)
	assert.Equal(t, uint64(20), outage.Failures+outage.Rejections)
	require.NotEmpty(t, one.Transitions)
	assert.Equal(t, "OPEN", one.Transitions[0].To)
	require.Len(t, one.Hours, 1, "the hour in progress")
	assert.Equal(t, uint64(24), one.Hours[0].Calls)

	assert.Equal(t, http.StatusNotFound, fetch(adminapi.SeriesPath("nobody"), nil))
	var proc adminapi.Series
	require.Equal(t, http.StatusOK, fetch(adminapi.SeriesPath("payments")+"?scope=process", &proc))
	assert.Equal(t, adminapi.SeriesScopeProcess, proc.Scope)
	assert.Nil(t, proc.Fleet)
	assert.Equal(t, one.Minutes, proc.Minutes, "one process: the fleet is the process")
	assert.Equal(t, http.StatusBadRequest, fetch(adminapi.PathSeries+"?scope=galaxy", nil))
}

// Two processes on one store: the series routes answer the merged fleet by
// default (calls added up, the number of processes said), the process's own
// with scope=process; the track carries replays and the emergency level,
// and an annotation another subsystem added shows on its service's plot.
func TestSeriesRoutesMergeTheFleet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC))
	st := store.NewMemoryWith(store.MemoryOptions{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	var rts []*runtime.Runtime
	for _, calls := range []int{4, 9} {
		rt, err := runtime.New(ctx, runtime.Config{CallStats: true, Logger: quiet, Store: st, Clock: clk})
		require.NoError(t, err)
		t.Cleanup(func() { rt.Close() })
		z := rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
		for range calls {
			if p, err := z.Enter(ctx); err == nil {
				z.Done(ctx, p, nil, 1)
			}
		}
		rts = append(rts, rt)
	}
	rts[1].Series().Annotate("canary", "payments", "stage 2: 25%")
	_, err := rts[0].Emergency().Declare(ctx, "ops", emergency.High, "drill")
	require.NoError(t, err)
	clk.Advance(30 * time.Second)
	h, err := admin.New(admin.Options{Runtime: rts[0], Control: rts[0].Control(), Security: admin.Security{Keys: keys()}, Port: "9090", Logger: quiet})
	require.NoError(t, err)
	fetch := func(path string, v any) {
		r := httptest.NewRequest(http.MethodGet, urlOf(path), nil)
		r.Host = testHost
		r.Header.Set(adminapi.KeyHeader, viewerKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		dec := json.NewDecoder(w.Body)
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(v))
	}
	var fleet, proc adminapi.Series
	fetch(adminapi.SeriesPath("payments"), &fleet)
	fetch(adminapi.SeriesPath("payments")+"?scope=process", &proc)
	require.NotNil(t, fleet.Fleet)
	assert.Equal(t, 2, fleet.Fleet.Processes)
	assert.Len(t, fleet.Fleet.Nodes, 2)
	require.Len(t, fleet.Minutes, 1)
	assert.Equal(t, uint64(13), fleet.Minutes[0].Calls, "4 + 9")
	assert.Equal(t, uint64(4), proc.Minutes[0].Calls)
	require.NotEmpty(t, fleet.Track.Minutes)
	assert.Equal(t, "HIGH", fleet.Track.Minutes[0].Worst, "the emergency level on the same axis")
	kinds := map[string]bool{}
	for _, a := range fleet.Annotations {
		kinds[a.Kind] = true
	}
	assert.True(t, kinds["canary"], "the other process's canary annotation: %v", fleet.Annotations)
	assert.True(t, kinds["emergency"], "the emergency change: %v", fleet.Annotations)
	for _, a := range proc.Annotations {
		assert.NotEqual(t, "canary", a.Kind, "the process scope is this process's")
	}
}

// urlOf is adminapi.URL of a path with a query.
func urlOf(pathQuery string) string {
	p, q, ok := strings.Cut(pathQuery, "?")
	if !ok {
		return adminapi.URL(p)
	}
	return adminapi.URL(p) + "?" + q
}
