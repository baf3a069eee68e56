package control_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/store"
)

const (
	childEnv       = "BALDUR_CONTROL_TEST_CHILD"
	childURLEnv    = "BALDUR_CONTROL_TEST_URL"
	childPrefixEnv = "BALDUR_CONTROL_TEST_PREFIX"
	childDirEnv    = "BALDUR_CONTROL_TEST_DIR"
)

// fleetNode is one process's control on the store the runtime builds with
// Redis: a Failover over Redis and an embedded store for DEGRADED mode. Its
// clock is fake, so that the test decides the decisions' timestamps.
type fleetNode struct {
	fo    *store.Failover
	ctl   *control.Control
	clock *clock.Fake
	logs  *logSink
}

func openFleetNode(url, prefix, dir, name string) (*fleetNode, error) {
	ctx := context.Background()
	remote, err := store.OpenRedis(ctx, url, store.RedisOptions{Prefix: prefix, LazyConnect: true, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	local, err := store.OpenEmbedded(dir, store.EmbeddedOptions{Logger: quietLogger()})
	if err != nil {
		remote.Close()
		return nil, err
	}
	fo, err := store.NewFailover(ctx, remote, local, store.FailoverOptions{Logger: quietLogger()})
	if err != nil {
		remote.Close()
		local.Close()
		return nil, err
	}
	n := &fleetNode{fo: fo, clock: clock.NewFake(t0), logs: &logSink{}}
	n.ctl, err = control.New(ctx, control.Options{Store: fo, Where: "redis", Clock: n.clock, Logger: n.logs.logger(),
		Node: name, PollInterval: time.Second})
	if err != nil {
		fo.Close()
		return nil, err
	}
	return n, nil
}

func (n *fleetNode) close() error { return errors.Join(n.ctl.Close(), n.fo.Close()) }

// do runs one command and returns its one-line answer:
//
//	at SECONDS        set the clock to t0+SECONDS
//	disable|enable|dryrun|golive REASON...
//	status            "KILL_SWITCH MODE pending=BOOL degraded=BOOL conflicts=N"
func (n *fleetNode) do(line string) string {
	ctx := context.Background()
	cmd, arg, _ := strings.Cut(line, " ")
	var err error
	switch cmd {
	case "at":
		secs, perr := strconv.Atoi(arg)
		if perr != nil {
			return "error " + perr.Error()
		}
		n.clock.Set(t0.Add(time.Duration(secs) * time.Second))
		return "ok"
	case "disable":
		_, err = n.ctl.Disable(ctx, "op", arg)
	case "enable":
		_, err = n.ctl.Enable(ctx, "op", arg)
	case "dryrun":
		_, err = n.ctl.StartDryRun(ctx, "op", arg)
	case "golive":
		_, err = n.ctl.GoLive(ctx, "op", control.Confirmation, arg)
	case "status":
		st := n.ctl.Status()
		return fmt.Sprintf("%s %s pending=%t degraded=%t conflicts=%d", st.KillSwitch, st.Mode, st.PendingFleet,
			n.fo.Mode() == store.ModeDegraded, len(n.logs.events("control.reconcile_conflict")))
	default:
		return "error unknown command " + cmd
	}
	if err != nil {
		return "error " + err.Error()
	}
	return "ok"
}

// fleetChild is the second process: a fleetNode driven line by line on stdin.
func fleetChild() int {
	n, err := openFleetNode(os.Getenv(childURLEnv), os.Getenv(childPrefixEnv), os.Getenv(childDirEnv), "child")
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
	fmt.Println("bye")
	return 0
}

// childNode drives fleetChild from the test.
type childNode struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
}

func startChild(t *testing.T, url, prefix string) *childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childURLEnv+"="+url, childPrefixEnv+"="+prefix,
		childDirEnv+"="+filepath.Join(t.TempDir(), "degraded"))
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
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
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("the child process did not exit within 10s of its stdin closing")
		}
	})
	require.Equal(t, "ready", c.next(), "the child did not start")
	return c
}

func (c *childNode) next() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatal("the child process exited")
		}
		return l
	case <-time.After(10 * time.Second):
		c.t.Fatal("the child process did not answer within 10s")
	}
	return ""
}

