package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) {
	if runChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func TestIndexListsEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, path := range []string{"/api/baldur/", "/api/baldur"} {
		r := f.do(t, req{path: path, key: viewerKey})
		require.Equal(t, http.StatusOK, r.code, r.raw)
		assert.Contains(t, r.raw, `"path": "/api/baldur/control/go-live/"`)
		assert.Contains(t, r.raw, `"path": "/api/baldur/breakers/{name}/force-open/"`)
	}
}

func TestTrailingSlashIsOptional(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, p := range []string{"/api/baldur/breakers", "/api/baldur/breakers/", "/api/baldur/health/live", "/api/baldur/health/live/"} {
		assert.Equal(t, http.StatusOK, f.do(t, req{path: p, key: viewerKey}).code, p)
	}
}

func TestUnknownRouteSaysWhereToLook(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/api/baldur/nope/", key: viewerKey})
	assert.Equal(t, http.StatusNotFound, r.code)
	assert.Equal(t, admin.GateRoute, r.json["gate"])
	assert.Contains(t, r.json["hint"], "GET /api/baldur/")
}

func TestWhoAmI(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true})
	r := f.do(t, req{path: "/api/baldur/whoami/", key: operatorKey})
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, "operator", r.json["role"])
	assert.Equal(t, true, r.json["unlocked"])
	assert.Equal(t, true, r.json["keys_configured"])
}

// --- health -------------------------------------------------------------

func TestHealthProbes(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// Probes need no key and ignore Host: load balancers send the pod IP.
	for path, want := range map[string]string{
		"/api/baldur/health/live/":  `"status": "alive"`,
		"/api/baldur/health/ping/":  `"pong": true`,
		"/api/baldur/health/ready/": `"status": "ready"`,
		"/api/baldur/health/":       `"status": "healthy"`,
	} {
		r := f.do(t, req{path: path, host: "10.1.2.3:9090"})
		assert.Equal(t, http.StatusOK, r.code, path)
		assert.Contains(t, r.raw, want, path)
	}
}

func TestHealthDegradedWhenABreakerIsOpen(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	b, _ := f.rt.Breaker("ledger")
	b.ForceOpen("test")
	r := f.do(t, req{path: "/api/baldur/health/?nocache=true", key: viewerKey})
	assert.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, admin.Degraded, r.json["status"])
	assert.Equal(t, []any{"ledger=FORCED_OPEN"}, get(r.json, "checks", "breakers", "detail"))
}

func TestHealthCacheAndNocache(t *testing.T) {
	calls := 0
	f := newFixture(t, fixtureOpts{checks: []admin.Check{{Name: "db", Func: func(context.Context) error { calls++; return nil }}}})
	r := f.do(t, req{path: "/api/baldur/health/"})
	assert.Equal(t, false, r.json["cached"])
	r = f.do(t, req{path: "/api/baldur/health/"})
	assert.Equal(t, true, r.json["cached"])
	assert.Equal(t, 1, calls)
	r = f.do(t, req{path: "/api/baldur/health/?nocache=true"})
	assert.Equal(t, false, r.json["cached"])
	assert.Equal(t, 2, calls)

	r = f.do(t, req{path: "/api/baldur/health/?nocache=perhaps"})
	assert.Equal(t, http.StatusBadRequest, r.code)
	assert.Equal(t, admin.GateInput, r.json["gate"])
	assert.Contains(t, r.json["error"], `nocache="perhaps"`)
}

func TestHealthUnhealthyOnCriticalCheck(t *testing.T) {
	f := newFixture(t, fixtureOpts{checks: []admin.Check{
		{Name: "db", Critical: true, Func: func(context.Context) error { return errors.New("connection refused") }},
		{Name: "cache", Func: func(context.Context) error { panic("boom") }},
	}})
	r := f.do(t, req{path: "/api/baldur/health/", key: viewerKey})
	assert.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Equal(t, admin.Unhealthy, r.json["status"])
	assert.Equal(t, "connection refused", get(r.json, "checks", "db", "error"))
	assert.Equal(t, admin.Degraded, get(r.json, "checks", "cache", "status"))
	assert.Contains(t, get(r.json, "checks", "cache", "error"), "panicked")

	r = f.do(t, req{path: "/api/baldur/health/ready/"})
	assert.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Equal(t, "5", r.header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, f.do(t, req{path: "/api/baldur/health/live/"}).code)
}

