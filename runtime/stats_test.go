package runtime

import (
	"context"
	"errors"
	"log/slog"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Per-P counting must stay exact with many goroutines migrating between Ps,
// and when GOMAXPROCS grows past the cells the zone was built with.
func TestCallStatsExactUnderConcurrency(t *testing.T) {
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(), CallStats: true})
	require.NoError(t, err)
	defer rt.Close()
	z := rt.Zone(ZoneSpec{Service: "exact", Method: "M", Breaker: true, Attempts: 1})
	zf := rt.Zone(ZoneSpec{Service: "exactfail", Method: "M", Breaker: true, Attempts: 1})
	rt.breakers["exactfail"].ForceClose("test") // failures never open it

	prev := goruntime.GOMAXPROCS(0)
	defer goruntime.GOMAXPROCS(prev)
	const goroutines, calls = 32, 2000
	run := func() {
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Go(func() {
				ctx := context.Background()
				for i := 0; i < calls; i++ {
					p, err := z.Enter(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if i%100 == 0 {
						goruntime.Gosched() // move between Ps
					}
					z.Done(ctx, p, nil, 1)
					if i%10 == 0 {
						p, err := zf.Enter(ctx)
						if err != nil {
							t.Error(err)
							return
						}
						zf.Done(ctx, p, errors.New("boom"), 1)
					}
				}
			})
		}
		wg.Wait()
	}
	run()
	goruntime.GOMAXPROCS(len(z.stats.cells) + 3) // Ps the zone has no cell for
	run()
	goruntime.GOMAXPROCS(prev)

	br := rt.breakers["exact"]
	br.ForceOpen("test")
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Go(func() {
			for i := 0; i < 100; i++ {
				if _, err := z.Enter(context.Background()); !errors.Is(err, ErrOpen) {
					t.Errorf("want ErrOpen, got %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	stats := map[string]CallStats{}
	for _, cs := range rt.CallStats() {
		stats[cs.Service] = cs
	}
	assert.Equal(t, uint64(2*goroutines*calls), stats["exact"].Successes)
	assert.Equal(t, uint64(goroutines*100), stats["exact"].RejectedOpen)
	assert.Equal(t, uint64(2*goroutines*calls/10), stats["exactfail"].Failures)
	assert.Zero(t, stats["exactfail"].Successes)
}
