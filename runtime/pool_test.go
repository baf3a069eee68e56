package runtime

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
)

func TestPoolOfTheEmbeddedAndACustomStoreIsHealthy(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{})
	assert.Equal(t, PoolReport{Store: "custom", Status: PoolHealthy}, rt.Pool(context.Background()))

	emb, err := New(context.Background(), Config{StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), environ: func() []string { return nil }})
	require.NoError(t, err)
	defer emb.Close()
	assert.Equal(t, PoolReport{Store: "embedded", Status: PoolHealthy}, emb.Pool(context.Background()))
}

func TestPoolReportsRedisAndTurnsDegradedWhenRedisGoesAway(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rt, err := New(context.Background(), Config{RedisURL: srv.URL(), StateDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler), environ: func() []string { return nil }})
	require.NoError(t, err)
	defer rt.Close()

	ctx := context.Background()
	rep := rt.Pool(ctx)
	assert.Equal(t, "redis", rep.Store)
	assert.Equal(t, PoolHealthy, rep.Status, rep.Reason)
	require.NotNil(t, rep.Redis)
	assert.Positive(t, rep.Redis.PoolSize)
	assert.Positive(t, rep.Redis.TotalConns, "the ping used a connection")

	gone, cancel := context.WithCancel(ctx)
	cancel()
	rep = rt.Pool(gone)
	assert.Equal(t, PoolUnhealthy, rep.Status, "a ping that fails before DEGRADED is noticed")
	assert.Contains(t, rep.Reason, "Redis did not answer a ping")

	srv.Kill()
	require.Eventually(t, rt.Degraded, await.Deadline, 10*time.Millisecond, "the runtime notices Redis is gone")
	rep = rt.Pool(ctx)
	assert.Equal(t, PoolDegraded, rep.Status)
	assert.True(t, rep.Degraded)
	assert.Equal(t, "Redis is unreachable: DEGRADED, serving from the local store", rep.Reason)
}