// unreachableRedis is a store whose reads fail with an error naming the
// Redis address, as go-redis's do.
type unreachableRedis struct{ store.Store }

func (unreachableRedis) Get(context.Context, string) ([]byte, error) {
	return nil, errors.New("dial tcp 10.20.30.40:6379: connect: connection refused")
}

// TestHealthWithoutAViewerKeyGivesStatusWordsOnly: health/ needs no key (load
// balancers), so without one it says how things are and nothing else; the
// kill switch's reason and author, the control store's address or path, open
// breakers and check errors are the viewer's.
func TestHealthWithoutAViewerKeyGivesStatusWordsOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	mem := store.NewMemory()
	t.Cleanup(func() { mem.Close() })
	ctl, err := control.New(context.Background(), control.Options{Store: unreachableRedis{mem}, Where: "redis",
		Logger: quiet, PollInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { ctl.Close() })
	_, err = ctl.Disable(context.Background(), "mallory-oncall", "incident at db-7, runbook secret-ops")
	require.NoError(t, err)
	h, err := admin.New(admin.Options{Runtime: f.rt, Control: ctl, Logger: quiet, Port: "9090",
		Security: admin.Security{Keys: keys()},
		Checks:   []admin.Check{{Name: "db", Func: func(context.Context) error { return errors.New("db-7.internal:5432 refused") }}}})
	require.NoError(t, err)
	f.h = h
	b, _ := f.rt.Breaker("ledger")
	b.ForceOpen("test")
	secrets := []string{"mallory", "incident", "db-7", "10.20.30.40", "ledger", "changed_by", "reason", "detail", "error"}

	for name, r := range map[string]req{
		"no key":                     {path: "/api/baldur/health/?nocache=true"},
		"wrong key":                  {path: "/api/baldur/health/?nocache=true", key: "not-a-key-0123456789"},
		"viewer key, foreign host":   {path: "/api/baldur/health/?nocache=true", key: viewerKey, host: "10.1.2.3:9090"},
		"viewer key, foreign origin": {path: "/api/baldur/health/", key: viewerKey, origin: "https://evil.example"},
		"cached answer, no key":      {path: "/api/baldur/health/"},
	} {
		res := f.do(t, r)
		assert.Equal(t, http.StatusOK, res.code, name)
		assert.Equal(t, admin.Degraded, res.json["status"], name)
		for check, want := range map[string]string{"breakers": admin.Degraded, "control": admin.Degraded, "db": admin.Degraded, "store": admin.Healthy} {
			assert.Equal(t, map[string]any{"status": want}, get(res.json, "checks", check), "%s: %s", name, check)
		}
		for _, s := range secrets {
			assert.NotContains(t, res.raw, s, "%s: the answer holds only status words", name)
		}
	}

	res := f.do(t, req{path: "/api/baldur/health/", key: viewerKey})
	require.Equal(t, http.StatusOK, res.code)
	assert.Equal(t, []any{"ledger=FORCED_OPEN"}, get(res.json, "checks", "breakers", "detail"))
	assert.Contains(t, get(res.json, "checks", "control", "error"), "10.20.30.40:6379")
	assert.Equal(t, "incident at db-7, runbook secret-ops", get(res.json, "checks", "control", "detail", "reason"))
	assert.Contains(t, get(res.json, "checks", "db", "error"), "db-7.internal")
}

