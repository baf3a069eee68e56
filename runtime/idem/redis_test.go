package idem

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

// The shared Redis of the test machine; never stopped or flushed; each test
// works under its own prefix and deletes it.
var sharedRedis = redistest.SharedAddr

func requireRedisServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("BALDUR_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not on PATH and BALDUR_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server is not on PATH: skipping real-Redis test (set BALDUR_REQUIRE_REDIS=1 to fail instead)")
	}
}

// sharedStore opens the shared Redis under a store prefix of the test's own,
// deleted when the test ends.
func sharedStore(t testing.TB) (*store.Redis, string) {
	t.Helper()
	return redistest.SharedStore(t, store.RedisOptions{PoolSize: 128})
}

func openRedisStore(addr, prefix string) (*store.Redis, error) {
	return store.OpenRedis(context.Background(), "redis://"+addr, store.RedisOptions{Prefix: prefix, PoolSize: 128})
}

// Child processes of TestRedisFourProcessesRaceOnSameKeys and
// TestRedisCrashedProcessIsRetryableAfterTheWindow: the test binary re-executed
// with BALDUR_IDEM_CHILD set.
const (
	envChild  = "BALDUR_IDEM_CHILD"
	envAddr   = "BALDUR_IDEM_ADDR"
	envPrefix = "BALDUR_IDEM_PREFIX"
)

// runRaceChild runs the child's part when this process is one; it reports
// whether it was (TestMain then exits without running the tests).
func runRaceChild() bool {
	mode := os.Getenv(envChild)
	if mode == "" {
		return false
	}
	var err error
	switch mode {
	case "race":
		err = raceChild(os.Stdin, os.Stdout)
	case "crash":
		err = crashChild()
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
	return true
}

const (
	raceKeys       = 1000
	raceGoroutines = 50
	raceProcesses  = 4
)

func childGate() (*Gate, store.Store, error) {
	st, err := openRedisStore(os.Getenv(envAddr), os.Getenv(envPrefix))
	if err != nil {
		return nil, nil, err
	}
	g, err := New(st, Options{MemoryTTL: 5 * time.Minute,
		Logger: slog.New(slog.DiscardHandler)})
	return g, st, err
}

// raceChild claims every key from raceGoroutines goroutines, each in its own
// order; the "inner method" of an owned claim increments a per-key counter in
// Redis. It prints what it saw.
func raceChild(in io.Reader, out io.Writer) error {
	g, st, err := childGate()
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(out, "ready")
	if _, err := bufio.NewReader(in).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	ctx := context.Background()
	var owned, running, completed, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range raceGoroutines {
		wg.Go(func() {
			order := rand.Perm(raceKeys)
			for _, i := range order {
				key := "order-" + strconv.Itoa(i)
				c, err := g.Claim(ctx, Request{Domain: "payments", Operation: "Charge", Key: key, Fingerprint: uint64(i)})
				var dup *DuplicateError
				switch {
				case err == nil && c.Owned():
					if _, err := st.Incr(ctx, "ran:"+key, 1, 0); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					if err := g.Complete(ctx, c, true, nil); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					owned.Add(1)
				case errors.As(err, &dup) && dup.State == StateRunning:
					running.Add(1)
				case errors.As(err, &dup) && dup.State == StateCompleted:
					completed.Add(1)
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("claim %s: %v (claim %+v)", key, err, c))
				}
			}
		})
	}
	wg.Wait()
	fmt.Fprintf(out, "owned=%d running=%d completed=%d failed=%d\n", owned.Load(), running.Load(), completed.Load(), failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(out, "first error:", e)
	}
	return nil
}

// crashChild claims one key with a short window and dies without completing.
func crashChild() error {
	g, _, err := childGate()
	if err != nil {
		return err
	}
	c, err := g.Claim(context.Background(), Request{Domain: "payments", Operation: "Charge", Key: "crash",
		ExecutionWindow: 2 * time.Second})
	if err != nil || !c.Owned() {
		return fmt.Errorf("claim: %v", err)
	}
	fmt.Println("claimed")
	os.Exit(3) // crash: no Complete, no Close
	return nil
}

