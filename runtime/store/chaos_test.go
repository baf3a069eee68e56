package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

// ackedWrite is one write the Failover acknowledged.
type ackedWrite struct {
	startedAt time.Time
	dlq       string // value appended to the DLQ stream
	claim     string // claim key set with SetNX
}

// TestChaos_KillsPrivateRedis_DegradesAndReconciles runs a stream of DLQ
// appends and idempotency claims through a Failover on a private
// redis-server, SIGKILLs the server mid-stream, and checks that the store
// is DEGRADED within 1s with no write failing; then restarts the server on
// the same port (empty: no persistence) and checks that within 5s every
// append and claim made from the kill on is in Redis.
func TestChaos_KillsPrivateRedis_DegradesAndReconciles(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	logs := &logtest.Buffer{}
	remote, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Prefix: "chaos:", LazyConnect: true})
	require.NoError(t, err)
	local, err := store.OpenEmbedded(t.TempDir(), store.EmbeddedOptions{})
	require.NoError(t, err)
	modes := make(chan store.Mode, 16)
	f, err := store.NewFailover(ctx, remote, local, store.FailoverOptions{
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		OnModeChange: func(m store.Mode) { modes <- m },
	})
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, store.ModeNormal, f.Mode())

	var (
		mu     sync.Mutex
		acked  []ackedWrite
		failed []error
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		writes atomic.Int64
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				v := fmt.Sprintf("w%d-%d", w, i)
				_, err := f.Append(ctx, "dlq:{chaos}", []byte(v))
				if err == nil {
					var ok bool
					ok, err = f.SetNX(ctx, "claim:"+v, []byte(v), time.Hour)
					if err == nil && !ok {
						err = fmt.Errorf("claim %s lost to nobody", v)
					}
				}
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else {
					acked = append(acked, ackedWrite{startedAt: start, dlq: v, claim: "claim:" + v})
				}
				mu.Unlock()
				writes.Add(1)
			}
		})
	}
	// waitProgress polls until n more writes completed: the writers run
	// on their own, there is nothing to hand a channel to.
	waitProgress := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for start := writes.Load(); writes.Load() < start+n; {
			require.True(t, time.Now().Before(deadline), "writers stalled")
			time.Sleep(time.Millisecond)
		}
	}

	waitProgress(200)
	srv.Kill()
	killedAt := time.Now()
	select {
	case m := <-modes:
		require.Equal(t, store.ModeDegraded, m)
		t.Logf("DEGRADED %v after the kill", time.Since(killedAt))
	case <-time.After(time.Second):
		t.Fatalf("not DEGRADED within 1s of the kill (mode %v)", f.Mode())
	}
	waitProgress(300) // writes go on while degraded

	srv.Restart()
	restartedAt := time.Now()
	select {
	case m := <-modes:
		require.Equal(t, store.ModeNormal, m)
		t.Logf("reconciled %v after the restart", time.Since(restartedAt))
	case <-time.After(5 * time.Second):
		t.Fatalf("not reconciled within 5s of the restart (mode %v)", f.Mode())
	}
	waitProgress(100) // and on, on Redis again
	close(stop)
	await.Wait(t, &wg, "the writers, stopped")

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, failed, "no write may fail because of the store")
	raw := redistest.Client(t, srv.Addr())
	entries, err := raw.XRange(ctx, "chaos:dlq:{chaos}", "-", "+").Result()
	require.NoError(t, err)
	inRedis := map[string]int{}
	for _, e := range entries {
		inRedis[e.Values["v"].(string)]++
	}
	checked, dups := 0, 0
	for _, a := range acked {
		if a.startedAt.Before(killedAt) {
			continue // went to the server that was killed without persistence
		}
		checked++
		assert.Positive(t, inRedis[a.dlq], "DLQ entry %s acknowledged after the kill is missing from Redis", a.dlq)
		if inRedis[a.dlq] > 1 {
			dups++
		}
		got, err := raw.Get(ctx, "chaos:"+a.claim).Result()
		if assert.NoError(t, err, "claim %s acknowledged after the kill is missing from Redis", a.claim) {
			assert.Equal(t, a.dlq, got)
		}
	}
	st := f.Stats()
	t.Logf("writes checked: %d, replayed: %d, conflicts: %d, duplicated appends: %d", checked, st.Replayed, st.Conflicts, dups)
	require.Greater(t, checked, 300)
	assert.Zero(t, st.Conflicts)
	assert.Contains(t, logs.String(), "store.degraded_entered")
	assert.Contains(t, logs.String(), "store.degraded_exited")
}

// TestChaos_FreezesPrivateRedis_DegradesOnTimeouts SIGSTOPs a private
// redis-server: connections stay open and commands hang until their
// timeouts, the case a refused connection does not cover. Writes must still
// succeed (after at most one timeout), the store must be DEGRADED within 1s,
// and everything written meanwhile must be in Redis once it is resumed.
func TestChaos_FreezesPrivateRedis_DegradesOnTimeouts(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	remote, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Prefix: "freeze:", LazyConnect: true})
	require.NoError(t, err)
	local, err := store.OpenEmbedded(t.TempDir(), store.EmbeddedOptions{})
	require.NoError(t, err)
	type change struct {
		mode store.Mode
		at   time.Time
	}
	modes := make(chan change, 16)
	f, err := store.NewFailover(ctx, remote, local, store.FailoverOptions{
		Logger:       slog.New(slog.DiscardHandler),
		OnModeChange: func(m store.Mode) { modes <- change{m, time.Now()} },
	})
	require.NoError(t, err)
	defer f.Close()

	srv.Pause()
	pausedAt := time.Now()
	var written []string
	for i := range 20 {
		v := fmt.Sprintf("frozen-%d", i)
		_, err := f.Append(ctx, "dlq", []byte(v))
		require.NoError(t, err, "no write fails because Redis hangs")
		written = append(written, v)
	}
	wrote := time.Since(pausedAt)
	select {
	case c := <-modes:
		require.Equal(t, store.ModeDegraded, c.mode)
		took := c.at.Sub(pausedAt)
		t.Logf("DEGRADED %v after the freeze; 20 writes took %v", took, wrote)
		require.Less(t, took, time.Second, "not DEGRADED within 1s of the freeze")
	case <-time.After(5 * time.Second):
		t.Fatalf("never DEGRADED")
	}
	require.Less(t, wrote, 2*time.Second, "only writes in flight at the freeze wait for a timeout")

	srv.Resume()
	select {
	case c := <-modes:
		require.Equal(t, store.ModeNormal, c.mode)
	case <-time.After(5 * time.Second):
		t.Fatalf("not reconciled within 5s of the resume")
	}
	entries, err := redistest.Client(t, srv.Addr()).XRange(ctx, "freeze:dlq", "-", "+").Result()
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Values["v"].(string))
	}
	assert.Subset(t, got, written)
}
