package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
)

// TestPoolAnswers503WhileRedisIsGone runs a runtime on a private Redis, kills
// the server and reads health/pool/: 200 with the pool's counters while Redis
// answers, 503 DEGRADED once the runtime serves from its local store.
func TestPoolAnswers503WhileRedisIsGone(t *testing.T) {
	srv := redistest.Start(t)
	rt, err := runtime.New(context.Background(), runtime.Config{RedisURL: srv.URL(), StateDir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	f := &fixture{rt: rt}
	f.h, err = admin.New(admin.Options{Runtime: rt, Security: admin.Security{Keys: keys()}, Port: "9090", Logger: quiet})
	require.NoError(t, err)

	r := f.do(t, req{path: "/api/baldur/health/pool/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "healthy", r.json["status"])
	assert.Equal(t, "redis", r.json["store"])
	redis, ok := r.json["redis"].(map[string]any)
	require.True(t, ok, "the viewer sees the Redis pool: %s", r.raw)
	assert.Positive(t, redis["pool_size"])

	srv.Kill()
	require.Eventually(t, rt.Degraded, await.Deadline, 10*time.Millisecond, "the runtime notices Redis is gone")
	r = f.do(t, req{path: "/api/baldur/health/pool/", key: viewerKey})
	assert.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Equal(t, "degraded", r.json["status"])
	assert.Equal(t, true, r.json["degraded"])
	assert.Equal(t, "Redis is unreachable: DEGRADED, serving from the local store", r.json["reason"])

	r = f.do(t, req{path: "/api/baldur/health/pool/"})
	assert.Equal(t, http.StatusServiceUnavailable, r.code, "a probe without the key gets the status")
	assert.Equal(t, "degraded", r.json["status"])
	assert.NotContains(t, r.json, "reason", "the reason is the viewer's")
	assert.NotContains(t, r.json, "redis")
}

// TestPoolAndSummaryShowANamedCompartmentsQueue: a method sharing the
// external_api compartment (5 active + 10 waiting) shows with its queue.
func TestPoolAndSummaryShowANamedCompartmentsQueue(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.rt.Zone(runtime.ZoneSpec{Service: "maps", Method: "Route", Breaker: true, Compartment: "external_api"})
	want := map[string]any{"name": "external_api", "active": float64(0), "max": float64(5), "max_waiting": float64(10)}

	r := f.do(t, req{path: "/api/baldur/health/pool/"})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Contains(t, r.json["compartments"], want)

	r = f.do(t, req{path: "/api/baldur/dashboard/summary/?nocache=true", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Contains(t, r.json["compartments"], want)
}
