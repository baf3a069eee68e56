package emergency_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/store"
)

const (
	childEnv       = "BALDUR_EMERGENCY_TEST_CHILD"
	childURLEnv    = "BALDUR_EMERGENCY_TEST_URL"
	childPrefixEnv = "BALDUR_EMERGENCY_TEST_PREFIX"
)

// fleetNode is one process's Emergency on a Redis store, with a fake clock
// and fake signals that the test drives line by line.
type fleetNode struct {
	st     *store.Redis
	e      *emergency.Emergency
	gate   *governance.Gate // the governance gate on the same store, blocking at the shared level
	clock  *clock.Fake
	source *fakeSource
}

func openFleetNode(url, prefix, name string) (*fleetNode, error) {
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, url, store.RedisOptions{Prefix: prefix, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	n := &fleetNode{st: st, clock: clock.NewFake(t0), source: &fakeSource{}}
	host := &fakeHost{}
	host.set(0.1, 0.1, nil)
	n.e, err = emergency.New(ctx, emergency.Options{Store: st, Where: "redis", Clock: n.clock, Source: n.source,
		Host: host, Node: name, EvalInterval: -1, PollInterval: time.Second, Stabilisation: time.Minute,
		Logger: quietLogger()})
	if err != nil {
		st.Close()
		return nil, err
	}
	n.gate, err = governance.New(governance.Options{Store: st, Clock: n.clock, Node: name, Logger: quietLogger(),
		Emergency: governance.LevelFunc(func(context.Context) (emergency.Level, error) { return n.e.Level(), nil })})
	if err != nil {
		n.e.Close()
		st.Close()
		return nil, err
	}
	return n, nil
}

func (n *fleetNode) close() error {
	err := n.e.Close()
	if cerr := n.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// do runs one command and returns its one-line answer:
//
//	at SECONDS                 set the clock to t0+SECONDS
//	breakers OPEN TOTAL        set the breakers the signals see
//	calls N FAILED             add calls to the counters
//	tick                       evaluate once
//	declare|release|force LEVEL REASON...
//	status                     "LEVEL reviews=N"
//	strict|glass REASON...     declare STRICT mode / open Break Glass for an hour
//	gate                       "allowed", "allowed break_glass" or "blocked CHECK"
func (n *fleetNode) do(line string) string {
	ctx := context.Background()
	f := strings.Fields(line)
	if len(f) == 0 {
		return "error empty command"
	}
	num := func(i int) int {
		v, _ := strconv.Atoi(f[i])
		return v
	}
	var err error
	switch f[0] {
	case "at":
		n.clock.Set(t0.Add(time.Duration(num(1)) * time.Second))
	case "breakers":
		n.source.set(func(s *emergency.Sample) { s.BreakersOpen, s.Breakers = num(1), num(2) })
	case "calls":
		n.source.calls(uint64(num(1)), uint64(num(2)))
	case "tick":
		err = n.e.Tick(ctx)
	case "declare", "release", "force":
		l, perr := emergency.ParseLevel(f[1])
		if perr != nil {
			return "error " + perr.Error()
		}
		reason := strings.Join(f[2:], " ")
		switch f[0] {
		case "declare":
			_, err = n.e.Declare(ctx, "op", l, reason)
		case "release":
			_, err = n.e.Release(ctx, "op", l, reason)
		default:
			_, err = n.e.ForceRelease(ctx, "op", l, emergency.Confirmation, reason)
		}
	case "status":
		st := n.e.Status()
		return fmt.Sprintf("%s reviews=%d", st.Level, len(st.Reviews))
	case "strict":
		_, err = n.gate.DeclareStrict(ctx, "op", strings.Join(f[1:], " "), time.Hour)
	case "glass":
		_, err = n.gate.OpenBreakGlass(ctx, "op", strings.Join(f[1:], " "), control.Confirmation, time.Hour)
	case "gate":
		d := n.gate.Check(ctx, governance.Action{Name: "test.sweep"})
		switch {
		case !d.Allowed:
			return "blocked " + string(d.BlockedBy)
		case d.BreakGlass:
			return "allowed break_glass"
		}
		return "allowed"
	default:
		return "error unknown command " + f[0]
	}
	if err != nil {
		return "error " + err.Error()
	}
	return "ok"
}

// fleetChild is the second process: a fleetNode driven on stdin.
func fleetChild() int {
	n, err := openFleetNode(os.Getenv(childURLEnv), os.Getenv(childPrefixEnv), "child")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(n.do(sc.Text()))
	}
	if err := n.close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type childNode struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
}

func startChild(t *testing.T, url, prefix string) *childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURLEnv+"="+url, childPrefixEnv+"="+prefix)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	await.KillAfter(t, cmd, "the emergency child process")
	c := &childNode{t: t, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "the child process failed")
		case <-time.After(await.Deadline):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the child process did not exit within %s of its stdin closing", await.Deadline)
		}
	})
	require.Equal(t, "ready", c.next(), "the child did not start")
	return c
}

func (c *childNode) next() string {
	c.t.Helper()
	return await.Recv(c.t, c.lines, "the child's answer")
}

