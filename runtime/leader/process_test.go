package leader_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/store"
)

// line is one line a contender printed.
type line struct {
	from int
	text string
}

type contender struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

type contest struct {
	t     *testing.T
	url   string
	pref  string
	lease time.Duration
	renew time.Duration
	lines chan line
	wg    sync.WaitGroup
	procs []*contender
}

func newContest(t *testing.T, lease, renew time.Duration) *contest {
	srv := redistest.Start(t)
	c := &contest{t: t, url: srv.URL(), pref: "leadertest:", lease: lease, renew: renew, lines: make(chan line, 1024)}
	t.Cleanup(c.stopAll)
	return c
}

// start re-executes the test binary as contender i.
func (c *contest) start(i int) {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|p%d|%s|%s", childEnv, c.url, c.pref, i, c.lease, c.renew))
	stdin, err := cmd.StdinPipe()
	require.NoError(c.t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(c.t, err)
	cmd.Stderr = os.Stderr
	require.NoError(c.t, cmd.Start())
	await.KillAfter(c.t, cmd, fmt.Sprintf("contender %d", i))
	c.procs = append(c.procs, &contender{cmd: cmd, stdin: stdin})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- line{from: i, text: sc.Text()}
		}
	}()
}

func (c *contest) stopAll() {
	for _, p := range c.procs {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.stdin.Close()
	}
	for _, p := range c.procs {
		_ = p.cmd.Wait()
	}
	c.wg.Wait()
}

var acquiredRE = regexp.MustCompile(`^time=(\S+) .*msg=leader.acquired .*id=p(\d+) token=(\d+)`)

// next waits for a line matching re and returns the line and its submatches.
func (c *contest) next(re *regexp.Regexp, what string) (line, []string) {
	c.t.Helper()
	timer := time.NewTimer(await.Deadline)
	defer timer.Stop()
	for {
		select {
		case l := <-c.lines:
			if m := re.FindStringSubmatch(l.text); m != nil {
				return l, m
			}
		case <-timer.C:
			c.t.Fatalf("%s: no contender reported it within %s", what, await.Deadline)
		}
	}
}

// acquired waits for a contender to report a term, and returns it with the
// time the contender logged (not when the parent read the line).
func (c *contest) acquired(what string) (who int, tok uint64, at time.Time) {
	c.t.Helper()
	_, m := c.next(acquiredRE, what)
	at, err := time.Parse(time.RFC3339Nano, m[1])
	require.NoError(c.t, err, "the time of %q", m[0])
	who, _ = strconv.Atoi(m[2])
	tok, _ = strconv.ParseUint(m[3], 10, 64)
	return who, tok, at
}

func (c *contest) write(i int, tok uint64) string {
	c.t.Helper()
	_, err := fmt.Fprintf(c.procs[i].stdin, "write %d\n", tok)
	require.NoError(c.t, err)
	_, m := c.next(regexp.MustCompile(fmt.Sprintf(`^write %d (.*)$`, tok)), fmt.Sprintf("contender %d's fenced write", i))
	return m[1]
}

func TestThreeProcessesLeaderKilledNewLeaderWithinLeasePlusOneRenewal(t *testing.T) {
	const lease, renew = 2 * time.Second, 500 * time.Millisecond
	c := newContest(t, lease, renew)
	for i := range 3 {
		c.start(i)
	}
	first, tok1, _ := c.acquired("the first leader")

	killed := time.Now()
	require.NoError(t, c.procs[first].cmd.Process.Signal(syscall.SIGKILL))
	next, tok2, at := c.acquired("the leader after the kill")
	assert.NotEqual(t, first, next)
	assert.Greater(t, tok2, tok1, "the new term has a larger token")
	// The bound of the design is lease + one renewal period; the allowance
	// covers a contender's timer firing late on a loaded machine.
	const allowance = time.Second
	assert.LessOrEqual(t, at.Sub(killed), lease+renew+allowance, "new leader %v after the kill", at.Sub(killed))
	t.Logf("new leader %v after the SIGKILL (lease %v, renew %v)", at.Sub(killed).Round(time.Millisecond), lease, renew)

	// Exactly one survivor leads: nobody else reports a term for a while.
	select {
	case l := <-c.lines:
		assert.NotRegexp(t, acquiredRE, l.text, "a second leader")
	case <-time.After(lease):
	}
}

