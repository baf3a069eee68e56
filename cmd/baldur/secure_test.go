package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/tlstest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
)

func envOf(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func runCLI(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

// A redirect is never followed, whatever its code: the answer is an error
// naming the Location, and the place it points to receives nothing (neither
// the key nor the confirmed body).
func TestCLIRefusesRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"control":{}}`)
	}))
	defer other.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		exit, stdout, stderr := runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey),
			"--addr", redirector.URL, "control", "disable", "--reason", "incident", "--confirm")
		redirector.Close()
		assert.Equal(t, exitFailed, exit, "%d: %s", code, stderr)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "pointing to \""+other.URL+"/api/baldur/control/disable/\"", code)
		assert.Contains(t, stderr, "follows no redirect", code)
	}
	assert.Zero(t, elsewhere.Load(), "the redirect's target got a request")
}

// The key is not sent in clear text beyond loopback unless --insecure.
func TestCLIRefusesTheKeyOverPlainHTTPBeyondLoopback(t *testing.T) {
	exit, _, stderr := runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey), "--addr", "http://10.1.2.3:9090", "control", "status")
	assert.Equal(t, exitFailed, exit)
	assert.Contains(t, stderr, "refusing to send the admin key in clear text to 10.1.2.3:9090 over http://")
	assert.Contains(t, stderr, "--insecure")
	exit, stdout, _ := runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey, "BALDUR_ADMIN_ADDR", "db.example:9090"), "--json", "health")
	assert.Equal(t, exitFailed, exit)
	assert.Contains(t, stdout, `"gate": "insecure"`)

	for _, addr := range []string{"http://127.0.0.1:9090", "http://localhost:9090", "http://[::1]:9090", "https://10.1.2.3:9090", "127.0.0.2:1"} {
		base, err := baseURL(addr)
		require.NoError(t, err)
		assert.Empty(t, clearTextTo(base), addr)
	}
	assert.Equal(t, "[2001:db8::1]:80", clearTextTo("http://[2001:db8::1]:80"))

	// --insecure lets it through: every dial goes to a loopback server here,
	// which sees the key that was addressed to 10.1.2.3.
	var gotKey atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey.Store(r.Header.Get("X-Baldur-Key"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"control":{"kill_switch":"ENABLED","mode":"LIVE"}}`)
	}))
	defer srv.Close()
	hc, err := httpClient("")
	require.NoError(t, err)
	tr := hc.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	defer tr.CloseIdleConnections()
	var out, errb bytes.Buffer
	c := &client{base: "http://10.1.2.3:9090", key: adminKey, insecure: true, http: hc, timeout: 10 * time.Second, stdout: &out, stderr: &errb}
	require.Equal(t, exitOK, c.call("GET", "control/", nil, typed(printControl)), errb.String())
	assert.Equal(t, adminKey, gotKey.Load())
	assert.Contains(t, out.String(), "ENABLED")
}

// The admin server with a real self-signed certificate on loopback, and the
// CLI trusting it through --ca-file or BALDUR_ADMIN_CA_FILE.
func TestCLIOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := tlstest.SelfSigned(t, dir)
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{Logger: quiet, StateDir: filepath.Join(dir, "state")})
	require.NoError(t, err)
	defer rt.Close()
	srv, err := admin.Listen(admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{
		Keys: []admin.Key{{Role: admin.RoleAdmin, Secret: adminKey}}, Unlocked: true,
	}}, admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1, TLSCertFile: cert, TLSKeyFile: key})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() {
		srv.Close()
		require.NoError(t, <-done)
	}()
	https := "https://" + srv.Addr()

	exit, stdout, stderr := runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey), "--addr", https, "--ca-file", cert, "control", "disable", "--reason", "over tls", "--confirm")
	require.Equal(t, exitOK, exit, stderr)
	assert.Contains(t, stdout, "kill switch DISABLED")
	exit, stdout, stderr = runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey, "BALDUR_ADMIN_CA_FILE", cert, "BALDUR_ADMIN_ADDR", https), "control", "status")
	require.Equal(t, exitOK, exit, stderr)
	assert.Contains(t, stdout, "DISABLED")

	exit, _, stderr = runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey), "--addr", https, "control", "status")
	assert.Equal(t, exitFailed, exit)
	assert.Contains(t, stderr, "certificate", "an untrusted certificate is refused")
	exit, _, stderr = runCLI(t, envOf("BALDUR_ADMIN_KEY", adminKey), "--addr", srv.Addr(), "control", "status")
	assert.Equal(t, exitFailed, exit)
	assert.Contains(t, stderr, "speaks https")
	exit, _, stderr = runCLI(t, envOf(), "--addr", https, "--ca-file", key, "control", "status")
	assert.Equal(t, exitFailed, exit)
	assert.Contains(t, stderr, "holds no PEM certificate")
	assert.False(t, strings.Contains(stderr, "PRIVATE"), stderr)
}
