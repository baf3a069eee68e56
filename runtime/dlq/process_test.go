package dlq

// Tests that start real processes: the test binary re-executes itself as a
// child (see TestMain and childEnv).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// sharedRedis opens the shared Redis under a store prefix of the test's own,
// deleted when the test ends, and returns the store and the prefix.
func sharedRedis(t testing.TB) (*store.Redis, string) {
	t.Helper()
	return redistest.SharedStore(t, store.RedisOptions{})
}

// child returns the command that re-executes the test binary as child kind.
func child(t *testing.T, kind string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+kind), env...)
	cmd.Stderr = os.Stderr
	return cmd
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTwoProcessesOnOneRedisNeverReplayTheSameEntryAtOnce(t *testing.T) {
	st, prefix := sharedRedis(t)
	ctx := context.Background()
	q, err := New(st, Options{Logger: quietLogger()})
	require.NoError(t, err)
	defer q.Close()
	const n = 200
	for i := range n {
		_, err := q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
			Args: mustJSON(t, chargeArgs{OrderID: strconv.Itoa(i)}), Err: errDeclined})
		require.NoError(t, err)
	}
	var cmds []*exec.Cmd
	began := time.Now()
	for k := range 2 {
		cmd := child(t, "redis-replayer", "BALDUR_DLQ_TEST_PREFIX="+prefix, "BALDUR_DLQ_TEST_SEED="+strconv.Itoa(k))
		var out strings.Builder
		cmd.Stdout = &out
		require.NoError(t, cmd.Start())
		await.KillAfter(t, cmd, "a replaying child process")
		cmds = append(cmds, cmd)
		t.Cleanup(func() { t.Logf("child %d: %s", k, out.String()) })
	}
	for _, cmd := range cmds {
		require.NoError(t, cmd.Wait())
	}
	t.Logf("children done after %v", time.Since(began))

	overlaps, err := q.counterValue(ctx, "test:overlaps")
	require.NoError(t, err)
	assert.Zero(t, overlaps, "an entry was replayed by two processes at once")
	for i := range n {
		runs, err := q.counterValue(ctx, "test:runs:"+strconv.Itoa(i))
		require.NoError(t, err)
		assert.EqualValues(t, 1, runs, "order %d: each entry runs once (its replay succeeds)", i)
	}
	s, err := q.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, s.Total)
	require.Len(t, s.Groups, 1)
	assert.EqualValues(t, n, s.Groups[0].Resolved)
}

