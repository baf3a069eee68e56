package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/emergency"
)

func TestCanaryRoutesStartRefuseBypassAndPanic(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{unlocked: true})
	f.rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3})
	f.rt.Zone(runtime.ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Attempts: 2})
	post := func(path, key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: adminapi.URL(path), key: key, body: body,
			headers: map[string]string{adminapi.OperatorHeader: "alice"}})
	}
	list := func() adminapi.CanaryList {
		r := f.do(t, req{path: adminapi.URL(adminapi.PathCanary), key: viewerKey})
		require.Equal(t, http.StatusOK, r.code, r.raw)
		var l adminapi.CanaryList
		require.NoError(t, json.Unmarshal([]byte(r.raw), &l), r.raw)
		return l
	}
	assert.Empty(t, list().Rollouts)
	assert.Equal(t, []float64{1, 10, 50, 100}, list().Thresholds.Stages)

	r := post(adminapi.PathCanaryStart, operatorKey, `{"scope":"method","service":"payments","method":"Charge","directive":"retry=5","reason":"tune"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	var started adminapi.CanaryAnswer
	require.NoError(t, json.Unmarshal([]byte(r.raw), &started))
	assert.Equal(t, "running", started.Rollout.State)
	assert.InDelta(t, 1, started.Rollout.Percent, 1e-9)
	assert.Contains(t, started.Rollout.Who, "alice")

	// Bad input: a 400 naming which and why; nothing changed.
	for _, tc := range []struct{ body, want string }{
		{`{"scope":"service","service":"ledger","directive":"retry=2","stages":[0,100]}`, "stage 1 is 0 %"},
		{`{"scope":"service","service":"ledger","directive":"retry=2","stages":[10,150]}`, "stage 2 is 150 %"},
		{`{"scope":"method","service":"payments","method":"Charge","directive":"retry=3"}`, "already changes retry"},
		{`{"scope":"service","service":"ledger","directive":"retry"}`, "directive"},
		{`{"scope":"service","service":"ledger","directive":"retry=2","bypass":"no"}`, "only canary/start-bypass/"},
		{`{"scope":"zone","directive":"retry=2"}`, `want method, service or all`},
	} {
		r := post(adminapi.PathCanaryStart, operatorKey, tc.body)
		assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
		assert.Equal(t, adminapi.GateInput, get(r.json, "gate"), r.raw)
		assert.Contains(t, r.raw, tc.want)
	}
	assert.Len(t, list().Rollouts, 1, "nothing changed")

	// A gate refuses and names itself.
	_, err := f.rt.Emergency().Declare(context.Background(), "ops", emergency.Elevated, "drill")
	require.NoError(t, err)
	ledger := `{"scope":"service","service":"ledger","directive":"retry=1"`
	r = post(adminapi.PathCanaryStart, operatorKey, ledger+`}`)
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Contains(t, r.raw, "blocked by emergency")

	// The bypass: admin, CONFIRM, a written reason; flagged for review.
	r = post(adminapi.PathCanaryStartBypass, operatorKey, ledger+`,"bypass":"incident 9","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusForbidden, r.code, r.raw)
	assert.Equal(t, adminapi.GateRole, get(r.json, "gate"))
	r = post(adminapi.PathCanaryStartBypass, adminKey, ledger+`,"bypass":"incident 9"}`)
	assert.Equal(t, adminapi.GateConfirm, get(r.json, "gate"), r.raw)
	r = post(adminapi.PathCanaryStartBypass, adminKey, ledger+`,"confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Contains(t, r.raw, "a written reason")
	r = post(adminapi.PathCanaryStartBypass, adminKey, ledger+`,"bypass":"incident 9: the fix","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	var bypassed adminapi.CanaryAnswer
	require.NoError(t, json.Unmarshal([]byte(r.raw), &bypassed))
	assert.True(t, bypassed.Rollout.Review)

	r = f.do(t, req{path: adminapi.URL(adminapi.CanaryPath(adminapi.PathCanaryRollout, bypassed.Rollout.ID)), key: viewerKey})
	assert.Equal(t, http.StatusOK, r.code, r.raw)
	r = f.do(t, req{path: adminapi.URL(adminapi.CanaryPath(adminapi.PathCanaryRollout, "0bad")), key: viewerKey})
	assert.Equal(t, http.StatusNotFound, r.code, r.raw)

	// The panic button: admin, CONFIRM, a reason; every running rollout.
	r = post(adminapi.PathCanaryPanicRollback, operatorKey, `{"reason":"x","confirm":"CONFIRM"}`)
	assert.Equal(t, adminapi.GateRole, get(r.json, "gate"), r.raw)
	r = post(adminapi.PathCanaryPanicRollback, adminKey, `{"reason":"x"}`)
	assert.Equal(t, adminapi.GateConfirm, get(r.json, "gate"), r.raw)
	r = post(adminapi.PathCanaryPanicRollback, adminKey, `{"confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	r = post(adminapi.PathCanaryPanicRollback, adminKey, `{"reason":"revert all","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	var p adminapi.CanaryPanicAnswer
	require.NoError(t, json.Unmarshal([]byte(r.raw), &p))
	assert.Len(t, p.RolledBack, 2)
	for _, ro := range list().Rollouts {
		assert.Equal(t, "rolled_back", ro.State)
	}
}

func TestCanaryPanicRollbackIsLockedWithoutTheUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, req{method: http.MethodPost, path: adminapi.URL(adminapi.PathCanaryPanicRollback), key: adminKey,
		body: `{"reason":"x","confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusForbidden, r.code, r.raw)
	assert.Equal(t, adminapi.GateUnlock, get(r.json, "gate"))
}