func childCmd(t *testing.T, mode, prefix string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envAddr+"="+sharedRedis, envPrefix+"="+prefix)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestRedisFourProcessesRaceOnSameKeys(t *testing.T) {
	st, prefix := sharedStore(t)
	type child struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
	}
	var children []child
	for range raceProcesses {
		cmd := childCmd(t, "race", prefix)
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		await.KillAfter(t, cmd, "a racing child process")
		children = append(children, child{cmd, in, bufio.NewReader(out)})
	}
	t.Cleanup(func() {
		for _, c := range children {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	for _, c := range children { // every child connected before any starts
		line, err := c.out.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "ready\n", line)
	}
	for _, c := range children {
		_, err := io.WriteString(c.in, "go\n")
		require.NoError(t, err)
	}
	var owned, dups, whileRunning int64
	for i, c := range children {
		rest, err := io.ReadAll(c.out)
		require.NoError(t, err)
		require.NoError(t, c.cmd.Wait(), "child %d", i)
		var o, r, d, f int64
		_, err = fmt.Sscanf(string(rest), "owned=%d running=%d completed=%d failed=%d", &o, &r, &d, &f)
		require.NoError(t, err, "child %d said %q", i, rest)
		require.Zero(t, f, "child %d: %s", i, rest)
		require.Equal(t, int64(raceGoroutines*raceKeys), o+r+d, "child %d: %s", i, rest)
		t.Logf("child %d: %s", i, strings.TrimSpace(string(rest)))
		owned += o
		dups += r + d
		whileRunning += r
	}
	assert.Equal(t, int64(raceKeys), owned, "exactly one claim per key won")
	assert.Equal(t, int64(raceProcesses*raceGoroutines*raceKeys-raceKeys), dups)
	assert.Positive(t, whileRunning, "callers did collide while a first execution was running")

	ctx := context.Background()
	for i := range raceKeys {
		key := "order-" + strconv.Itoa(i)
		v, err := st.Get(ctx, "ran:"+key)
		require.NoError(t, err, key)
		require.Equal(t, "1", string(v), "the inner work of %s ran exactly once", key)
	}
}

func TestRedisCrashedProcessIsRetryableAfterTheWindow(t *testing.T) {
	st, prefix := sharedStore(t)
	g, err := New(st, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx := context.Background()

	cmd := childCmd(t, "crash", prefix)
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the child crashes")
	require.Equal(t, 3, exit.ExitCode())
	require.Equal(t, "claimed\n", string(out))

	r := Request{Domain: "payments", Operation: "Charge", Key: "crash", ExecutionWindow: time.Minute}
	_, err = g.Claim(ctx, r)
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup, "the dead owner's claim is honoured inside its window")
	assert.Equal(t, StateRunning, dup.State)
	left, err := st.TTL(ctx, "idem:{payments}:Charge:crash")
	require.NoError(t, err)
	assert.LessOrEqual(t, left, 2*time.Second, "the claim expires with the window its owner asked for")

	// Redis expires the key on its own clock: poll for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := g.Claim(ctx, r)
		if err == nil {
			require.True(t, c.Owned())
			require.NoError(t, g.Complete(ctx, c, true, nil))
			break
		}
		require.ErrorIs(t, err, ErrDuplicate)
		require.True(t, time.Now().Before(deadline), "the crashed claim never expired")
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisReplayKeyReuseAndUndecodable(t *testing.T) {
	st, _ := sharedStore(t)
	g, err := New(st, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx := context.Background()

	r := Request{Domain: "payments", Operation: "Charge", Key: "order-1", Fingerprint: 42, Replay: true}
	c, err := g.Claim(ctx, r)
	require.NoError(t, err)
	require.NoError(t, g.Complete(ctx, c, true, []byte("receipt r-1")))
	again, err := g.Claim(ctx, r)
	require.NoError(t, err)
	require.True(t, again.Replayed())
	assert.Equal(t, "receipt r-1", string(again.Results()))

	r.Fingerprint = 43
	_, err = g.Claim(ctx, r)
	require.ErrorIs(t, err, ErrKeyReuse)

	require.NoError(t, st.Set(ctx, "idem:{payments}:Charge:junk", []byte("\xb1?"), time.Minute))
	_, err = g.Claim(ctx, Request{Domain: "payments", Operation: "Charge", Key: "junk", FailOpen: true})
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateUnknown, dup.State)

	// A failure releases the key in Redis too.
	c, err = g.Claim(ctx, Request{Domain: "payments", Operation: "Charge", Key: "order-2"})
	require.NoError(t, err)
	require.NoError(t, g.Complete(ctx, c, false, nil))
	_, err = st.Get(ctx, c.StoreKey())
	require.ErrorIs(t, err, store.ErrNotFound)
}

// privateRedis starts a redis-server of this test's own on a free loopback
// port; stop kills it (and is also run at cleanup).
func privateRedis(t *testing.T) (addr string, stop func()) {
	t.Helper()
	requireRedisServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	require.NoError(t, cmd.Start())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	// Wait for it to accept connections (a readiness probe, not a sleep).
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return addr, stop
		}
		require.True(t, time.Now().Before(deadline), "redis-server on %s did not start", addr)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisStoppedServerFailOpenVersusFailClosed(t *testing.T) {
	addr, stop := privateRedis(t)
	st, err := openRedisStore(addr, "baldur-test:")
	require.NoError(t, err)
	defer st.Close()
	sink := &logSink{}
	g, err := New(st, Options{Logger: slog.New(sink)})
	require.NoError(t, err)
	ctx := context.Background()

	running, err := g.Claim(ctx, Request{Domain: "payments", Operation: "Charge", Key: "before"})
	require.NoError(t, err)
	require.True(t, running.Owned())

	stop()

	closed := Request{Domain: "payments", Operation: "Charge", Key: "during"}
	_, err = g.Claim(ctx, closed)
	require.ErrorIs(t, err, ErrUnavailable, "fail-closed refuses the call")
	require.ErrorIs(t, err, store.ErrUnavailable)

	open := closed
	open.FailOpen = true
	c, err := g.Claim(ctx, open)
	require.NoError(t, err, "fail-open lets the call through")
	assert.True(t, c.Unguarded())
	assert.Equal(t, 1, sink.count("idem.gate_failed_open"))

	require.ErrorIs(t, g.Complete(ctx, running, true, nil), store.ErrUnavailable)
	assert.Equal(t, 1, sink.count("idem.complete_failed"))
}

// BenchmarkRedisClaimComplete measures a claim and a successful completion
// of a fresh key (two round trips) against the shared Redis, at 1, 8 and 64
// concurrent callers, with the store's autopipelining on (the default) and
// off. Compare with BenchmarkRedisPlainSet and with `redis-benchmark -t set
// -c N`; bench/idem-redis.sh runs the two side by side, interleaved.
func BenchmarkRedisClaimComplete(b *testing.B) {
	for _, pipe := range []string{"on", "off"} {
		for _, callers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("autopipeline=%s/callers=%d", pipe, callers), func(b *testing.B) {
				st, _ := redistest.SharedStore(b, store.RedisOptions{PoolSize: 128, NoAutoPipeline: pipe == "off"})
				g, err := New(st, Options{MemoryTTL: time.Minute})
				require.NoError(b, err)
				ctx := context.Background()
				keys := make([]string, b.N)
				for i := range keys {
					keys[i] = strconv.Itoa(i)
				}
				runConcurrently(b, callers, func(i int) error {
					c, err := g.Claim(ctx, Request{Domain: "bench", Operation: "Op", Key: keys[i]})
					if err != nil {
						return err
					}
					return g.Complete(ctx, c, true, nil)
				})
			})
		}
	}
}

// BenchmarkRedisPlainSet is one SET per op through the same store: what one
// round trip of this client costs.
func BenchmarkRedisPlainSet(b *testing.B) {
	for _, callers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			st, _ := sharedStore(b)
			ctx := context.Background()
			v := []byte("xxx")
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
			}
			runConcurrently(b, callers, func(i int) error {
				return st.Set(ctx, keys[i], v, time.Minute)
			})
		})
	}
}

// runConcurrently runs op(0..b.N-1) from callers goroutines and reports ops/s.
func runConcurrently(b *testing.B, callers int, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	b.ResetTimer()
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
	if err := firstErr.Load(); err != nil {
		b.Fatal(err)
	}
}