// redisReplayerChild replays the entries of the parent's queue: first one by
// one in an order of its own, then in batches, until nothing is pending. Its
// replayer counts overlapping runs of one entry in Redis.
func redisReplayerChild() int {
	ctx := context.Background()
	prefix := os.Getenv("BALDUR_DLQ_TEST_PREFIX")
	seed, _ := strconv.ParseUint(os.Getenv("BALDUR_DLQ_TEST_SEED"), 10, 64)
	st, err := store.OpenRedis(ctx, "redis://"+redistest.SharedAddr, store.RedisOptions{Prefix: prefix})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer st.Close()
	q, err := New(st, Options{Logger: quietLogger(), ReplayRate: -1, ReplayConcurrency: 4,
		Owner: "child-" + strconv.FormatUint(seed, 10), RunnerLease: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer q.Close()
	q.Register("payments", "Charge", "sig1", func(ctx context.Context, args []byte) error {
		var a chargeArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return Undecodable(err)
		}
		running := "test:running:" + a.OrderID
		if ok, err := st.SetNX(ctx, running, []byte("1"), time.Minute); err != nil {
			return err
		} else if !ok {
			if _, err := st.Incr(ctx, "test:overlaps", 1, 0); err != nil {
				return err
			}
		}
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // widen the window for an overlap
		if _, err := st.Delete(ctx, running); err != nil {
			return err
		}
		_, err := st.Incr(ctx, "test:runs:"+a.OrderID, 1, 0)
		return err
	})
	var busy, replayed int
	t0 := time.Now()
	defer func() { fmt.Printf("took %v\n", time.Since(t0)) }()
	ids, err := pendingIDs(ctx, q)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	// Both children start together and go through the same ids in the same
	// order, so that they keep reaching for the same entry at once.
	if _, err := st.Incr(ctx, "test:ready", 1, 0); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	for {
		n, err := q.counterValue(ctx, "test:ready")
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		if n >= 2 {
			break
		}
		time.Sleep(time.Millisecond) // a cross-process barrier: poll the other child's arrival
	}
	for _, id := range ids[:len(ids)*3/4] {
		_, err := q.Replay(ctx, id)
		switch {
		case errors.Is(err, ErrBusy) || errors.Is(err, ErrState) || errors.Is(err, ErrNotFound):
			busy++
		case err != nil:
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		default:
			replayed++
		}
	}
	for {
		rep, batchErr := q.ReplayBatch(ctx, BatchFilter{Domain: "payments", Limit: 25})
		if batchErr != nil && !errors.Is(batchErr, ErrBusy) {
			fmt.Fprintln(os.Stderr, "child:", batchErr)
			return 1
		}
		replayed += rep.Outcomes[OutcomeResolved]
		left, err := q.counterValue(ctx, q.k.total())
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		if left <= 0 {
			break
		}
		if time.Since(t0) > 30*time.Second {
			fmt.Fprintf(os.Stderr, "child: %d entries still unresolved after 30s\n", left)
			return 2
		}
		if rep.Replayed == 0 {
			time.Sleep(5 * time.Millisecond) // the other child holds the domain; poll again
		}
	}
	fmt.Printf("resolved %d, found %d busy or done\n", replayed, busy)
	return 0
}

func pendingIDs(ctx context.Context, q *Queue) ([]string, error) {
	var ids []string
	p := Page{Limit: MaxPageSize}
	for {
		l, err := q.List(ctx, Filter{State: StatePending}, p)
		if err != nil {
			return nil, err
		}
		for _, e := range l.Entries {
			ids = append(ids, e.ID)
		}
		if l.Next == "" {
			return ids, nil
		}
		p.Cursor = l.Next
	}
}

const (
	crashEntries     = 200
	crashResolved    = 30 // replays that succeed before the child hangs
	crashConcurrency = 4
)

func TestSIGKILLMidBatchOnTheEmbeddedStoreLosesNoEntry(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.OpenEmbedded(dir, store.EmbeddedOptions{Logger: quietLogger()})
	require.NoError(t, err)
	q, err := New(st, Options{Logger: quietLogger()})
	require.NoError(t, err)
	parked := map[string]bool{}
	for i := range crashEntries {
		id, err := q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
			Args: mustJSON(t, chargeArgs{OrderID: strconv.Itoa(i)}), Err: errDeclined})
		require.NoError(t, err)
		parked[id] = true
	}
	require.NoError(t, q.Close())
	require.NoError(t, st.Close())

	cmd := child(t, "embedded-batch", "BALDUR_DLQ_TEST_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	await.KillAfter(t, cmd, "the crashing child process")
	lines := bufio.NewScanner(stdout)
	started := 0
	for started < crashResolved+crashConcurrency && lines.Scan() {
		if strings.HasPrefix(lines.Text(), "start ") {
			started++
		}
	}
	require.Equal(t, crashResolved+crashConcurrency, started, "child output ended early")
	// Every slot now holds a hung replay, so the first 30 have finished.
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	clk := clock.NewFake(time.Now())
	st, err = store.OpenEmbedded(dir, store.EmbeddedOptions{Clock: clk, Logger: quietLogger()})
	require.NoError(t, err)
	defer st.Close()
	q, err = New(st, Options{Clock: clk, Lease: 10 * time.Second, ReplayRate: -1, Logger: quietLogger()})
	require.NoError(t, err)
	defer q.Close()

	count := func() map[State]int {
		got := map[State]int{}
		seen := map[string]bool{}
		for _, s := range []State{StatePending, StateReplaying, StateNeedsReview, StateResolved} {
			for _, id := range (&fixture{q: q}).allIDs(t, Filter{State: s}) {
				require.False(t, seen[id], "%s listed twice", id)
				seen[id] = true
				got[s]++
			}
		}
		assert.Equal(t, parked, seen, "every parked entry is still there")
		return got
	}
	assert.Equal(t, map[State]int{StateResolved: crashResolved, StateReplaying: crashConcurrency,
		StatePending: crashEntries - crashResolved - crashConcurrency}, count())
	n, err := q.Reap(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the child's leases run for 10s")

	clk.Advance(11 * time.Second)
	n, err = q.Reap(ctx)
	require.NoError(t, err)
	assert.Equal(t, crashConcurrency, n)
	assert.Equal(t, map[State]int{StateResolved: crashResolved, StatePending: crashEntries - crashResolved}, count())

	// The child's domain lease expired too: a batch finishes the job.
	var c charger
	q.Register("payments", "Charge", "sig1", c.replayer)
	rep, err := q.ReplayBatch(ctx, BatchFilter{Domain: "payments"})
	require.NoError(t, err)
	assert.Equal(t, crashEntries-crashResolved, rep.Outcomes[OutcomeResolved])
	assert.Equal(t, map[State]int{StateResolved: crashEntries}, count())
}

// embeddedBatchChild replays the parent's entries in one batch: the first
// crashResolved replays succeed, the later ones hang until the parent kills
// the process. It prints "start <order>" as each replay begins.
func embeddedBatchChild() int {
	st, err := store.OpenEmbedded(os.Getenv("BALDUR_DLQ_TEST_DIR"), store.EmbeddedOptions{Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	q, err := New(st, Options{Logger: quietLogger(), ReplayRate: -1, ReplayConcurrency: crashConcurrency,
		Lease: 10 * time.Second, RunnerLease: 10 * time.Second, Owner: "doomed-child"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	var n atomic.Int64
	q.Register("payments", "Charge", "sig1", func(ctx context.Context, args []byte) error {
		var a chargeArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return Undecodable(err)
		}
		k := n.Add(1)
		fmt.Println("start", a.OrderID)
		if k > crashResolved {
			<-ctx.Done() // hang: the parent kills the process long before the lease ends
			return ctx.Err()
		}
		return nil
	})
	_, err = q.ReplayBatch(context.Background(), BatchFilter{Domain: "payments"})
	fmt.Fprintln(os.Stderr, "child: batch ended before the kill:", err)
	return 1
}
