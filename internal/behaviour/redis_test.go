package behaviour

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
)

// These tests run against real redis-server processes: the shared one on
// 127.0.0.1:6379 for the fleet test (under a prefix of its own), a private
// one for counting commands.

var sharedRedis = redistest.SharedAddr

func redisRuntime(t testing.TB, url, prefix string) *runtime.Runtime {
	rt, err := runtime.New(context.Background(), runtime.Config{
		Logger:      slog.New(slog.DiscardHandler),
		RedisURL:    url,
		RedisPrefix: prefix,
		StateDir:    t.TempDir(),
		Breaker:     runtime.BreakerConfig{FailureThreshold: 5, RecoveryTimeout: time.Minute},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// fleetChild is the second process of the fleet test: it builds a wrapper on
// the shared Redis, says "ready", and reports when its breaker opens.
func fleetChild() {
	rt, err := runtime.New(context.Background(), runtime.Config{
		Logger:      slog.New(slog.DiscardHandler),
		RedisURL:    "redis://" + sharedRedis,
		RedisPrefix: os.Getenv("BALDUR_FLEET_PREFIX"),
		StateDir:    os.Getenv("BALDUR_FLEET_STATE_DIR"),
		OnBreakerChange: func(tr breaker.Transition) {
			if tr.To == breaker.Open {
				fmt.Printf("open %d %s\n", time.Now().UnixNano(), tr.Reason)
			}
		},
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	defer rt.Close()
	NewProtectedPricer(&fake{}, rt) // builds the "pricer" breaker
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes our stdin
}

func TestFleet_BreakerOpenedInOneProcessOpensInAnother(t *testing.T) {
	prefix := redistest.Prefix(t, redistest.Shared(t))
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "BALDUR_FLEET_CHILD=1", "BALDUR_FLEET_PREFIX="+prefix, "BALDUR_FLEET_STATE_DIR="+t.TempDir())
	stdin, err := child.StdinPipe()
	require.NoError(t, err)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	await.KillAfter(t, child, "the fleet child process")
	defer func() {
		_ = stdin.Close()
		_ = child.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	select {
	case l := <-lines:
		require.Equal(t, "ready", l)
	case <-time.After(30 * time.Second):
		t.Fatal("the child never became ready")
	}

	rt := redisRuntime(t, "redis://"+sharedRedis, prefix)
	f := &fake{script: repeat(errDown, 5)}
	p := NewProtectedPricer(f, rt)
	for range 5 {
		_ = p.Plain(context.Background())
	}
	b, _ := rt.Breaker("pricer")
	require.Equal(t, breaker.Open, b.State())
	openedHere := time.Now()

	select {
	case l, ok := <-lines:
		require.True(t, ok, "the child exited early")
		fields := strings.Fields(l)
		require.GreaterOrEqual(t, len(fields), 2, l)
		require.Equal(t, "open", fields[0], l)
		ns, err := strconv.ParseInt(fields[1], 10, 64)
		require.NoError(t, err)
		lag := time.Unix(0, ns).Sub(openedHere)
		t.Logf("the other process opened %s after this one (%s)", lag, l)
		assert.Less(t, lag, time.Second)
		assert.Contains(t, l, "remote: node")
	case <-time.After(5 * time.Second):
		t.Fatal("the breaker never opened in the other process")
	}
}

// commandCalls sums INFO commandstats calls, leaving out the runtime's
// background health pings and this test's own INFO.
func commandCalls(t *testing.T, c *redis.Client) int64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	var total int64
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || name == "cmdstat_ping" || name == "cmdstat_info" {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.ParseInt(n, 10, 64)
		require.NoError(t, err)
		total += v
	}
	return total
}

func TestHotPathSendsNoRedisCommandPerCall(t *testing.T) {
	srv := redistest.Start(t)
	rt := redisRuntime(t, srv.URL(), "baldur:")
	p := NewProtectedPricer(&fake{}, rt)
	c := redistest.Client(t, srv.Addr())
	ctx := context.Background()
	_, _ = p.Hot(ctx, 0)
	before := commandCalls(t, c)
	for i := range 10_000 {
		_, err := p.Hot(ctx, i)
		require.NoError(t, err)
	}
	after := commandCalls(t, c)
	assert.Less(t, after-before, int64(10), "10 000 protected calls sent %d commands to Redis", after-before)
}
