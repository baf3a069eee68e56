package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

func policyAnswer(t *testing.T, r resp) adminapi.PolicyAnswer {
	t.Helper()
	var a adminapi.PolicyAnswer
	dec := json.NewDecoder(strings.NewReader(r.raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&a), r.raw)
	return a
}

func TestPolicyRoutesSetListDiffUnset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{unlocked: true})
	post := func(path, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: adminapi.URL(path), key: operatorKey, body: body,
			headers: map[string]string{adminapi.OperatorHeader: "alice"}})
	}
	r := post(adminapi.PathPolicySet, `{"scope":"payments.Charge","values":"retry=5 bulkhead_wait=50ms","reason":"incident 42","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	a := policyAnswer(t, r)
	require.Len(t, a.Overrides, 1)
	assert.Equal(t, "retry=5 bulkhead_wait=50ms", a.Overrides[0].Values)
	assert.Contains(t, a.Overrides[0].By, "alice")
	assert.Equal(t, []string{"breaker_threshold", "breaker_recovery", "retry", "backoff", "timeout", "bulkhead", "bulkhead_wait"}, a.Keys)

	a = policyAnswer(t, f.do(t, req{path: adminapi.URL(adminapi.PathPolicy) + "?scope=payments.Charge", key: viewerKey}))
	require.Len(t, a.Zones, 1)
	assert.Equal(t, adminapi.PolicySetting{Key: "retry", Value: "5", Source: "override payments.Charge", Directive: "1"}, a.Zones[0].Settings[0])

	var d adminapi.PolicyDiffAnswer
	r = f.do(t, req{path: adminapi.URL(adminapi.PathPolicyDiff), key: viewerKey})
	require.NoError(t, json.Unmarshal([]byte(r.raw), &d), r.raw)
	require.Len(t, d.Changes, 2, r.raw)
	assert.Equal(t, "bulkhead_wait", d.Changes[1].Key)

	// Bad input: 400, says which and why, nothing stored changes.
	for body, want := range map[string]string{
		`{"scope":"payments.Charge","values":"retry=500","reason":"x","confirm":"CONFIRM"}`:        "retry: 500 is out of range; want 1..100 or off",
		`{"scope":"payments.Charge","values":"idempotency=id","reason":"x","confirm":"CONFIRM"}`:   "idempotency: cannot change at run time",
		`{"scope":"payments.Chrge","values":"retry=2","reason":"x","confirm":"CONFIRM"}`:           `unknown method \"payments.Chrge\"`,
		`{"scope":"payments.Charge","values":"retry = 2","reason":"x","confirm":"CONFIRM"}`:        `no spaces allowed around`,
		`{"scope":"payments.Refund","values":"bulkhead_wait=1s","reason":"x","confirm":"CONFIRM"}`: "bulkhead_wait: the method has no bulkhead",
		`{"scope":"payments.Charge","values":"","reason":"x","confirm":"CONFIRM"}`:                 "values are required",
		`{"values":"retry=2","reason":"x","confirm":"CONFIRM"}`:                                    "a scope is required",
		`{"scope":"payments.Charge","values":"retry=2","confirm":"CONFIRM"}`:                       "reason",
	} {
		r := post(adminapi.PathPolicySet, body)
		assert.Equal(t, http.StatusBadRequest, r.code, body)
		assert.Contains(t, r.raw, want, body)
	}
	a = policyAnswer(t, f.do(t, req{path: adminapi.URL(adminapi.PathPolicy), key: viewerKey}))
	assert.Equal(t, uint64(1), a.Version, "nothing changed")

	r = post(adminapi.PathPolicyUnset, `{"scope":"payments.Charge","reason":"over","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Empty(t, policyAnswer(t, r).Overrides)
	r = post(adminapi.PathPolicyUnset, `{"scope":"payments.Charge","reason":"again","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusNotFound, r.code, r.raw)
}
