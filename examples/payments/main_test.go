package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestScenarioShowsEveryPolicy(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, scenario(context.Background(), &out, runtime.Config{StateDir: t.TempDir()}), out.String())
	for _, want := range []string{
		"receipt r-1 after 3 processor calls",
		"again: payments.Charge: duplicate of idempotency key",
		">> retry: Charge attempt 1 failed; next attempt in",
		`breaker "payments": CLOSED → OPEN`,
		"circuit breaker \"payments\" is open",
		"from cachedBalance",
		`breaker "payments": OPEN → HALF_OPEN`,
		`breaker "payments": HALF_OPEN → CLOSED`,
		`bulkhead "ledger" is full (2/2 active)`,
		"replayed and resolved, 0 pending, 0 needing review",
		"Every policy acted as directed.",
	} {
		assert.Contains(t, out.String(), want)
	}
}

func TestServeKeepsTrafficFlowingBehindTheConsole(t *testing.T) {
	t.Setenv("BALDUR_ADMIN_ADDR", "127.0.0.1:0")
	t.Setenv("BALDUR_ADMIN_DRAIN_DELAY", "1ms")
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- serve(ctx, runtime.Config{StateDir: t.TempDir(), CallStats: true, Logger: slog.New(slog.DiscardHandler)}, &out, func(u string) { urls <- u })
	}()
	var url string
	select {
	case url = <-urls:
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(await.Deadline):
		t.Fatalf("serve printed no URL within %s", await.Deadline)
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "api/baldur/breakers/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(string(body), `"payments"`) && strings.Contains(string(body), `"ledger"`)
	}, 10*time.Second, 50*time.Millisecond, "the console lists the demo's breakers")
	for _, path := range []string{"api/baldur/metrics", "api/baldur/report/?date=today", "api/baldur/dashboard/summary/"} {
		resp, err := http.Get(url + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, "%s: %s", path, body)
		if path == "api/baldur/metrics" {
			assert.Contains(t, string(body), `baldur_calls_total{method="Charge"`)
		}
	}
	resp, err := http.Get(url)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(page), "<html")
	cancel()
	require.NoError(t, await.Recv(t, done, "the example returning after cancel"))
}
