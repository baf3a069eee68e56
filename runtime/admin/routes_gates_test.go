package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/control"
)

// The route × refusal matrix: every endpoint of the handler's own route table
// meets every refusal that applies to it, and each must be refused by the gate
// named, without its handler running. A route added to the table is covered
// here without anyone remembering to. A policy check beside it pins what the
// table itself may say (README: viewer reads, operator acts, admin goes live
// and purges; destructive actions need the unlock and CONFIRM).

const (
	matrixAdmin    = "matrix-admin-0123456789"
	matrixOperator = "matrix-operator-0123456789"
	matrixViewer   = "matrix-viewer-0123456789"
	matrixHost     = "127.0.0.1:9090"
)

var matrixKeys = map[Role]string{RoleAdmin: matrixAdmin, RoleOperator: matrixOperator, RoleViewer: matrixViewer}

// matrixHandler builds a handler on port 9090 whose every endpoint function is
// replaced by one that answers 200 {"reached": true}: the gates are all that
// stand between a request and it.
func matrixHandler(t *testing.T, sec Security) *Handler {
	t.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	h, err := New(Options{Runtime: rt, Security: sec, Port: "9090", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	for i := range h.routes {
		for j := range h.routes[i].eps {
			h.routes[i].eps[j].fn = func(c *call) { c.ok(map[string]bool{"reached": true}) }
		}
	}
	return h
}

// matrixRequest is one request on one endpoint; the zero fields pass every gate.
type matrixRequest struct {
	key, host, origin, ctype, body string
	noBody                         bool
}

func pathOf(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "x"
		}
	}
	p := Prefix + strings.Join(segs, "/")
	if pattern != "" {
		p += "/"
	}
	return p
}