func TestDrainingTurnsReadinessOnly(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.h.SetDraining(true)
	r := f.do(t, req{path: "/api/baldur/health/ready/"})
	assert.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Equal(t, "draining", r.json["status"])
	assert.Equal(t, "5", r.header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, f.do(t, req{path: "/api/baldur/health/live/"}).code)
	assert.Equal(t, http.StatusOK, f.do(t, req{path: "/api/baldur/health/ping/"}).code)
	assert.Equal(t, true, f.do(t, req{path: "/api/baldur/health/"}).json["draining"])
}

func TestPool(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/api/baldur/health/pool/"})
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, []any{map[string]any{"name": "payments", "active": float64(0), "max": float64(4)}}, r.json["compartments"])
	assert.Equal(t, "healthy", r.json["status"])
	assert.Equal(t, "embedded", r.json["store"])
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "baldur_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	f := newFixture(t, fixtureOpts{opts: func(o *admin.Options) { o.Gatherer = reg }})
	r := f.do(t, req{path: "/api/baldur/metrics"})
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.raw, "baldur_test_total 3")

	def := newFixture(t, fixtureOpts{}) // no Gatherer: the runtime's own metrics
	r = def.do(t, req{path: "/api/baldur/metrics"})
	require.Equal(t, http.StatusOK, r.code)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(r.raw))
	require.NoError(t, err)
	require.Contains(t, fams, "baldur_breaker_state")
	require.Contains(t, fams, "baldur_calls_total")
	assert.Len(t, fams["baldur_breaker_state"].GetMetric(), 10, "two breakers, five states each")
	assert.Contains(t, fams, "go_goroutines")
}

// --- dashboard ------------------------------------------------------------

// --- breakers -------------------------------------------------------------

func TestBreakersListAndGet(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	list := r.json["breakers"].([]any)
	require.Len(t, list, 2)
	assert.Equal(t, "ledger", get(list[0], "name"))
	assert.Equal(t, "payments", get(list[1], "name"))
	assert.Equal(t, []any{"Charge", "Refund"}, get(list[1], "methods"))
	assert.Equal(t, float64(5), get(list[1], "limits", "failure_threshold"))

	r = f.do(t, req{path: "/api/baldur/breakers/payments/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, "CLOSED", get(r.json, "breaker", "state"))

	r = f.do(t, req{path: "/api/baldur/breakers/nope/", key: viewerKey})
	assert.Equal(t, http.StatusNotFound, r.code)
	assert.Equal(t, `no breaker named "nope"`, r.json["error"])
	assert.Equal(t, admin.GateNotFound, r.json["gate"])
	assert.Equal(t, "known breakers: ledger, payments", r.json["hint"])
}

func TestBreakerActions(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true})
	post := func(action, key string) resp {
		return f.do(t, req{method: http.MethodPost, path: "/api/baldur/breakers/payments/" + action + "/", key: key,
			body: `{"confirm":"CONFIRM","reason":"drill"}`, headers: map[string]string{admin.OperatorHeader: "alice"}})
	}
	r := post("force-open", operatorKey)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "FORCED_OPEN", get(r.json, "breaker", "state"))
	assert.Equal(t, "CLOSED", r.json["previous_state"])
	assert.Equal(t, "alice (operator)", r.json["by"])
	assert.Equal(t, "drill (by alice (operator))", get(r.json, "breaker", "last_transition", "reason"))
	assert.Equal(t, breaker.ForcedOpen, f.state(t, "payments"))

	require.Equal(t, http.StatusOK, post("auto", adminKey).code)
	assert.Equal(t, breaker.Closed, f.state(t, "payments"))
	require.Equal(t, http.StatusOK, post("force-close", operatorKey).code)
	assert.Equal(t, breaker.ForcedClosed, f.state(t, "payments"))
	require.Equal(t, http.StatusOK, post("reset", operatorKey).code)
	assert.Equal(t, breaker.Closed, f.state(t, "payments"))
}