func (c *childNode) do(line string) string {
	c.t.Helper()
	_, err := fmt.Fprintln(c.in, line)
	require.NoError(c.t, err)
	return c.next()
}

type node interface{ do(string) string }

// waitStatus polls n until its status starts with want.
func waitStatus(t *testing.T, name string, n node, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got string
	for time.Since(start) < within {
		if got = n.do("status"); strings.HasPrefix(got, want) {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: status did not reach %q within %s (has %q)", name, want, within, got)
	return 0
}

func mustOK(t *testing.T, name string, n node, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		require.Equal(t, "ok", n.do(c), "%s: %s", name, c)
	}
}

// TestTwoProcessesReconcileAfterRedisOutage runs two processes (this test and
// a re-executed child) on a private Redis, kills Redis, has each process take
// contradicting decisions while it is gone, then restarts it (empty, or from
// its append-only file). Each decision is in force in its own process at
// once; after the restart both processes converge on the reconciled state:
// on the kill switch the later decision wins (ENABLED at t+250s over DISABLED
// at t+200s), on dry-run the tie goes to the safer state (DRY_RUN over LIVE at
// t+300s), and both conflicts are in the history and logged once each as
// control.reconcile_conflict.
func TestTwoProcessesReconcileAfterRedisOutage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"restarted empty", nil},
		{"restarted from its append-only file", []string{"--appendonly", "yes", "--appendfsync", "always"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, tc.extra...)
			prefix := "ctltest:"
			parent, err := openFleetNode(srv.URL(), prefix, filepath.Join(t.TempDir(), "degraded"), "parent")
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, parent.close()) })
			child := startChild(t, srv.URL(), prefix)

			// Redis up: a flip reaches the other process through the change feed.
			mustOK(t, "parent", parent, "at 50", "disable before the outage")
			seen := waitStatus(t, "child", child, "DISABLED LIVE pending=false", 2*time.Second)
			t.Logf("a flip reached the other process in %s", seen)
			mustOK(t, "parent", parent, "at 60", "enable")
			waitStatus(t, "child", child, "ENABLED LIVE pending=false", 2*time.Second)

			srv.Kill()
			waitStatus(t, "parent", parent, "ENABLED LIVE pending=false degraded=true", 5*time.Second)
			waitStatus(t, "child", child, "ENABLED LIVE pending=false degraded=true", 5*time.Second)

			// While Redis is away each process decides on its own: in force
			// there at once, pending for the fleet.
			mustOK(t, "parent", parent, "at 200", "disable parent saw payments fail")
			mustOK(t, "child", child, "at 250", "enable child says the fault is fixed")
			mustOK(t, "parent", parent, "at 300", "dryrun parent wants to watch only")
			mustOK(t, "child", child, "at 300", "golive child wants policies live")
			assert.Equal(t, "DISABLED DRY_RUN pending=true degraded=true conflicts=0", parent.do("status"))
			assert.Equal(t, "ENABLED LIVE pending=true degraded=true conflicts=0", child.do("status"))

			srv.Restart()
			took := waitStatus(t, "parent", parent, "ENABLED DRY_RUN pending=false degraded=false", 10*time.Second)
			waitStatus(t, "child", child, "ENABLED DRY_RUN pending=false degraded=false", 10*time.Second)
			t.Logf("both processes reconciled %s after Redis came back", took)

			raw, err := redistest.Client(t, srv.Addr()).Get(context.Background(), prefix+control.StateKey).Bytes()
			require.NoError(t, err)
			s, err := control.Decode(raw)
			require.NoError(t, err)
			assert.Equal(t, control.Enabled, s.KillSwitch)
			assert.Equal(t, control.DryRun, s.Mode)
			byReason := map[string]control.Change{}
			for _, ch := range s.History {
				byReason[ch.Reason] = ch
			}
			require.Len(t, byReason, 6, "every decision is in the history: %+v", s.History)
			// Whichever decision of a pair was folded second met the other
			// one: it carries the conflict, and is superseded if it lost.
			// What each decision must show if it is the one carrying a conflict.
			expect := map[string]struct {
				superseded bool
				rule       string
			}{
				"parent saw payments fail":      {true, "(later)"},
				"child says the fault is fixed": {false, "(later)"},
				"parent wants to watch only":    {false, "(tie: safer state)"},
				"child wants policies live":     {true, "(tie: safer state)"},
			}
			var met []string
			for _, ch := range s.History {
				if ch.Conflict == "" {
					continue
				}
				met = append(met, fmt.Sprintf("%s superseded=%t", ch.Reason, ch.Superseded))
				want, ok := expect[ch.Reason]
				if !assert.True(t, ok, "unexpected conflict on %q: %s", ch.Reason, ch.Conflict) {
					continue
				}
				assert.Equal(t, want.superseded, ch.Superseded, "%q superseded", ch.Reason)
				assert.Contains(t, ch.Conflict, "concurrent with")
				assert.Contains(t, ch.Conflict, want.rule)
			}
			assert.Len(t, met, 2, "one conflict per switch: %v", met)
			t.Logf("conflicts kept in the history: %v", met)
			n, err := redistest.Client(t, srv.Addr()).XLen(context.Background(), prefix+control.DecisionsKey).Result()
			require.NoError(t, err)
			assert.Zero(t, n, "every journaled decision folded")

			conflicts := func(status string) int {
				i := strings.LastIndex(status, "conflicts=")
				v, _ := strconv.Atoi(status[i+len("conflicts="):])
				return v
			}
			assert.Equal(t, 2, conflicts(parent.do("status"))+conflicts(child.do("status")),
				"each conflict is logged once, by the process that reconciled it")
		})
	}
}

