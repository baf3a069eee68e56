package admin_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
)

const childEnv = "BALDUR_ADMIN_TEST_CHILD"

// runChild is the admin server process of TestSIGTERMDrainsARealProcess. It
// reports true when this process was started as that child (and has run).
func runChild() bool {
	if os.Getenv(childEnv) == "" {
		return false
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: log, StateDir: os.Getenv("BALDUR_TEST_STATE_DIR")})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	slow := admin.Check{Name: "slow", Func: func(ctx context.Context) error {
		fmt.Println("check started")
		t := time.NewTimer(2 * time.Second) // simulated slow work, in flight when SIGTERM lands
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	srv, err := admin.Listen(admin.Options{Runtime: rt, Logger: log, Checks: []admin.Check{slow}, CheckTimeout: 10 * time.Second},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: time.Second, DrainTimeout: 20 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("addr", srv.Addr())
	err = admin.ServeUntilSignal(context.Background(), srv)
	fmt.Println("exit", err)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// lockedBuffer is safe to read while a child process writes to it.
type lockedBuffer = logtest.Buffer

func startServer(t *testing.T, opts admin.Options, sopts admin.ServerOptions) *admin.Server {
	t.Helper()
	if sopts.Addr == "" {
		sopts.Addr = "127.0.0.1:0"
	}
	srv, err := admin.Listen(opts, sopts)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		_ = srv.Close()
		require.NoError(t, await.Recv(t, done, "Serve returning after Close"))
	})
	return srv
}

func newRuntime(t *testing.T) *runtime.Runtime {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

func TestServerServesOnItsPort(t *testing.T) {
	srv := startServer(t, admin.Options{Runtime: newRuntime(t), Logger: quiet}, admin.ServerOptions{})
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	res, err := http.Get(srv.URL() + "api/baldur/health/ping/")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// The default origin allow-list is loopback on the server's own port.
	r, _ := http.NewRequest(http.MethodGet, srv.URL()+"api/baldur/breakers/", nil)
	r.Header.Set("Origin", "http://localhost:1")
	res, err = http.DefaultClient.Do(r)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	r.Header.Set("Origin", "http://"+strings.Replace(srv.Addr(), "127.0.0.1", "localhost", 1))
	res, err = http.DefaultClient.Do(r)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestListenRefusesExposedAddressWithoutKey(t *testing.T) {
	_, err := admin.Listen(admin.Options{Runtime: newRuntime(t), Logger: quiet}, admin.ServerOptions{Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, `listen address "0.0.0.0:0" reaches beyond loopback: configure an admin key`)
}

func TestDrainKeepsLivenessAndFinishesInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	slow := admin.Check{Name: "slow", Func: func(ctx context.Context) error {
		once.Do(func() { close(started) })
		await.Hold(release)
		return nil
	}}
	srv, err := admin.Listen(admin.Options{Runtime: newRuntime(t), Logger: quiet, Checks: []admin.Check{slow}, CheckTimeout: time.Minute},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1, DrainTimeout: time.Minute})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	base := srv.URL() + "api/baldur/"

	inflight := make(chan int, 1)
	go func() {
		res, err := http.Get(base + "health/?nocache=true")
		if err != nil {
			inflight <- -1
			return
		}
		res.Body.Close()
		inflight <- res.StatusCode
	}()
	await.Signal(t, started, "the slow request reaching its handler")

	drained := make(chan error, 1)
	go func() { drained <- srv.Drain(context.Background()) }()
	require.Eventually(t, srv.Handler().Draining, 5*time.Second, time.Millisecond)

	// The listener is closing; ask the handler itself what the probes say.
	probe := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/baldur/"+path, nil))
		return w
	}
	ready := probe("health/ready/")
	assert.Equal(t, http.StatusServiceUnavailable, ready.Code)
	assert.Equal(t, "5", ready.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, probe("health/live/").Code)
	assert.Equal(t, http.StatusOK, probe("health/ping/").Code)

	select {
	case err := <-drained:
		t.Fatalf("drain returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	assert.Equal(t, http.StatusOK, await.Recv(t, inflight, "the in-flight request"), "the in-flight request finished")
	require.NoError(t, await.Recv(t, drained, "Drain returning"))
	require.NoError(t, await.Recv(t, served, "Serve returning after the drain"))
	require.NoError(t, srv.Drain(context.Background()), "a second Drain returns the first one's result")
}

func TestDrainTimeoutCutsOff(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	slow := admin.Check{Name: "slow", Func: func(ctx context.Context) error {
		once.Do(func() { close(started) })
		await.Hold(release)
		return nil
	}}
	srv, err := admin.Listen(admin.Options{Runtime: newRuntime(t), Logger: quiet, Checks: []admin.Check{slow}, CheckTimeout: time.Minute},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1, DrainTimeout: time.Minute})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	inflight := make(chan error, 1)
	go func() {
		res, err := http.Get(srv.URL() + "api/baldur/health/?nocache=true")
		if err == nil {
			res.Body.Close()
		}
		inflight <- err
	}()
	await.Signal(t, started, "the stuck request reaching its handler")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the caller's bound has already passed
	err = srv.Drain(ctx)
	require.ErrorContains(t, err, "in-flight requests cut off")
	require.Error(t, await.Recv(t, inflight, "the stuck request cut off"), "the connection was closed")
	close(release)
	require.NoError(t, await.Recv(t, served, "Serve returning"))
}

func TestServerOptionsFromEnvErrorsNameTheVariable(t *testing.T) {
	for v, val := range map[string]string{
		"BALDUR_ADMIN_ADDR":          "9090",
		"BALDUR_ADMIN_DRAIN_DELAY":   "soon",
		"BALDUR_ADMIN_DRAIN_TIMEOUT": "0",
	} {
		t.Setenv(v, val)
		_, err := admin.ServerOptionsFromEnv()
		require.Error(t, err, v)
		assert.Contains(t, err.Error(), v+"=")
		os.Unsetenv(v)
	}
	t.Setenv("BALDUR_ADMIN_ADDR", "127.0.0.1:0")
	t.Setenv("BALDUR_ADMIN_DRAIN_DELAY", "0")
	t.Setenv("BALDUR_ADMIN_DRAIN_TIMEOUT", "45")
	o, err := admin.ServerOptionsFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:0", o.Addr)
	assert.Negative(t, o.DrainDelay, `"0" means no delay`)
	assert.Equal(t, 45*time.Second, o.DrainTimeout)
}

// TestSIGTERMDrainsARealProcess starts the admin server as a separate process
// (this test binary, re-executed), sends it SIGTERM while a request is in
// flight, and checks the drain from outside.
func TestSIGTERMDrainsARealProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "BALDUR_TEST_STATE_DIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	await.KillAfter(t, cmd, "the draining child process")
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "child exited early; stderr:\n%s", stderr.String())
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("child silent; stderr:\n%s", stderr.String())
			return ""
		}
	}
	addrLine := next()
	require.True(t, strings.HasPrefix(addrLine, "addr "), addrLine)
	base := "http://" + strings.TrimPrefix(addrLine, "addr ") + "/api/baldur/"

	inflight := make(chan *http.Response, 1)
	go func() {
		res, err := http.Get(base + "health/?nocache=true")
		if err != nil {
			inflight <- nil
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		inflight <- res
	}()
	require.Equal(t, "check started", next())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	require.Eventually(t, func() bool {
		res, err := http.Get(base + "health/ready/")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != ""
	}, 900*time.Millisecond, 5*time.Millisecond, "readiness turns 503 with Retry-After")
	for _, p := range []string{"health/live/", "health/ping/"} {
		res, err := http.Get(base + p)
		require.NoError(t, err, p)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, p)
	}

	res := await.Recv(t, inflight, "the in-flight request")
	require.NotNil(t, res, "in-flight request failed")
	assert.Equal(t, http.StatusOK, res.StatusCode, "the in-flight request finished")
	assert.Equal(t, "exit <nil>", next())
	require.NoError(t, cmd.Wait())
	assert.Contains(t, stderr.String(), `"msg":"admin.signal_received","signal":"terminated"`)
	assert.Contains(t, stderr.String(), `"msg":"admin.drain_finished","clean":true`)
}