func TestBreakerActionRefusedWhileKillSwitchDisabled(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true})
	_, err := f.ctl.Disable(context.Background(), "bob", "incident 42")
	require.NoError(t, err)
	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/breakers/payments/force-open/", key: operatorKey, body: `{"confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, admin.GateKillSwitch, r.json["gate"])
	assert.Contains(t, r.json["error"], `force-open payments refused: the kill switch is DISABLED (by bob at`)
	assert.Contains(t, r.json["hint"], `"override":true`)
	assert.Equal(t, breaker.Closed, f.state(t, "payments"))

	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/breakers/payments/force-open/", key: operatorKey, body: `{"confirm":"CONFIRM","override":true}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, breaker.ForcedOpen, f.state(t, "payments"))
}

// TestRefusals walks every gate: each refusal names its gate, says how to pass
// it, and leaves the breaker and the switches as they were.
func TestRefusals(t *testing.T) {
	const forceOpen = "/api/baldur/breakers/payments/force-open/"
	good := `{"confirm":"CONFIRM","reason":"drill"}`
	cases := []struct {
		name     string
		locked   bool
		noKeys   bool
		r        req
		code     int
		gate     string
		errHas   string
		hintHas  string
		allowHdr string
	}{
		{name: "no key", r: req{method: "POST", path: forceOpen, body: good},
			code: 401, gate: admin.GateKey, errHas: "needs an admin key", hintHas: "X-Baldur-Key"},
		{name: "wrong key", r: req{method: "POST", path: forceOpen, key: "not-the-key-0123456789", body: good},
			code: 401, gate: admin.GateKey, errHas: "not valid", hintHas: "BALDUR_ADMIN_KEY"},
		{name: "no key for a read", r: req{path: "/api/baldur/breakers/"},
			code: 401, gate: admin.GateKey, errHas: "needs an admin key"},
		{name: "no keys configured", noKeys: true, r: req{method: "POST", path: forceOpen, body: good},
			code: 403, gate: admin.GateKey, errHas: "no admin key is configured", hintHas: "BALDUR_ADMIN_KEY="},
		{name: "viewer role", r: req{method: "POST", path: forceOpen, key: viewerKey, body: good},
			code: 403, gate: admin.GateRole, errHas: "needs the operator role; the key presented has viewer", hintHas: "BALDUR_ADMIN_KEYS"},
		{name: "operator cannot go live", r: req{method: "POST", path: "/api/baldur/control/go-live/", key: operatorKey, body: good},
			code: 403, gate: admin.GateRole, errHas: "needs the admin role"},
		{name: "locked", locked: true, r: req{method: "POST", path: forceOpen, key: adminKey, body: good},
			code: 403, gate: admin.GateUnlock, errHas: "locked", hintHas: "BALDUR_ADMIN_UNLOCK=1"},
		{name: "locked kill switch", locked: true, r: req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey, body: good},
			code: 403, gate: admin.GateUnlock, errHas: "locked"},
		{name: "no confirm", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"reason":"x"}`},
			code: 403, gate: admin.GateConfirm, errHas: `needs the typed confirmation "CONFIRM"`, hintHas: `{"confirm":"CONFIRM"}`},
		{name: "confirm typed wrong", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"confirm":"confirm"}`},
			code: 403, gate: admin.GateConfirm, errHas: `confirmation "confirm" is not "CONFIRM"`},
		{name: "empty body has no confirm", r: req{method: "POST", path: forceOpen, key: adminKey},
			code: 403, gate: admin.GateConfirm},
		{name: "foreign origin", r: req{method: "POST", path: forceOpen, key: adminKey, body: good, origin: "https://evil.example"},
			code: 403, gate: admin.GateOrigin, errHas: `origin "https://evil.example" is not allowed`, hintHas: "BALDUR_ALLOWED_ORIGINS"},
		{name: "lookalike origin", r: req{method: "POST", path: forceOpen, key: adminKey, body: good, origin: "http://localhost.evil.example"},
			code: 403, gate: admin.GateOrigin, errHas: "localhost.evil.example"},
		{name: "origin on another port", r: req{method: "POST", path: forceOpen, key: adminKey, body: good, origin: "http://localhost:8080"},
			code: 403, gate: admin.GateOrigin},
		{name: "null origin", r: req{method: "POST", path: forceOpen, key: adminKey, body: good, origin: "null"},
			code: 403, gate: admin.GateOrigin},
		{name: "foreign origin on a read", r: req{path: "/api/baldur/breakers/", key: viewerKey, origin: "http://localhost.evil.example"},
			code: 403, gate: admin.GateOrigin},
		{name: "rebinding host", r: req{method: "POST", path: forceOpen, key: adminKey, body: good, host: "attacker.example:9090"},
			code: 403, gate: admin.GateHost, errHas: `host "attacker.example:9090" is not allowed`},
		{name: "lookalike host", r: req{path: "/api/baldur/breakers/", key: viewerKey, host: "localhost.evil.example:9090"},
			code: 403, gate: admin.GateHost},
		{name: "host on another port", r: req{path: "/api/baldur/breakers/", key: viewerKey, host: "localhost:8080"},
			code: 403, gate: admin.GateHost},
		{name: "oversized body", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"confirm":"CONFIRM","reason":"` + strings.Repeat("x", 70<<10) + `"}`},
			code: 413, gate: admin.GateBody, errHas: "larger than 65536 bytes"},
		{name: "malformed JSON", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"confirm":"CONFIRM"`},
			code: 400, gate: admin.GateBody, errHas: "malformed JSON body", hintHas: "one JSON object"},
		{name: "two JSON values", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"confirm":"CONFIRM"} {}`},
			code: 400, gate: admin.GateBody, errHas: "more than one JSON value"},
		{name: "typo in a field", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"confrim":"CONFIRM"}`},
			code: 400, gate: admin.GateBody, errHas: `unknown field "confrim"`},
		{name: "not an object", r: req{method: "POST", path: forceOpen, key: adminKey, body: `["CONFIRM"]`},
			code: 400, gate: admin.GateBody},
		{name: "form post", r: req{method: "POST", path: forceOpen, key: adminKey, body: "confirm=CONFIRM", ctype: "application/x-www-form-urlencoded"},
			code: 415, gate: admin.GateContentType, errHas: "not application/json"},
		{name: "wrong method", r: req{method: "GET", path: forceOpen, key: adminKey},
			code: 405, gate: admin.GateMethod, errHas: "method GET is not allowed", hintHas: "use POST", allowHdr: "POST"},
		{name: "wrong method on a read", r: req{method: "DELETE", path: "/api/baldur/breakers/", key: adminKey},
			code: 405, gate: admin.GateMethod, allowHdr: "GET"},
		{name: "preflight", r: req{method: "OPTIONS", path: forceOpen, origin: "https://evil.example"},
			code: 405, gate: admin.GateMethod},
		{name: "unknown breaker", r: req{method: "POST", path: "/api/baldur/breakers/nope/force-open/", key: adminKey, body: good},
			code: 404, gate: admin.GateNotFound, errHas: `no breaker named "nope"`, hintHas: "ledger, payments"},
		{name: "reason of only spaces", r: req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey, body: `{"confirm":"CONFIRM","reason":"   "}`},
			code: 400, gate: admin.GateInput, errHas: "the one given is blank", hintHas: "--reason"},
		{name: "reason of only a zero-width space", r: req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey, body: `{"confirm":"CONFIRM","reason":"\u200b"}`},
			code: 400, gate: admin.GateInput, errHas: "only invisible or control characters", hintHas: "--reason"},
		{name: "reason of only NUL", r: req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey, body: `{"confirm":"CONFIRM","reason":"\u0000"}`},
			code: 400, gate: admin.GateInput, errHas: "only invisible or control characters"},
		{name: "breaker reason of only a zero-width space", r: req{method: "POST", path: forceOpen, key: adminKey, body: `{"confirm":"CONFIRM","reason":"\u200b"}`},
			code: 400, gate: admin.GateInput, errHas: "only invisible or control characters"},
		{name: "no reason", r: req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey, body: `{"confirm":"CONFIRM"}`},
			code: 400, gate: admin.GateInput, errHas: "a reason is required"},
		{name: "reason too long", r: req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey, body: `{"confirm":"CONFIRM","reason":"` + strings.Repeat("x", 501) + `"}`},
			code: 400, gate: admin.GateInput, errHas: "at most 500"},
		{name: "go-live confirm typed wrong", r: req{method: "POST", path: "/api/baldur/control/go-live/", key: adminKey, body: `{"confirm":"CONFIRMED"}`},
			code: 403, gate: admin.GateConfirm, errHas: `"CONFIRMED"`},
		{name: "dry-run off needs confirm", r: req{method: "POST", path: "/api/baldur/control/dry-run/off/", key: adminKey, body: `{}`},
			code: 403, gate: admin.GateConfirm},
		{name: "bad would-have limit", r: req{path: "/api/baldur/control/would-have/?limit=0", key: viewerKey},
			code: 400, gate: admin.GateInput, errHas: `limit="0"`},
		{name: "console from a rebinding host", r: req{path: "/", host: "attacker.example:9090"},
			code: 403, gate: admin.GateHost},
		{name: "console is read-only", r: req{method: "POST", path: "/", key: adminKey},
			code: 405, gate: admin.GateMethod},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{unlocked: !tc.locked, noKeys: tc.noKeys})
			_, err := f.ctl.StartDryRun(context.Background(), "setup", "") // so that go-live cases have something to change
			require.NoError(t, err)
			before := f.ctl.Status()
			r := f.do(t, tc.r)
			assert.Equal(t, tc.code, r.code, r.raw)
			assert.Equal(t, tc.gate, r.json["gate"], r.raw)
			assert.NotEmpty(t, r.json["error"])
			assert.NotEmpty(t, r.json["hint"], "every refusal says how to pass")
			if tc.errHas != "" {
				assert.Contains(t, r.json["error"], tc.errHas)
			}
			if tc.hintHas != "" {
				assert.Contains(t, r.json["hint"], tc.hintHas)
			}
			if tc.allowHdr != "" {
				assert.Equal(t, tc.allowHdr, r.header.Get("Allow"))
			}
			assert.Equal(t, breaker.Closed, f.state(t, "payments"), "breaker unchanged")
			assert.Equal(t, breaker.Closed, f.state(t, "ledger"), "breaker unchanged")
			assert.Equal(t, before, f.ctl.Status(), "control unchanged")
			assert.True(t, f.rt.Enabled())
			assert.True(t, f.rt.DryRun())
		})
	}
}

