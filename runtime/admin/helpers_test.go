package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/control"
)

const (
	adminKey    = "admin-key-0123456789"
	operatorKey = "operator-key-0123456789"
	viewerKey   = "viewer-key-0123456789"
	testHost    = "127.0.0.1:9090"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	rt  *runtime.Runtime
	ctl *control.Control
	h   *admin.Handler
}

type fixtureOpts struct {
	unlocked bool
	noKeys   bool
	origins  []string
	maxBody  int64
	checks   []admin.Check
	opts     func(*admin.Options)
}

func keys() []admin.Key {
	return []admin.Key{
		{Role: admin.RoleAdmin, Secret: adminKey},
		{Role: admin.RoleOperator, Secret: operatorKey},
		{Role: admin.RoleViewer, Secret: viewerKey},
	}
}

// newFixture builds a runtime with two breakers (payments, ledger), a
// bulkhead and a handler reached on port 9090; the handler takes the
// runtime's control and dead-letter queue (Options leave them nil).
func newFixture(t *testing.T, fo fixtureOpts) *fixture {
	t.Helper()
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Bulkhead: 4})
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Refund", Breaker: true})
	rt.Zone(runtime.ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
	f := &fixture{rt: rt}
	f.ctl = rt.Control() // what admin.New takes when Options.Control is nil
	sec := admin.Security{Unlocked: fo.unlocked, AllowedOrigins: fo.origins, MaxBodyBytes: fo.maxBody}
	if !fo.noKeys {
		sec.Keys = keys()
	}
	opts := admin.Options{Runtime: rt, Security: sec, Port: "9090", Logger: quiet, Checks: fo.checks}
	if fo.opts != nil {
		fo.opts(&opts)
	}
	f.h, err = admin.New(opts)
	require.NoError(t, err)
	return f
}

// req describes one request; zero fields are filled with working defaults.
type req struct {
	method  string
	path    string
	key     string
	body    string // sent as application/json unless ctype is set
	ctype   string
	host    string
	origin  string
	headers map[string]string
}

type resp struct {
	code   int
	header http.Header
	raw    string
	json   map[string]any
}

func (f *fixture) do(t *testing.T, r req) resp {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" || r.method == http.MethodPost {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.Host = testHost
	if r.host != "" {
		hr.Host = r.host
	}
	if r.key != "" {
		hr.Header.Set(admin.KeyHeader, r.key)
	}
	if r.method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	if r.origin != "" {
		hr.Header.Set("Origin", r.origin)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, hr)
	out := resp{code: w.Code, header: w.Header(), raw: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out.json), "body: %s", out.raw)
	}
	return out
}

func (f *fixture) state(t *testing.T, name string) breaker.State {
	t.Helper()
	b, ok := f.rt.Breaker(name)
	require.True(t, ok)
	return b.State()
}

// get walks a decoded JSON value along keys.
func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
