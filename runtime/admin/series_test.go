package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/clock"
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
		r := httptest.NewRequest(http.MethodGet, adminapi.URL(path), nil)
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
	assert.Equal(t, adminapi.SeriesScopeProcess, list.Scope)
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
}