func (c *childNode) do(line string) string {
	c.t.Helper()
	_, err := fmt.Fprintln(c.in, line)
	require.NoError(c.t, err)
	return c.next()
}

type node interface{ do(string) string }

// waitStatus asks n for its status until it starts with want. The level
// travels over the change feed, so this polls a real process.
func waitStatus(t *testing.T, name string, n node, want string) time.Duration {
	t.Helper()
	start := time.Now()
	var got string
	for time.Since(start) < await.Deadline {
		if got = n.do("status"); strings.HasPrefix(got, want) {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond) // another process: nothing to wait on but its answers
	}
	t.Fatalf("%s: status did not reach %q within %s (has %q)", name, want, await.Deadline, got)
	return 0
}

func mustOK(t *testing.T, name string, n node, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		require.Equal(t, "ok", n.do(c), "%s: %s", name, c)
	}
}

// TestTwoProcessesShareTheLevel runs two processes (this test and a
// re-executed child) on a private Redis: a level declared in one is in force
// in the other, a level the child's signals raise reaches the parent, a
// release asked in the parent is stepped down by the child's gate one level
// per window, and a forced release in the child reaches the parent flagged
// for review.
func TestTwoProcessesShareTheLevel(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "emtest:"
	parent, err := openFleetNode(srv.URL(), prefix, "parent")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, parent.close()) })
	child := startChild(t, srv.URL(), prefix)

	mustOK(t, "parent", parent, "declare ELEVATED deploy in progress")
	took := waitStatus(t, "child", child, "ELEVATED")
	t.Logf("a declaration reached the other process in %s", took)

	mustOK(t, "child", child, "tick", "breakers 3 4", "tick")
	waitStatus(t, "child", child, "CRITICAL")
	waitStatus(t, "parent", parent, "CRITICAL")

	// The signals calm down: the child recovers by itself, toward the
	// parent's declared ELEVATED, one level per minute through its gate.
	mustOK(t, "child", child, "breakers 0 4", "calls 100 0", "at 30", "tick")
	assert.Equal(t, "CRITICAL reviews=0", child.do("status"), "raised at t0: the window runs to t0+60s")
	mustOK(t, "child", child, "calls 100 0", "at 60", "tick")
	waitStatus(t, "parent", parent, "HIGH")

	// The parent asks for NORMAL; its own gate has no error rate yet (one
	// sample), so it holds; the child's steps go on to NORMAL.
	mustOK(t, "parent", parent, "release NORMAL payments fixed")
	assert.Equal(t, "HIGH reviews=0", parent.do("status"), "the parent's gate cannot read an error rate yet")
	mustOK(t, "child", child, "calls 100 0", "at 90", "tick")
	assert.Equal(t, "HIGH reviews=0", child.do("status"), "half a window after the last step: none")
	mustOK(t, "child", child, "calls 100 0", "at 120", "tick")
	waitStatus(t, "parent", parent, "ELEVATED")
	mustOK(t, "child", child, "calls 100 0", "at 180", "tick")
	waitStatus(t, "parent", parent, "NORMAL reviews=0")

	mustOK(t, "parent", parent, "declare HIGH again")
	waitStatus(t, "child", child, "HIGH")
	mustOK(t, "child", child, "force NORMAL the dashboards lie")
	waitStatus(t, "parent", parent, "NORMAL reviews=1")

	raw, err := redistest.Client(t, srv.Addr()).Get(context.Background(), prefix+emergency.StateKey).Bytes()
	require.NoError(t, err)
	s, err := emergency.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, emergency.Normal, s.Level)
	var actions []string
	for _, c := range s.History {
		actions = append(actions, c.Action+":"+c.Node)
	}
	assert.Equal(t, []string{"declare:parent", "raise:child", "recover:child", "step_down:child", "release:parent",
		"step_down:child", "step_down:child", "declare:parent", "force_release:child"}, actions)
}

// TestTwoProcessesShareTheGovernanceGate: STRICT mode declared in one
// process blocks the other's automated actions, the emergency level the
// child declares blocks the parent's gate, and Break Glass opened in the
// parent lets the child's actions through, flagged for review.
func TestTwoProcessesShareTheGovernanceGate(t *testing.T) {
	srv := redistest.Start(t)
	prefix := "govfleet:"
	parent, err := openFleetNode(srv.URL(), prefix, "parent")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, parent.close()) })
	child := startChild(t, srv.URL(), prefix)

	assert.Equal(t, "allowed", child.do("gate"))
	mustOK(t, "parent", parent, "strict release freeze")
	assert.Equal(t, "blocked strict", child.do("gate"), "STRICT declared in the parent holds in the child")

	mustOK(t, "child", child, "declare HIGH incident")
	waitStatus(t, "parent", parent, "HIGH")
	assert.Equal(t, "blocked emergency", parent.do("gate"), "the level comes first in the fixed order")

	mustOK(t, "parent", parent, "glass drain the refunds")
	assert.Equal(t, "allowed break_glass", child.do("gate"))
	assert.Len(t, parent.gate.Status(context.Background()).Reviews, 1)
}
