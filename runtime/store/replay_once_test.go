package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

// journalWhileDown leaves in dir the journal of a process that wrote n
// appends to stream and n counter increments while its Redis was
// unreachable: a Failover on a port nobody listens on, closed afterwards.
func journalWhileDown(t *testing.T, dir, stream, tag string, n int) {
	t.Helper()
	ctx := context.Background()
	down := "redis://127.0.0.1:" + strconv.Itoa(redistest.FreePort(t, false))
	remote, err := store.OpenRedis(ctx, down, store.RedisOptions{LazyConnect: true})
	require.NoError(t, err)
	local, err := store.OpenEmbedded(dir, store.EmbeddedOptions{})
	require.NoError(t, err)
	f, err := store.NewFailover(ctx, remote, local, store.FailoverOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.Equal(t, store.ModeDegraded, f.Mode())
	// Concurrent writers share fsyncs (group commit).
	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += writers {
				_, errs[w] = f.Atomic(ctx, store.Txn{Ops: []store.Op{
					store.AppendOp(stream, []byte(tag+"-"+strconv.Itoa(i))),
					store.IncrOp(stream+":n", 1, 0),
				}})
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.NoError(t, f.Close())
}

// TestFailover_ConcurrentReconciliationsAfterScriptFlushApplyEachWriteOnce
// replays the journals of two processes at the same time into a Redis that
// has just lost its scripts (SCRIPT FLUSH, as after a restart), many times.
// Each replay pipelines its batch; whichever process loads the script first
// makes the rest of the other's batch succeed, and a batch sent again whole
// used to apply those writes twice. Every write must reach Redis exactly once.
func TestFailover_ConcurrentReconciliationsAfterScriptFlushApplyEachWriteOnce(t *testing.T) {
	srv := redistest.Start(t)
	raw := redistest.Client(t, srv.Addr())
	ctx := context.Background()
	const rounds, perProcess = 16, 600
	for round := range rounds {
		stream := fmt.Sprintf("dlq:{r%d}", round)
		dirs := [2]string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
		for p, dir := range dirs {
			journalWhileDown(t, dir, stream, fmt.Sprintf("p%d", p), perProcess)
		}
		require.NoError(t, raw.ScriptFlush(ctx).Err())
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for p, dir := range dirs {
			wg.Go(func() {
				remote, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{LazyConnect: true, Prefix: "once:"})
				if err != nil {
					errs[p] = err
					return
				}
				local, err := store.OpenEmbedded(dir, store.EmbeddedOptions{})
				if err != nil {
					_ = remote.Close()
					errs[p] = err
					return
				}
				<-start
				// NewFailover replays the journal a previous process left
				// before it serves anything.
				// A generous ping timeout: under load the start-up ping must
				// not time out, or the replay moves to the monitor.
				normal := make(chan struct{}, 1)
				f, err := store.NewFailover(ctx, remote, local, store.FailoverOptions{
					Logger: slog.New(slog.DiscardHandler), ReconcileTimeout: 20 * time.Second, PingTimeout: 5 * time.Second,
					OnModeChange: func(m store.Mode) {
						if m == store.ModeNormal {
							select {
							case normal <- struct{}{}:
							default:
							}
						}
					}})
				if err != nil {
					errs[p] = err
					return
				}
				if f.Mode() != store.ModeNormal {
					select { // the start-up attempt failed: the monitor retries
					case <-normal:
					case <-time.After(30 * time.Second):
						errs[p] = fmt.Errorf("process %d still degraded 30s after its start", p)
					}
				}
				errs[p] = errors.Join(errs[p], f.Close())
			})
		}
		close(start)
		wg.Wait()
		require.NoError(t, errors.Join(errs[:]...), "round %d", round)

		entries, err := raw.XRange(ctx, "once:"+stream, "-", "+").Result()
		require.NoError(t, err)
		seen := map[string]int{}
		for _, e := range entries {
			seen[e.Values["v"].(string)]++
		}
		for v, n := range seen {
			require.Equal(t, 1, n, "round %d: %s appended %d times", round, v, n)
		}
		require.Len(t, seen, 2*perProcess, "round %d: every journaled append reaches Redis", round)
		counter, err := raw.Get(ctx, "once:"+stream+":n").Int()
		require.NoError(t, err)
		require.Equal(t, 2*perProcess, counter, "round %d: every journaled increment applied once", round)
	}
}