func TestAllowedOriginsExtendLoopback(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true, origins: []string{"https://ops.example.com"}})
	r := f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, host: "ops.example.com", origin: "https://ops.example.com"})
	assert.Equal(t, http.StatusOK, r.code, r.raw)
	r = f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, origin: "http://localhost:9090"})
	assert.Equal(t, http.StatusOK, r.code, "loopback stays allowed")
	r = f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, host: "ops.example.com", origin: "https://ops.example.com.evil.example"})
	assert.Equal(t, http.StatusForbidden, r.code)
}

func TestLoopbackOriginsAndHostsAreAllowed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, hostOrigin := range [][2]string{
		{"localhost:9090", "http://localhost:9090"},
		{"127.0.0.1:9090", "http://127.0.0.1:9090"},
		{"[::1]:9090", "http://[::1]:9090"},
		{"LOCALHOST:9090", "HTTP://LOCALHOST:9090"},
	} {
		r := f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, host: hostOrigin[0], origin: hostOrigin[1]})
		assert.Equal(t, http.StatusOK, r.code, hostOrigin)
	}
}

func TestMountedWithoutPortAllowsLoopbackOnAnyPort(t *testing.T) {
	f := newFixture(t, fixtureOpts{opts: func(o *admin.Options) { o.Port = "" }})
	r := f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, host: "localhost:8123", origin: "http://localhost:8123"})
	assert.Equal(t, http.StatusOK, r.code)
	r = f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, host: "localhost:8123", origin: "http://localhost.evil.example:8123"})
	assert.Equal(t, http.StatusForbidden, r.code)
	r = f.do(t, req{path: "/api/baldur/breakers/", key: viewerKey, host: "evil.example:8123"})
	assert.Equal(t, http.StatusForbidden, r.code)
}

