package admin_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/tlstest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
)

// tlsRuntime is a runtime and a self-signed certificate with its key, in a
// temporary directory; the runtime closes with the test.
func tlsRuntime(t *testing.T) (rt *runtime.Runtime, cert, key string) {
	dir := t.TempDir()
	cert, key = tlstest.SelfSigned(t, dir)
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, StateDir: filepath.Join(dir, "state")})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt, cert, key
}

// With a certificate and key the admin server speaks only https: a client
// trusting the certificate gets its answer, plain http gets none.
func TestListenTLSServesHTTPSOnly(t *testing.T) {
	t.Parallel()
	rt, cert, key := tlsRuntime(t)
	srv, err := admin.Listen(admin.Options{Runtime: rt, Logger: quiet},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1, TLSCertFile: cert, TLSKeyFile: key})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() {
		srv.Close()
		require.NoError(t, <-done)
	}()
	require.True(t, strings.HasPrefix(srv.URL(), "https://127.0.0.1:"), srv.URL())

	pem, err := os.ReadFile(cert)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	res, err := hc.Get(srv.URL() + "api/baldur/health/ping/")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.NotNil(t, res.TLS, "the answer came over TLS")

	plain := &http.Transport{}
	defer plain.CloseIdleConnections()
	res, err = (&http.Client{Transport: plain, Timeout: 10 * time.Second}).Get("http://" + srv.Addr() + "/api/baldur/health/ping/")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "plain http is refused: %s", body)
}

func TestListenTLSBadFilesAreClearErrors(t *testing.T) {
	t.Parallel()
	rt, cert, key := tlsRuntime(t)
	for name, so := range map[string]admin.ServerOptions{
		"TLSCertFile is set but TLSKeyFile is not":                {TLSCertFile: cert},
		"TLSKeyFile is set but TLSCertFile is not":                {TLSKeyFile: key},
		`https certificate "` + key + `" and key "` + cert + `"`:  {TLSCertFile: key, TLSKeyFile: cert},
		`https certificate "` + cert + `" and key "/nonexistent"`: {TLSCertFile: cert, TLSKeyFile: "/nonexistent"},
	} {
		so.Addr = "127.0.0.1:0"
		srv, err := admin.Listen(admin.Options{Runtime: rt, Logger: quiet}, so)
		if err == nil {
			srv.Close()
		}
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name)
		assert.NotContains(t, err.Error(), "PRIVATE KEY", "the key's content never appears")
	}
}
