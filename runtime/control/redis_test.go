package control_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/control"
)

const (
	childEnv       = "BALDUR_CONTROL_TEST_CHILD"
	childPrefixEnv = "BALDUR_CONTROL_TEST_PREFIX"
	redisAddr      = "127.0.0.1:6379"
)

// redisClient connects to the shared Redis, or skips when there is none.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("BALDUR_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not on PATH and BALDUR_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server is not on PATH; set BALDUR_REQUIRE_REDIS=1 to make this a failure")
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		if os.Getenv("BALDUR_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis at %s: %v", redisAddr, err)
		}
		t.Skipf("no redis at %s: %v", redisAddr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix is unique per test; its keys are deleted at cleanup.
func testPrefix(t *testing.T, c *redis.Client) string {
	p := fmt.Sprintf("baldurtest:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, p+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

func TestRedisFlipIsSeenByAnotherControl(t *testing.T) {
	ctx := context.Background()
	rc := redisClient(t)
	prefix := testPrefix(t, rc)
	a := newControl(t, control.Options{Backend: control.NewRedis(rc, prefix)})
	tg := newTarget()
	b := newControl(t, control.Options{Backend: control.NewRedis(rc, prefix), Target: tg}) // polling off: pub/sub only

	_, err := a.Disable(ctx, "alice", "incident 42")
	require.NoError(t, err)
	tg.waitFor(t, false, false, time.Second)
	assert.Equal(t, "incident 42", b.Status().Reason)

	_, err = a.StartDryRun(ctx, "alice", "")
	require.NoError(t, err)
	tg.waitFor(t, false, true, time.Second)
	_, err = b.GoLive(ctx, "bob", control.Confirmation, "")
	require.NoError(t, err)
	_, err = b.Enable(ctx, "bob", "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.Enabled() && !a.DryRun() }, time.Second, 5*time.Millisecond)
	assert.Len(t, a.History(), 4)
}

func TestRedisCorruptStateIsKeptAside(t *testing.T) {
	ctx := context.Background()
	rc := redisClient(t)
	prefix := testPrefix(t, rc)
	be := control.NewRedis(rc, prefix)
	require.NoError(t, rc.Set(ctx, be.Key(), "not json", 0).Err())
	var logs logSink
	c := newControl(t, control.Options{Backend: be, Logger: logs.logger()})
	assert.True(t, c.Enabled())
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	aside, _ := ev[0]["set_aside"].(string)
	v, err := rc.Get(ctx, aside).Result()
	require.NoError(t, err)
	assert.Equal(t, "not json", v)
	_, err = c.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	s, err := be.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
}

func TestRedisUnreachableMeansEnabledAndLive(t *testing.T) {
	redisClient(t) // the same skip rules apply
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rc.Close()
	var logs logSink
	c := newControl(t, control.Options{Backend: control.NewRedis(rc, "x:"), Logger: logs.logger()})
	assert.True(t, c.Enabled())
	assert.False(t, c.DryRun())
	assert.NotEmpty(t, c.Status().StateError)
	assert.Len(t, logs.events("control.state_unreadable"), 1)
	assert.Len(t, logs.events("control.watch_failed"), 1)
	_, err := c.Disable(context.Background(), "alice", "incident")
	require.Error(t, err)
	assert.True(t, c.Enabled())
}

func TestRedisConcurrentUpdatesFromTwoControls(t *testing.T) {
	ctx := context.Background()
	rc := redisClient(t)
	prefix := testPrefix(t, rc)
	a := newControl(t, control.Options{Backend: control.NewRedis(rc, prefix), HistoryLimit: 1000})
	b := newControl(t, control.Options{Backend: control.NewRedis(redis.NewClient(&redis.Options{Addr: redisAddr}), prefix), HistoryLimit: 1000})
	t.Cleanup(func() { b.Backend().(*control.Redis).Close() })
	done := make(chan error)
	for i := range 20 {
		c := a
		if i%2 == 1 {
			c = b
		}
		go func() {
			_, err := c.Disable(ctx, "w"+strconv.Itoa(i), "r")
			done <- err
		}()
	}
	for range 20 {
		require.NoError(t, await.Recv(t, done, "a concurrent Disable"))
	}
	s, err := control.NewRedis(rc, prefix).Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(20), s.Revision)
	assert.Len(t, s.History, 20)
}

// TestRedisFlipReachesAnotherProcess re-executes the test binary as a second
// process on the same Redis: a flip made here must reach it within 1s, and its
// answering flip must reach us within 1s.
func TestRedisFlipReachesAnotherProcess(t *testing.T) {
	ctx := context.Background()
	rc := redisClient(t)
	prefix := testPrefix(t, rc)
	tg := newTarget()
	c := newControl(t, control.Options{Backend: control.NewRedis(rc, prefix), Target: tg})

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childPrefixEnv+"="+prefix)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })

	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string, within time.Duration) {
		t.Helper()
		timer := time.NewTimer(within)
		defer timer.Stop()
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "child exited before printing %q", want)
				if l == want {
					return
				}
			case <-timer.C:
				t.Fatalf("child did not print %q within %s", want, within)
			}
		}
	}
	expect("ready ENABLED LIVE", 10*time.Second)

	start := time.Now()
	_, err = c.Disable(ctx, "parent", "incident 42")
	require.NoError(t, err)
	expect("seen DISABLED LIVE by parent", time.Second)
	seen := time.Since(start)
	// The child answers by starting dry-run; it must reach this process too.
	tg.waitFor(t, false, true, time.Second)
	t.Logf("flip seen by the other process after %s; its answer back here after %s", seen, time.Since(start))
	assert.Equal(t, "child", c.Status().ChangedBy)
	stdin.Close()
	expect("bye", 10*time.Second)
}

// redisChild is the second process of TestRedisFlipReachesAnotherProcess.
func redisChild() int {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rc.Close()
	seen := make(chan struct{}, 16)
	c, err := control.New(ctx, control.Options{
		Backend: control.NewRedis(rc, os.Getenv(childPrefixEnv)), PollInterval: -1,
		Target: funcTarget(func() {
			select {
			case seen <- struct{}{}:
			default:
			}
		}),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	st := c.Status()
	fmt.Printf("ready %s %s\n", st.KillSwitch, st.Mode)
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	answered := false
	for {
		select {
		case <-eof:
			fmt.Println("bye")
			return 0
		case <-seen:
			st := c.Status()
			if st.KillSwitch == control.Disabled && !answered {
				fmt.Printf("seen %s %s by %s\n", st.KillSwitch, st.Mode, st.ChangedBy)
				answered = true
				if _, err := c.StartDryRun(ctx, "child", "answer"); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
	}
}

// funcTarget calls f after every application of the state.
type funcTarget func()

func (f funcTarget) SetEnabled(bool) {}
func (f funcTarget) SetDryRun(bool)  { f() }
