package runtime

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// seriesChildEnv makes the test binary a series child: a runtime on the
// Redis at BALDUR_SERIES_TEST_URL that makes BALDUR_SERIES_TEST_CALLS calls
// to payments (failing ones, with the breaker forced open, when
// BALDUR_SERIES_TEST_OPEN is set), ticks one minute on a fake clock starting
// at seriesStart, says "published" and closes when its stdin does.
const seriesChildEnv = "BALDUR_SERIES_TEST_CHILD"

var seriesStart = time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)

func seriesCalls(rt *Runtime, n int, fail error) {
	ctx := context.Background()
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	for range n {
		if p, err := z.Enter(ctx); err == nil {
			z.Done(ctx, p, fail, 1)
		}
	}
}

func seriesChild() int {
	clk := clock.NewFake(seriesStart)
	dir, err := os.MkdirTemp("", "series-child")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	rt, err := New(context.Background(), Config{RedisURL: os.Getenv("BALDUR_SERIES_TEST_URL"), StateDir: dir, Clock: clk,
		Logger: slog.New(slog.DiscardHandler), CallStats: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer rt.Close()
	n, _ := strconv.Atoi(os.Getenv("BALDUR_SERIES_TEST_CALLS"))
	if os.Getenv("BALDUR_SERIES_TEST_OPEN") != "" {
		seriesCalls(rt, 0, nil)
		b, _ := rt.Breaker("payments")
		b.ForceOpen("drill")
	}
	seriesCalls(rt, n, nil)
	rt.Series().Annotate("canary", "payments", "stage 1 on "+strconv.Itoa(n))
	clk.Advance(30 * time.Second) // the tick at 10:01 records and publishes
	fmt.Println("published")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// Three processes on a private Redis: each publishes its rings after its
// tick, and any of them answers the fleet's merged series; a process that
// closes drops out.
func TestSeriesMergeAcrossThreeProcesses(t *testing.T) {
	srv := redistest.Start(t)
	type kid struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
	}
	var kids []kid
	for i, calls := range []int{7, 5} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), seriesChildEnv+"=1", "BALDUR_SERIES_TEST_URL="+srv.URL(),
			"BALDUR_SERIES_TEST_CALLS="+strconv.Itoa(calls))
		if i == 1 {
			cmd.Env = append(cmd.Env, "BALDUR_SERIES_TEST_OPEN=1")
		}
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		await.KillAfter(t, cmd, "a series child")
		lines := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		assert.Equal(t, "published", await.Recv(t, lines, "the child's first tick"))
		kids = append(kids, kid{cmd, stdin})
	}

	clk := clock.NewFake(seriesStart)
	rt, err := New(context.Background(), Config{RedisURL: srv.URL(), StateDir: t.TempDir(), Clock: clk,
		Logger: slog.New(slog.DiscardHandler), CallStats: true})
	require.NoError(t, err)
	defer rt.Close()
	seriesCalls(rt, 3, nil)
	clk.Advance(30 * time.Second)

	ctx := context.Background()
	m, skipped, err := rt.SeriesFleet(ctx)
	require.NoError(t, err)
	assert.Zero(t, skipped)
	assert.Equal(t, 3, m.Processes(), "three processes merged")
	v, ok := m.Service("payments")
	require.True(t, ok)
	require.Len(t, v.Minutes, 1, "the three minutes are the same minute")
	p := v.Minutes[0]
	assert.Equal(t, uint64(7+5+3), p.Calls, "calls add up across the processes")
	assert.Equal(t, uint64(5+3), p.Rejections, "the forced open is shared through Redis: the second process and this one refused")
	assert.Equal(t, breaker.ForcedOpen, p.Worst, "the most restrictive state any process saw")
	assert.Len(t, v.Annotations, 2, "each child's canary annotation")
	own, _ := rt.Series().Service("payments")
	assert.Equal(t, uint64(3), own.Minutes[0].Calls, "the process scope stays this process's")

	st, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Prefix: "baldur:"})
	require.NoError(t, err)
	defer st.Close()
	keys, err := st.Keys(ctx, SeriesKeyPrefix)
	require.NoError(t, err)
	require.Len(t, keys, 3)
	ttl, err := st.TTL(ctx, keys[0])
	require.NoError(t, err)
	assert.True(t, ttl > 0 && ttl <= SeriesTTL, "a published series expires (%v): a dead process drops out", ttl)

	// The second child closes: it removes its key at once.
	require.NoError(t, kids[1].stdin.Close())
	require.NoError(t, kids[1].cmd.Wait())
	m, _, err = rt.SeriesFleet(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, m.Processes(), "a closed process drops out")
	v, _ = m.Service("payments")
	assert.Equal(t, uint64(7+3), v.Minutes[0].Calls)
	require.NoError(t, kids[0].stdin.Close())
	require.NoError(t, kids[0].cmd.Wait())
}

// A process that died without closing drops out when its key expires; a
// snapshot older than SeriesTTL is not merged even if the store kept it.
func TestSeriesFleetDropsDeadProcesses(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(seriesStart)
	st := store.NewMemoryWith(store.MemoryOptions{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	open := func() *Runtime {
		rt, err := New(context.Background(), Config{Store: st, Clock: clk, Logger: slog.New(slog.DiscardHandler), CallStats: true})
		require.NoError(t, err)
		return rt
	}
	a, b := open(), open()
	defer a.Close()
	seriesCalls(a, 4, nil)
	seriesCalls(b, 6, nil)
	clk.Advance(30 * time.Second)
	m, _, err := a.SeriesFleet(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, m.Processes())
	v, _ := m.Service("payments")
	assert.Equal(t, uint64(10), v.Minutes[0].Calls)

	// b stops ticking (a process that hangs or died without Close): its
	// key outlives it by SeriesTTL at most.
	b.series.Close()
	clk.Advance(SeriesTTL + time.Minute)
	m, _, err = a.SeriesFleet(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, m.Processes(), "the silent process dropped out")
	_ = b.Close()
}
