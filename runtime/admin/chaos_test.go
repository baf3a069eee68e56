package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/emergency"
)

func chaosAnswer(t *testing.T, r resp) adminapi.ChaosAnswer {
	t.Helper()
	var a adminapi.ChaosAnswer
	require.NoError(t, json.Unmarshal([]byte(r.raw), &a), r.raw)
	return a
}

func TestChaosRoutesStartListStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{unlocked: true})
	post := func(path, key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: adminapi.URL(path), key: key, body: body,
			headers: map[string]string{adminapi.OperatorHeader: "alice"}})
	}
	list := func() adminapi.ChaosAnswer {
		return chaosAnswer(t, f.do(t, req{path: adminapi.URL(adminapi.PathChaos), key: viewerKey}))
	}
	a := list()
	assert.Empty(t, a.Experiments, "nothing is injected by default")
	assert.Equal(t, "1h0m0s", a.MaxFor)

	// Bad input: 400 naming the field and why; nothing changes.
	for body, want := range map[string]string{
		`{"service":"payments","error_percent":150,"for":"5m","confirm":"CONFIRM"}`: "errors: 150% is outside 0–100%",
		`{"service":"nope","error_percent":20,"for":"5m","confirm":"CONFIRM"}`:      "no protected method of this process declares it",
		`{"service":"payments","error_percent":20,"for":"0s","confirm":"CONFIRM"}`:  "want a positive duration",
		`{"service":"payments","error_percent":20,"for":"3h","confirm":"CONFIRM"}`:  "for: 3h0m0s is longer than the cap 1h0m0s",
		`{"service":"payments","for":"5m","confirm":"CONFIRM"}`:                     "no fault",
		`{"service":"payments","latency":"fast","for":"5m","confirm":"CONFIRM"}`:    "want a Go duration",
		`{"error_percent":20,"for":"5m","confirm":"CONFIRM"}`:                       "service: a service name is required",
	} {
		r := post(adminapi.PathChaos, adminKey, body)
		assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
		assert.Equal(t, adminapi.GateInput, get(r.json, "gate"), body)
		assert.Contains(t, r.raw, want, body)
	}
	assert.Empty(t, list().Experiments, "bad input changed nothing")
	assert.False(t, f.rt.Chaos().Active("payments"))

	r := post(adminapi.PathChaos, operatorKey, `{"service":"payments","error_percent":20,"for":"5m","confirm":"CONFIRM"}`)
	assert.Equal(t, http.StatusForbidden, r.code, "starting an experiment is the admin's: %s", r.raw)
	r = post(adminapi.PathChaos, adminKey, `{"service":"payments","error_percent":20,"latency":"200ms","for":"5m","reason":"game day"}`)
	assert.Equal(t, http.StatusForbidden, r.code, "CONFIRM is required: %s", r.raw)

	r = post(adminapi.PathChaos, adminKey, `{"service":"payments","error_percent":20,"latency":"200ms","for":"5m","reason":"game day","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	a = chaosAnswer(t, r)
	require.NotNil(t, a.Started)
	assert.Equal(t, "200ms", a.Started.Latency)
	assert.Equal(t, 100.0, a.Started.LatencyPercent)
	assert.Contains(t, a.Started.By, "alice")
	assert.True(t, a.Started.Applied)
	require.Len(t, a.Experiments, 1)
	assert.True(t, f.rt.Chaos().Active("payments"))

	// Visible where the breaker is.
	b := f.do(t, req{path: adminapi.URL(adminapi.BreakerPath(adminapi.PathBreaker, "payments")), key: viewerKey})
	assert.Equal(t, true, b.json["breaker"].(map[string]any)["chaos"], b.raw)
	s := f.do(t, req{path: adminapi.URL(adminapi.PathSummary) + "?nocache=true", key: viewerKey})
	assert.Contains(t, s.raw, `"chaos": [`, s.raw)

	r = post(adminapi.PathChaosStop, operatorKey, `{"service":"ledger"}`)
	assert.Equal(t, http.StatusNotFound, r.code, r.raw)
	r = post(adminapi.PathChaosStop, operatorKey, `{"service":"payments","reason":"seen enough"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	a = chaosAnswer(t, r)
	require.NotNil(t, a.Stopped)
	assert.Empty(t, a.Experiments)
	assert.False(t, f.rt.Chaos().Active("payments"))

	// Audited by the gate layer.
	ctx := context.Background()
	require.NoError(t, f.rt.Audit().Sync(ctx))
	page, err := f.rt.Audit().List(ctx, audit.Query{Limit: audit.MaxLimit})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, rec := range page.Records {
		if rec.Outcome == audit.OutcomeOK {
			actions[rec.Action]++
		}
	}
	assert.Equal(t, 1, actions[adminapi.URL(adminapi.PathChaos)]+actions["chaos"]+actions["POST "+adminapi.URL(adminapi.PathChaos)], "%v", actions)
}

func TestChaosRefusedFromEmergencyHigh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{unlocked: true})
	_, err := f.rt.Emergency().Declare(context.Background(), "test", emergency.High, "drill")
	require.NoError(t, err)
	r := f.do(t, req{method: http.MethodPost, path: adminapi.URL(adminapi.PathChaos), key: adminKey,
		body: `{"service":"payments","error_percent":20,"for":"5m","confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Contains(t, r.raw, "emergency level is HIGH")
	assert.False(t, f.rt.Chaos().Active("payments"))
}