func TestNoKeysConfiguredReadsAreOpen(t *testing.T) {
	f := newFixture(t, fixtureOpts{noKeys: true})
	r := f.do(t, req{path: "/api/baldur/breakers/"})
	assert.Equal(t, http.StatusOK, r.code)
	r = f.do(t, req{path: "/api/baldur/whoami/"})
	assert.Equal(t, false, r.json["keys_configured"])
	r = f.do(t, req{method: "POST", path: "/api/baldur/control/dry-run/on/", body: `{}`})
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.False(t, f.rt.DryRun())
}

// --- control --------------------------------------------------------------

// TestDryRunOnIsGatedLikeDisable: dry-run lets duplicates through idempotency,
// so switching it on needs what the kill switch needs: an operator key, a
// server started unlocked and the typed confirmation.
func TestDryRunOnIsGatedLikeDisable(t *testing.T) {
	t.Parallel()
	const path = "/api/baldur/control/dry-run/on/"
	for _, tc := range []struct {
		name     string
		unlocked bool
		key      string
		body     string
		code     int
		gate     string
	}{
		{"locked server", false, operatorKey, `{"confirm":"CONFIRM"}`, http.StatusForbidden, admin.GateUnlock},
		{"no confirmation", true, operatorKey, `{}`, http.StatusForbidden, admin.GateConfirm},
		{"confirmation typed wrong", true, operatorKey, `{"confirm":"confirm"}`, http.StatusForbidden, admin.GateConfirm},
		{"viewer key", true, viewerKey, `{"confirm":"CONFIRM"}`, http.StatusForbidden, admin.GateRole},
		{"no key", true, "", `{"confirm":"CONFIRM"}`, http.StatusUnauthorized, admin.GateKey},
		{"operator, unlocked, confirmed", true, operatorKey, `{"confirm":"CONFIRM","reason":"rehearsal"}`, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{unlocked: tc.unlocked})
			r := f.do(t, req{method: "POST", path: path, key: tc.key, body: tc.body})
			require.Equal(t, tc.code, r.code, r.raw)
			if tc.gate != "" {
				assert.Equal(t, tc.gate, r.json["gate"], r.raw)
				assert.NotEmpty(t, r.json["hint"])
			}
			assert.Equal(t, tc.code == http.StatusOK, f.rt.DryRun())
			assert.Equal(t, tc.code == http.StatusOK, f.ctl.Status().Mode == control.DryRun)
		})
	}
}