func (m matrixRequest) send(h *Handler, method, path string) *httptest.ResponseRecorder {
	var body io.Reader
	if method == http.MethodPost && !m.noBody {
		b := m.body
		if b == "" {
			b = `{"confirm":"` + control.Confirmation + `","reason":"matrix"}`
		}
		body = strings.NewReader(b)
	}
	r := httptest.NewRequest(method, path, body)
	r.Host = matrixHost
	if m.host != "" {
		r.Host = m.host
	}
	if m.key != "" {
		r.Header.Set(KeyHeader, m.key)
	}
	if method == http.MethodPost {
		r.Header.Set("Content-Type", "application/json")
	}
	if m.ctype != "" {
		r.Header.Set("Content-Type", m.ctype)
	}
	if m.origin != "" {
		r.Header.Set("Origin", m.origin)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type refusalCase struct {
	name   string
	locked bool // sent to the handler started without BALDUR_ADMIN_UNLOCK
	noKeys bool // sent to the handler with no key configured
	req    matrixRequest
	code   int
	gate   string
}

// refusalsFor lists every refusal that applies to ep.
func refusalsFor(ep endpoint) []refusalCase {
	good := matrixKeys[RoleAdmin]
	cases := []refusalCase{
		{name: "no key", req: matrixRequest{}, code: http.StatusUnauthorized, gate: GateKey},
		{name: "wrong key", req: matrixRequest{key: "not-a-key-0123456789"}, code: http.StatusUnauthorized, gate: GateKey},
		{name: "foreign origin", req: matrixRequest{key: good, origin: "https://evil.example"}, code: http.StatusForbidden, gate: GateOrigin},
		{name: "lookalike origin", req: matrixRequest{key: good, origin: "http://localhost.evil.example:9090"}, code: http.StatusForbidden, gate: GateOrigin},
		{name: "rebinding host", req: matrixRequest{key: good, host: "attacker.example:9090"}, code: http.StatusForbidden, gate: GateHost},
		{name: "loopback host on another port", req: matrixRequest{key: good, host: "localhost:8080"}, code: http.StatusForbidden, gate: GateHost},
	}
	for r := RoleViewer; r < ep.role; r++ {
		cases = append(cases, refusalCase{name: r.String() + " role", req: matrixRequest{key: matrixKeys[r]},
			code: http.StatusForbidden, gate: GateRole})
	}
	if ep.role > RoleViewer {
		cases = append(cases, refusalCase{name: "no key configured", noKeys: true, req: matrixRequest{},
			code: http.StatusForbidden, gate: GateKey})
	}
	if ep.destructive {
		cases = append(cases,
			refusalCase{name: "locked", locked: true, req: matrixRequest{key: good}, code: http.StatusForbidden, gate: GateUnlock},
			refusalCase{name: "no body, so no CONFIRM", req: matrixRequest{key: good, noBody: true}, code: http.StatusForbidden, gate: GateConfirm},
			refusalCase{name: "no CONFIRM", req: matrixRequest{key: good, body: `{"reason":"matrix"}`}, code: http.StatusForbidden, gate: GateConfirm},
			refusalCase{name: "CONFIRM in lower case", req: matrixRequest{key: good, body: `{"confirm":"confirm"}`}, code: http.StatusForbidden, gate: GateConfirm},
		)
	}
	if ep.unlock {
		cases = append(cases,
			refusalCase{name: "locked", locked: true, req: matrixRequest{key: good}, code: http.StatusForbidden, gate: GateUnlock})
	}
	if ep.body {
		cases = append(cases,
			refusalCase{name: "form body", req: matrixRequest{key: good, ctype: "application/x-www-form-urlencoded", body: "confirm=CONFIRM"},
				code: http.StatusUnsupportedMediaType, gate: GateContentType},
			refusalCase{name: "text body", req: matrixRequest{key: good, ctype: "text/plain"},
				code: http.StatusUnsupportedMediaType, gate: GateContentType},
			refusalCase{name: "unknown field", req: matrixRequest{key: good, body: `{"confrim":"CONFIRM"}`},
				code: http.StatusBadRequest, gate: GateBody},
		)
	}
	return cases
}

func TestEveryRouteRefusesEveryRequestMissingAGate(t *testing.T) {
	t.Parallel()
	keys := []Key{{RoleAdmin, matrixAdmin}, {RoleOperator, matrixOperator}, {RoleViewer, matrixViewer}}
	unlocked := matrixHandler(t, Security{Keys: keys, Unlocked: true})
	locked := matrixHandler(t, Security{Keys: keys})
	noKeys := matrixHandler(t, Security{Unlocked: true})
	endpoints := 0
	for _, rt := range unlocked.routes {
		for _, ep := range rt.eps {
			endpoints++
			path := pathOf(rt.pattern)
			if ep.probe {
				t.Run(ep.method+" "+path+"/open to probes", func(t *testing.T) {
					w := matrixRequest{}.send(noKeys, ep.method, path)
					assert.Equal(t, http.StatusOK, w.Code, "a probe needs no key: %s", w.Body)
				})
				continue
			}
			t.Run(ep.method+" "+path+"/passes with every gate met", func(t *testing.T) {
				w := matrixRequest{key: matrixKeys[ep.role], origin: "http://127.0.0.1:9090"}.send(unlocked, ep.method, path)
				require.Equal(t, http.StatusOK, w.Code, "the role the table names (%s) is enough: %s", ep.role, w.Body)
				assert.JSONEq(t, `{"reached":true}`, w.Body.String())
			})
			for _, rc := range refusalsFor(ep) {
				t.Run(ep.method+" "+path+"/"+rc.name, func(t *testing.T) {
					h := unlocked
					switch {
					case rc.locked:
						h = locked
					case rc.noKeys:
						h = noKeys
					}
					w := rc.req.send(h, ep.method, path)
					body := w.Body.String()
					require.NotContains(t, body, "reached", "the endpoint ran")
					assert.Equal(t, rc.code, w.Code, body)
					assert.Contains(t, body, fmt.Sprintf(`"gate": %q`, rc.gate), "refused by the wrong gate")
				})
			}
		}
	}
	assert.Greater(t, endpoints, 30, "the matrix walked the route table")
}

// TestRouteTablePolicy pins what the table may say, whatever it grows into:
// only health and metrics are open probes; reads need a viewer key and actions
// an operator one; going live and purging need the admin role; the actions the
// README calls destructive need the unlock and CONFIRM.
func TestRouteTablePolicy(t *testing.T) {
	t.Parallel()
	h := matrixHandler(t, Security{})
	for _, rt := range h.routes {
		for _, ep := range rt.eps {
			name := ep.method + " " + pathOf(rt.pattern)
			if ep.probe {
				assert.True(t, rt.pattern == "metrics" || rt.pattern == "health" || strings.HasPrefix(rt.pattern, "health/"),
					"%s: only health and metrics skip the host, origin and key gates", name)
				assert.Equal(t, http.MethodGet, ep.method, name)
				continue
			}
			switch ep.method {
			case http.MethodGet:
				assert.GreaterOrEqual(t, ep.role, RoleViewer, name)
				assert.False(t, ep.destructive, name)
			case http.MethodPost:
				assert.GreaterOrEqual(t, ep.role, RoleOperator, "%s: an action needs at least an operator key", name)
				assert.True(t, ep.body, "%s: an action reads a JSON body", name)
			default:
				t.Errorf("%s: the API has GET and POST endpoints only", name)
			}
			last := rt.pattern[strings.LastIndex(rt.pattern, "/")+1:]
			if last == "go-live" || last == "purge" || rt.pattern == "control/dry-run/off" {
				assert.Equal(t, RoleAdmin, ep.role, "%s: going live and purging need the admin role", name)
			}
			if rt.pattern == "chaos" && ep.method == http.MethodPost {
				assert.Equal(t, RoleAdmin, ep.role, "%s: starting a fault-injection experiment needs the admin role", name)
				assert.True(t, ep.destructive, "%s: it fails real calls: the unlock and CONFIRM", name)
			}
			if ep.method == http.MethodPost && (strings.HasPrefix(rt.pattern, "breakers/") || last == "disable" || last == "enable" ||
				last == "go-live" || last == "purge" || rt.pattern == "control/dry-run/off" || strings.HasPrefix(rt.pattern, "policy/")) {
				assert.True(t, ep.destructive, "%s: needs the unlock and CONFIRM", name)
			}
			// The fleet's and the notifier's actions reach beyond this process: admin and the unlock.
			if rt.pattern == "notify/test" || rt.pattern == "schedule/run" || rt.pattern == "leader/step-down" {
				assert.Equal(t, RoleAdmin, ep.role, "%s: an admin's action", name)
				assert.True(t, ep.unlock || ep.destructive, "%s: needs the unlock", name)
			}
			if rt.pattern == "leader/step-down" {
				assert.True(t, ep.destructive, "%s: needs CONFIRM", name)
			}
			if rt.pattern == "canary/panic-rollback" || rt.pattern == "canary/start-bypass" {
				assert.Equal(t, RoleAdmin, ep.role, "%s: the panic button and the gate bypass are the admin's", name)
				assert.True(t, ep.destructive, "%s: needs the unlock and CONFIRM", name)
			}
			if rt.pattern == "canary/start-bypass" {
				assert.True(t, ep.review, "%s: a gate bypass is flagged for review", name)
			}
		}
	}
}
