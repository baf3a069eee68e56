package dlq_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

func init() {
	// The outage test refuses go-redis's connections on purpose; what
	// matters is asserted, not printed.
	if os.Getenv("BALDUR_TEST_REDIS_LOGS") == "" {
		redis.SetLogger(quietRedis{})
	}
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// process is one runtime's queue on a Failover over a shared Redis.
type process struct {
	f     *store.Failover
	q     *dlq.Queue
	modes chan store.Mode
}

func newProcess(t *testing.T, url, dir string) *process {
	t.Helper()
	ctx := context.Background()
	remote, err := store.OpenRedis(ctx, url, store.RedisOptions{LazyConnect: true, Prefix: "outage:"})
	require.NoError(t, err)
	local, err := store.OpenEmbedded(dir, store.EmbeddedOptions{})
	require.NoError(t, err)
	p := &process{modes: make(chan store.Mode, 16)}
	p.f, err = store.NewFailover(ctx, remote, local, store.FailoverOptions{
		Logger:       slog.New(slog.DiscardHandler),
		OnModeChange: func(m store.Mode) { p.modes <- m },
	})
	require.NoError(t, err)
	p.q, err = dlq.New(p.f, dlq.Options{Logger: slog.New(slog.DiscardHandler), ReplayRate: -1})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, p.q.Close())
		require.NoError(t, p.f.Close())
	})
	return p
}

func (p *process) await(t *testing.T, want store.Mode, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-p.modes:
			if m == want {
				return
			}
		case <-deadline:
			t.Fatalf("not %v within %v (mode %v)", want, within, p.f.Mode())
		}
	}
}

// parkN parks n failures of domain.Charge and returns their ids.
func (p *process) parkN(t *testing.T, domain, ftype string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := p.q.Park(context.Background(), dlq.Capture{Domain: domain, Method: "Charge", Signature: "s",
			Args: []byte(fmt.Sprintf(`{"order":%d}`, i)), Err: errors.New("declined"), Attempts: 1, FailureType: ftype})
		require.NoError(t, err)
		ids[i] = id
	}
	return ids
}

// TestOutage_RedisBackEmpty_EveryEntryVisibleOnEveryReadPath runs two
// processes, each with its own domain, on a private Redis: they park (so
// each has written its registry once), Redis is SIGKILLed, they park while
// DEGRADED, Redis comes back empty (its scripts gone too) and both reconcile
// at once, then they park again. Every entry parked from the kill on must be
// found by an unfiltered List, by Stats (in total, per domain and per
// failure type) and by the DLQ metrics, each entry counted once.
func TestOutage_RedisBackEmpty_EveryEntryVisibleOnEveryReadPath(t *testing.T) {
	srv := redistest.Start(t)
	base := t.TempDir()
	procs := []*process{newProcess(t, srv.URL(), filepath.Join(base, "a")), newProcess(t, srv.URL(), filepath.Join(base, "b"))}
	domains := []string{"payments", "ledger"}
	types := []string{"timeout", "http_503"}

	for i, p := range procs {
		p.parkN(t, domains[i], types[0], 20) // lost with the server: no persistence
	}
	srv.Kill()
	want := map[string]string{} // id → domain
	var wmu sync.Mutex
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			// The first park after the kill finds Redis gone and degrades.
			ids := p.parkN(t, domains[i], types[i%2], 300)
			wmu.Lock()
			for _, id := range ids {
				want[id] = domains[i]
			}
			wmu.Unlock()
		})
	}
	wg.Wait()
	for _, p := range procs {
		p.await(t, store.ModeDegraded, 2*time.Second)
	}
	srv.Restart() // empty, no script loaded: both replay their journals at once
	for _, p := range procs {
		p.await(t, store.ModeNormal, 10*time.Second)
	}
	for i, p := range procs {
		for _, id := range p.parkN(t, domains[i], types[1], 25) {
			want[id] = domains[i]
		}
	}

	ctx := context.Background()
	for _, p := range procs { // every process sees the whole queue
		// An unfiltered List, every page.
		got := map[string]string{}
		page := dlq.Page{Limit: 97}
		for {
			l, err := p.q.List(ctx, dlq.Filter{}, page)
			require.NoError(t, err)
			for _, e := range l.Entries {
				_, dup := got[e.ID]
				require.False(t, dup, "entry %s listed twice", e.ID)
				got[e.ID] = e.Domain
			}
			if l.Next == "" {
				break
			}
			page.Cursor = l.Next
		}
		require.Equal(t, len(want), len(got), "unfiltered List finds every entry parked from the kill on")
		require.Equal(t, want, got)

		perDomain := map[string]int64{}
		for _, d := range want {
			perDomain[d]++
		}
		st, err := p.q.Stats(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), st.Total, "Stats().Total counts each entry once")
		statsDomains := map[string]int64{}
		for _, d := range st.Domains {
			statsDomains[d.Domain] = d.Pending
		}
		require.Equal(t, perDomain, statsDomains, "Stats per domain")
		var byGroup int64
		for _, g := range st.Groups {
			byGroup += g.Pending
		}
		require.Equal(t, int64(len(want)), byGroup, "Stats per failure type")

		depth, err := dlq.QueueDepth(p.q).DLQDepth(ctx)
		require.NoError(t, err)
		metricDomains := map[string]int64{}
		for _, d := range depth {
			if d.State == string(dlq.StatePending) {
				metricDomains[d.Domain] += d.Entries
			}
		}
		require.Equal(t, perDomain, metricDomains, "baldur_dlq_entries by domain")
	}
}
