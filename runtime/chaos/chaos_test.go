package chaos_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/chaos"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

const (
	childEnv       = "BALDUR_CHAOS_TEST_CHILD"
	childURLEnv    = "BALDUR_CHAOS_TEST_URL"
	childPrefixEnv = "BALDUR_CHAOS_TEST_PREFIX"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newChaos(t *testing.T, opts chaos.Options) *chaos.Chaos {
	t.Helper()
	if opts.Store == nil {
		st := store.NewMemory()
		t.Cleanup(func() { st.Close() })
		opts.Store = st
	}
	opts.Logger = quiet()
	c, err := chaos.New(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStartListStop(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newChaos(t, chaos.Options{Clock: fc, Node: "n1"})
	ctx := context.Background()
	slot := c.Slot("payments")
	assert.Nil(t, slot.Load(), "no experiment by default")

	e, err := c.Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 20, Latency: 200 * time.Millisecond,
		Duration: 5 * time.Minute, By: "alice", Reason: "game day"})
	require.NoError(t, err)
	assert.Equal(t, 100.0, e.LatencyPercent, "latency applies to every call unless a share is given")
	assert.Equal(t, fc.Now().Add(5*time.Minute), e.Until)
	require.NotNil(t, slot.Load())
	assert.True(t, c.Active("payments"))
	assert.False(t, c.Active("ledger"))

	list, err := c.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "alice", list[0].By)
	assert.Equal(t, "n1", list[0].Node)

	stopped, err := c.Stop(ctx, "payments", "bob", "done")
	require.NoError(t, err)
	assert.Equal(t, 20.0, stopped.ErrorPercent)
	assert.Nil(t, slot.Load())
	assert.False(t, c.Active("payments"))
	list, err = c.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestExpiresOnFakeClock(t *testing.T) {
	t.Parallel()
	fc := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newChaos(t, chaos.Options{Clock: fc})
	_, err := c.Start(context.Background(), chaos.Spec{Service: "payments", ErrorPercent: 100, Duration: time.Minute})
	require.NoError(t, err)
	slot := c.Slot("payments")
	f := slot.Load()
	require.NotNil(t, f)
	require.ErrorIs(t, slot.Inject(context.Background(), f), chaos.ErrInjected)
	fc.Advance(time.Minute)
	assert.Nil(t, slot.Load(), "the timer ended the experiment")
	assert.False(t, c.Active("payments"))
}

func TestRefusedFromHigh(t *testing.T) {
	t.Parallel()
	for _, l := range emergency.Levels {
		c := newChaos(t, chaos.Options{Level: func() emergency.Level { return l }})
		_, err := c.Start(context.Background(), chaos.Spec{Service: "payments", ErrorPercent: 1, Duration: time.Minute})
		if l >= emergency.High {
			require.ErrorIs(t, err, chaos.ErrRefused, l.String())
		} else {
			require.NoError(t, err, l.String())
		}
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	t.Parallel()
	err := chaos.Spec{Service: "", ErrorPercent: 101, LatencyPercent: 50, Duration: -time.Second}.Validate(chaos.MaxDuration)
	require.ErrorIs(t, err, chaos.ErrInvalid)
	for _, want := range []string{"service: a service name is required", "errors: 101% is outside 0–100%",
		"latency_percent: set without a latency", "for: -1s must be above 0"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NoError(t, chaos.Spec{Service: "p", Latency: time.Second, Duration: chaos.MaxDuration}.Validate(chaos.MaxDuration))
}

func TestLatencyEndsWithTheContext(t *testing.T) {
	t.Parallel()
	c := newChaos(t, chaos.Options{})
	_, err := c.Start(context.Background(), chaos.Spec{Service: "payments", Latency: time.Hour, Duration: time.Minute})
	require.NoError(t, err)
	slot := c.Slot("payments")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	await.Done(t, func() {
		assert.ErrorIs(t, slot.Inject(ctx, slot.Load()), context.DeadlineExceeded)
	}, "an hour of injected latency cut by a 10ms context")
	_, delays := slot.Injected()
	assert.EqualValues(t, 1, delays)
}

// Two processes on a private Redis: an experiment started in one is applied
// in the other through the change feed (polling is off in the child), and
// so is its stop.
func TestTwoProcessesSeeTheSameExperiment(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "chaostest:"
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{Prefix: prefix, Logger: quiet()})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	c := newChaos(t, chaos.Options{Store: st, Node: "parent"})

	child := startChild(t, srv.URL(), prefix)
	require.Equal(t, "ready", child.recv())
	_, err = c.Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 30, Duration: time.Minute, By: "alice"})
	require.NoError(t, err)
	require.Equal(t, "active payments 30 by alice from parent", child.recv())
	_, err = c.Stop(ctx, "payments", "alice", "")
	require.NoError(t, err)
	require.Equal(t, "stopped payments", child.recv())
}

func fleetChild() int {
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, os.Getenv(childURLEnv), store.RedisOptions{Prefix: os.Getenv(childPrefixEnv), Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	c, err := chaos.New(ctx, chaos.Options{Store: st, Node: "child", PollInterval: -1, Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	fmt.Println("ready")
	deadline := time.Now().Add(await.Deadline)
	for !c.Active("payments") {
		if time.Now().After(deadline) {
			fmt.Println("never active")
			return 1
		}
		time.Sleep(5 * time.Millisecond)
	}
	e := c.Applied()[0]
	fmt.Printf("active %s %v by %s from %s\n", e.Service, e.ErrorPercent, e.By, e.Node)
	for c.Active("payments") {
		if time.Now().After(deadline) {
			fmt.Println("never stopped")
			return 1
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("stopped payments")
	return 0
}

type childNode struct {
	t     *testing.T
	lines chan string
}

func (c *childNode) recv() string {
	c.t.Helper()
	return await.Recv(c.t, c.lines, "a line from the chaos child process")
}

func startChild(t *testing.T, url, prefix string) *childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURLEnv+"="+url, childPrefixEnv+"="+prefix)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	await.KillAfter(t, cmd, "the chaos child process")
	c := &childNode{t: t, lines: make(chan string, 16)}
	go func(r io.Reader) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}(out)
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "the child process failed")
		case <-time.After(await.Deadline):
			_ = cmd.Process.Kill()
			t.Error("the child process did not exit")
		}
	})
	return c
}