// A decision taken while Redis is away survives a restart of the process
// during the outage: the new process reads it from its local journal, keeps
// it in force and pending, and publishes it when Redis returns.
func TestDecisionDuringOutageSurvivesAProcessRestart(t *testing.T) {
	srv := redistest.Start(t)
	dir := filepath.Join(t.TempDir(), "degraded")
	srv.Kill()
	first, err := openFleetNode(srv.URL(), "ctltest:", dir, "first")
	require.NoError(t, err)
	mustOK(t, "first", first, "at 100", "disable redis and payments down")
	assert.Equal(t, "DISABLED LIVE pending=true degraded=true conflicts=0", first.do("status"))
	require.NoError(t, first.close())

	second, err := openFleetNode(srv.URL(), "ctltest:", dir, "second")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, second.close()) })
	assert.Equal(t, "DISABLED LIVE pending=true degraded=true conflicts=0", second.do("status"),
		"the journaled decision is in force after the restart")
	ev := second.logs.events("control.state_unreadable")
	require.Len(t, ev, 1, "an unreadable fleet state at start is logged")
	assert.Equal(t, "DISABLED LIVE", ev[0]["using"])

	srv.Restart()
	waitStatus(t, "second", second, "DISABLED LIVE pending=false degraded=false", 10*time.Second)
	raw, err := redistest.Client(t, srv.Addr()).Get(context.Background(), "ctltest:"+control.StateKey).Bytes()
	require.NoError(t, err)
	s, err := control.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
	require.Len(t, s.History, 1)
	assert.Equal(t, "redis and payments down", s.History[0].Reason)
	assert.Equal(t, "first", s.History[0].Node)
}

// Concurrent changes from two controls on two connections to one Redis: the
// compare-and-set loses none.
func TestConcurrentChangesOnRedisLoseNone(t *testing.T) {
	url := redistest.Shared(t)
	prefix := redistest.Prefix(t, url)
	ctx := context.Background()
	var ctls []*control.Control
	for range 2 {
		r, err := store.OpenRedis(ctx, url, store.RedisOptions{Prefix: prefix, Logger: quietLogger()})
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		ctls = append(ctls, newControl(t, control.Options{Store: r, HistoryLimit: 1000, Logger: quietLogger()}))
	}
	errs := make(chan error)
	for i := range 20 {
		go func() {
			_, err := ctls[i%2].Disable(ctx, "w"+strconv.Itoa(i), "r")
			errs <- err
		}()
	}
	for range 20 {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("a change did not return within 10s")
		}
	}
	for _, c := range ctls {
		assert.False(t, c.Status().PendingFleet)
	}
	raw, err := redistest.Client(t, redistest.SharedAddr).Get(ctx, prefix+control.StateKey).Bytes()
	require.NoError(t, err)
	s, err := control.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, uint64(20), s.Revision)
	assert.Len(t, s.History, 20)
}