func TestTwoProcessesPausedLeaderCannotWriteWithItsStaleToken(t *testing.T) {
	const lease, renew = time.Second, 250 * time.Millisecond
	c := newContest(t, lease, renew)
	c.start(0)
	who, stale, _ := c.acquired("the first leader")
	require.Equal(t, 0, who)
	c.start(1)
	assert.Equal(t, "applied", c.write(0, stale), "the leader writes with its token")

	require.NoError(t, c.procs[0].cmd.Process.Signal(syscall.SIGSTOP))
	who, fresh, _ := c.acquired("a leader while the first is paused")
	require.Equal(t, 1, who)
	require.NoError(t, c.procs[0].cmd.Process.Signal(syscall.SIGCONT))

	// The paused process writes at once with the token it held: the store refuses.
	assert.Equal(t, "refused", c.write(0, stale), "a write under a stale token must not land")
	assert.Equal(t, "applied", c.write(1, fresh))
	assert.Greater(t, fresh, stale)
}

func TestTwoProcessesLeaderStepsDownAndTheOtherTakesTheLease(t *testing.T) {
	const lease, renew = 2 * time.Second, 250 * time.Millisecond
	c := newContest(t, lease, renew)
	c.start(0)
	who, tok1, _ := c.acquired("the first leader")
	require.Equal(t, 0, who)
	c.start(1)

	asked := time.Now()
	_, err := fmt.Fprintln(c.procs[0].stdin, "stepdown")
	require.NoError(t, err)
	_, m := c.next(regexp.MustCompile(`^stepdown (\d+) (.*)$`), "the leader's step-down")
	assert.Equal(t, strconv.FormatUint(tok1, 10)+" <nil>", m[1]+" "+m[2], "the leader gives up its own term")
	who, tok2, at := c.acquired("the leader after the step-down")
	assert.Equal(t, 1, who, "the other process takes the lease")
	assert.Greater(t, tok2, tok1)
	// Not a lease's wait: the lease was released, the next attempt takes it.
	assert.Less(t, at.Sub(asked), lease, "new leader %v after the step-down", at.Sub(asked))
	assert.Equal(t, "refused", c.write(0, tok1), "the stepped-down term's writes are refused")
	assert.Equal(t, "applied", c.write(1, tok2))
}

func TestLosingRedisLosesLeadershipWhenTheLeaseRunsOut(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, srv.URL(), store.RedisOptions{LazyConnect: true, MaxRetries: -1,
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logs := &logtest.Buffer{}
	const lease = time.Second
	e, err := leader.New(st, leader.Options{ID: "solo", Lease: lease, Renew: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	require.NoError(t, e.Start(ctx))
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	term, tok, ok := e.Leadership()
	require.True(t, ok)

	srv.Kill()
	await.Signal(t, term.Done(), "the term ends once Redis is gone")
	assert.False(t, e.IsLeader())
	assert.Len(t, logs.Lines("leader.lost", "lease ran out"), 1)
	assert.NotEmpty(t, logs.Lines("leader.renew_failed"))

	// Redis comes back empty: the process leads again with a larger token.
	srv.Restart()
	deadline := time.Now().Add(await.Deadline)
	for !e.IsLeader() {
		require.True(t, time.Now().Before(deadline), "no term after Redis came back: %+v", e.Status())
		time.Sleep(50 * time.Millisecond)
	}
	_, tok2, _ := e.Leadership()
	assert.Greater(t, tok2, tok, "tokens keep growing although Redis lost the counter")
}
