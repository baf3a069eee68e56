package admin_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/emergency"
)

func emergencyAnswer(t *testing.T, r resp) adminapi.EmergencyStatus {
	t.Helper()
	var a adminapi.EmergencyAnswer
	require.NoError(t, json.Unmarshal([]byte(r.raw), &a), r.raw)
	return a.Emergency
}

func governanceAnswer(t *testing.T, r resp) adminapi.GovernanceStatus {
	t.Helper()
	var a adminapi.GovernanceAnswer
	require.NoError(t, json.Unmarshal([]byte(r.raw), &a), r.raw)
	return a.Governance
}

func TestEmergencyRoutesDeclareReleaseAndForce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{unlocked: true})
	post := func(path, key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: adminapi.URL(path), key: key, body: body,
			headers: map[string]string{adminapi.OperatorHeader: "alice"}})
	}

	st := emergencyAnswer(t, f.do(t, req{path: adminapi.URL(adminapi.PathEmergency), key: viewerKey}))
	assert.Equal(t, "NORMAL", st.Level)

	r := post(adminapi.PathEmergencyDeclare, operatorKey, `{"level":"HIGH","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Equal(t, adminapi.GateInput, get(r.json, "gate"))
	r = post(adminapi.PathEmergencyDeclare, operatorKey, `{"level":"SEVERE","reason":"x","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Contains(t, r.raw, "want NORMAL, ELEVATED, HIGH or CRITICAL")
	r = post(adminapi.PathEmergencyDeclare, operatorKey, `{"reason":"x","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Contains(t, r.raw, "a level is required")

	r = post(adminapi.PathEmergencyDeclare, operatorKey, `{"level":"HIGH","reason":"payments and ledger down","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	st = emergencyAnswer(t, r)
	assert.Equal(t, "HIGH", st.Level)
	assert.Equal(t, "operator", st.Source)
	assert.Contains(t, st.ChangedBy, "alice")
	assert.Equal(t, emergency.High, f.rt.EmergencyLevel(), "in force in the runtime")

	r = post(adminapi.PathEmergencyDeclare, operatorKey, `{"level":"ELEVATED","reason":"less","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Equal(t, adminapi.GateState, get(r.json, "gate"))

	// The release is gated: this runtime has read no error rate yet, so the level holds.
	r = post(adminapi.PathEmergencyRelease, operatorKey, `{"level":"NORMAL","reason":"fixed"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	st = emergencyAnswer(t, r)
	assert.Equal(t, "HIGH", st.Level)
	require.NotNil(t, st.Recovery)
	assert.Equal(t, "NORMAL", st.Recovery.Target)
	assert.NotEmpty(t, st.RecoveryHeld)

	r = post(adminapi.PathEmergencyForceRelease, operatorKey, `{"level":"NORMAL","reason":"drill over","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusForbidden, r.code, "force release is the admin's")
	r = post(adminapi.PathEmergencyForceRelease, adminKey, `{"level":"NORMAL","reason":"drill over","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	st = emergencyAnswer(t, r)
	assert.Equal(t, "NORMAL", st.Level)
	require.Len(t, st.Reviews, 1)
	assert.True(t, st.Reviews[0].Review)
	assert.Equal(t, "HIGH", st.Reviews[0].From)
}

func TestGovernanceRoutesStrictAndBreakGlass(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{unlocked: true})
	post := func(path, key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: adminapi.URL(path), key: key, body: body})
	}
	g := governanceAnswer(t, f.do(t, req{path: adminapi.URL(adminapi.PathGovernance), key: viewerKey}))
	require.Len(t, g.Checks, 4)
	assert.Empty(t, g.BlockedBy)
	assert.Equal(t, "HIGH", g.BlockAt)

	r := post(adminapi.PathGovernanceStrict, operatorKey, `{"reason":"release freeze","timeout":"forever"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Equal(t, adminapi.GateInput, get(r.json, "gate"))
	r = post(adminapi.PathGovernanceStrict, operatorKey, `{"reason":"release freeze","timeout":"48h"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Contains(t, r.raw, "at most 24h")
	r = post(adminapi.PathGovernanceStrict, operatorKey, `{"reason":"release freeze","timeout":"30m"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	g = governanceAnswer(t, r)
	assert.Equal(t, "strict", g.BlockedBy)
	require.NotNil(t, g.Strict)
	assert.Equal(t, "release freeze", g.Strict.Reason)

	r = post(adminapi.PathGovernanceBreakGlass, adminKey, `{"reason":"drain the refunds","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	g = governanceAnswer(t, r)
	require.NotNil(t, g.BreakGlass)
	require.Len(t, g.Reviews, 1)
	assert.Equal(t, "break_glass_open", g.Reviews[0].Action)

	r = post(adminapi.PathGovernanceBreakGlassClose, operatorKey, `{}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	r = post(adminapi.PathGovernanceBreakGlassClose, operatorKey, `{}`)
	assert.Equal(t, http.StatusConflict, r.code, "nothing open to close: %s", r.raw)
	r = post(adminapi.PathGovernanceStrictEnd, operatorKey, `{"confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Empty(t, governanceAnswer(t, r).BlockedBy)
}