func TestControlFlow(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true})
	post := func(path, key, body string) resp {
		return f.do(t, req{method: "POST", path: "/api/baldur/control/" + path, key: key, body: body,
			headers: map[string]string{admin.OperatorHeader: "alice"}})
	}
	r := f.do(t, req{path: "/api/baldur/control/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, "ENABLED", get(r.json, "control", "kill_switch"))
	assert.Equal(t, "LIVE", get(r.json, "control", "mode"))

	r = post("disable/", operatorKey, `{"confirm":"CONFIRM","reason":"  incident 42 "}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "DISABLED", get(r.json, "control", "kill_switch"))
	assert.Equal(t, "alice (operator)", get(r.json, "change", "who"))
	assert.Equal(t, "incident 42", get(r.json, "change", "reason"))
	assert.False(t, f.rt.Enabled(), "the runtime's atomic switch follows")

	r = post("dry-run/on/", operatorKey, `{}`) // gated like disable: the confirmation is needed
	require.Equal(t, http.StatusForbidden, r.code, r.raw)
	assert.Equal(t, admin.GateConfirm, r.json["gate"])
	assert.False(t, f.rt.DryRun())
	r = post("dry-run/on/", operatorKey, `{"confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.True(t, f.rt.DryRun())

	r = post("enable/", operatorKey, `{"confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.True(t, f.rt.Enabled())

	r = post("go-live/", adminKey, `{"confirm":"CONFIRM","who":"root"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.False(t, f.rt.DryRun())
	assert.Equal(t, "root (admin)", get(r.json, "change", "who"), "the body's who wins over the header")

	post("dry-run/on/", operatorKey, `{"confirm":"CONFIRM"}`)
	r = post("dry-run/off/", adminKey, `{"confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "go_live", get(r.json, "change", "action"))

	r = f.do(t, req{path: "/api/baldur/control/history/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	h := r.json["history"].([]any)
	require.Len(t, h, 6)
	assert.Equal(t, "disable", get(h[5], "action"))
	assert.Equal(t, "go_live", get(h[0], "action"))
}

func TestWouldHave(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	_, err := f.ctl.StartDryRun(context.Background(), "t", "")
	require.NoError(t, err)
	for _, svc := range []string{"payments", "ledger", "payments"} {
		b, _ := f.rt.Breaker(svc)
		b.ForceOpen("test")
	}
	zones := f.rt.Zones()
	for _, spec := range zones {
		if spec.Method == "Charge" || spec.Method == "Post" {
			z := f.rt.Zone(spec)
			p, err := z.Enter(context.Background())
			require.NoError(t, err, "dry-run lets the call through")
			z.Done(context.Background(), p, nil, 1)
		}
	}
	r := f.do(t, req{path: "/api/baldur/control/would-have/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, true, r.json["dry_run"])
	entries := r.json["entries"].([]any)
	require.Len(t, entries, 2)
	assert.Equal(t, "breaker", get(entries[0], "policy"))
	assert.Equal(t, "reject", get(entries[0], "decision"))

	r = f.do(t, req{path: "/api/baldur/control/would-have/?service=ledger&limit=5", key: viewerKey})
	entries = r.json["entries"].([]any)
	require.Len(t, entries, 1)
	assert.Equal(t, "ledger", get(entries[0], "service"))
	assert.Equal(t, "Post", get(entries[0], "method"))
}

// --- console --------------------------------------------------------------

func TestConsoleIsServedWithoutExternalResources(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/"})
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.raw, "<title>Baldur console</title>")
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Equal(t, "DENY", r.header.Get("X-Frame-Options"))
	for _, asset := range []string{"/console/app.js", "/console/audit.js", "/console/style.css"} {
		a := f.do(t, req{path: asset})
		require.Equal(t, http.StatusOK, a.code, asset)
		assert.NotContains(t, a.raw, "http://", asset)
		assert.NotContains(t, a.raw, "https://", asset)
	}
	assert.NotContains(t, r.raw, "http://")
	assert.NotContains(t, r.raw, "https://")
	assert.Equal(t, http.StatusNotFound, f.do(t, req{path: "/console/missing.js"}).code)
	assert.Equal(t, http.StatusNotFound, f.do(t, req{path: "/elsewhere"}).code)
}

func TestNewValidatesOptions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	_, err := admin.New(admin.Options{})
	require.ErrorContains(t, err, "Runtime is required")
	_, err = admin.New(admin.Options{Runtime: f.rt, Security: admin.Security{Keys: []admin.Key{{Role: admin.RoleAdmin, Secret: "short"}}}})
	require.ErrorContains(t, err, "Security.Keys[0] (admin): key is 5 characters, want at least 16")
	_, err = admin.New(admin.Options{Runtime: f.rt, Security: admin.Security{AllowedOrigins: []string{"ops.example.com"}}})
	require.ErrorContains(t, err, `origin "ops.example.com"`)
}
