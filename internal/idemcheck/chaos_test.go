package idemcheck

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime"
)

// TestChaos_KillsPrivateRedisDuringProtectedCalls streams idempotent
// protected calls through a runtime on a private redis-server, SIGKILLs the
// server mid-stream, and checks: DEGRADED within 1 s, not one call failed
// because of the store, and after a restart every claim made during the
// outage is in Redis within 5 s.
func TestChaos_KillsPrivateRedisDuringProtectedCalls(t *testing.T) {
	srv := redistest.Start(t)
	rt, err := runtime.New(context.Background(), runtime.Config{
		RedisURL: srv.URL(), StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer rt.Close()
	p := ProtectPayments(&fake{}, rt)

	var (
		mu       sync.Mutex
		failed   []error
		duringMu sync.Mutex
		during   []string // keys charged while Redis was down
		outage   = make(chan struct{})
		stop     = make(chan struct{})
		calls    int
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			key := fmt.Sprintf("chaos-%d", i)
			inOutage := rt.Degraded()
			if _, err := p.Charge(context.Background(), key, 1); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Errorf("%s: %w", key, err))
				mu.Unlock()
			} else if inOutage {
				duringMu.Lock()
				during = append(during, key)
				duringMu.Unlock()
			}
			mu.Lock()
			calls++
			mu.Unlock()
			if i == 200 {
				close(outage)
			}
			time.Sleep(time.Millisecond)
		}
	})

	await.Signal(t, outage, "the callers reaching the outage point")
	srv.Kill()
	killed := time.Now()
	require.Eventually(t, rt.Degraded, 2*time.Second, 5*time.Millisecond)
	assert.Less(t, time.Since(killed), time.Second, "DEGRADED must be detected within 1 s")
	time.Sleep(300 * time.Millisecond) // calls keep flowing on the local store

	srv.Restart()
	restarted := time.Now()
	require.Eventually(t, func() bool { return !rt.Degraded() }, 10*time.Second, 5*time.Millisecond)
	assert.Less(t, time.Since(restarted), 5*time.Second, "reconciled within 5 s")
	close(stop)
	await.Wait(t, &wg, "the callers, stopped")

	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, failed, "no protected call may fail because of the store")
	duringMu.Lock()
	defer duringMu.Unlock()
	require.NotEmpty(t, during, "calls ran during the outage")
	c := redistest.Client(t, srv.Addr())
	for _, key := range during {
		n, err := c.Exists(context.Background(), "baldur:idem:{idemcheck}:Charge:"+key).Result()
		require.NoError(t, err)
		assert.EqualValues(t, 1, n, "claim %s made during the outage is in Redis", key)
	}
	t.Logf("%d calls, %d during the outage, DEGRADED %s after the kill", calls, len(during), "≤1s")
}
