package leader_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/store"
)

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// childEnv makes the test binary a contender of the process tests:
// "url|prefix|id|lease|renew".
const childEnv = "BALDUR_LEADER_TEST_CHILD"

// TestMain doubles as the entry point of the contender processes that the
// process tests start by re-executing this test binary.
func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	goleak.VerifyTestMain(m)
}

// child takes part in the election and reports on stdout: the elector's
// events as text log lines, and the outcome of each fenced write the parent
// asks for on stdin ("write TOKEN" → "write TOKEN applied|refused"), and
// a step-down ("stepdown" → "stepdown TOKEN ERROR").
func child(spec string) int {
	parts := strings.Split(spec, "|")
	if len(parts) != 5 {
		fmt.Fprintln(os.Stderr, "bad child spec", spec)
		return 2
	}
	lease, _ := time.ParseDuration(parts[3])
	renew, _ := time.ParseDuration(parts[4])
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, parts[0], store.RedisOptions{Prefix: parts[1], LazyConnect: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := &lockedWriter{w: bufio.NewWriter(os.Stdout)}
	e, err := leader.New(st, leader.Options{ID: parts[2], Lease: lease, Renew: renew,
		Logger: slog.New(slog.NewTextHandler(out, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_ = e.Start(ctx)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		if cmd == "stepdown" {
			tok, err := e.StepDown(ctx)
			_, _ = fmt.Fprintf(out, "stepdown %d %v\n", tok, err)
			continue
		}
		if cmd != "write" {
			continue
		}
		n, _ := strconv.ParseUint(arg, 10, 64)
		res, err := st.Atomic(ctx, store.Txn{Conds: []store.Cond{e.Fence(leader.Token(n))},
			Ops: []store.Op{store.IncrOp(e.Key("writes"), 1, 0)}})
		outcome := "refused"
		switch {
		case err != nil:
			outcome = "error " + err.Error()
		case res.Applied:
			outcome = "applied"
		}
		_, _ = fmt.Fprintf(out, "write %d %s\n", n, outcome)
	}
	_ = e.Stop(ctx)
	_ = st.Close()
	return 0
}

// lockedWriter flushes every line at once, so the parent sees events as they happen.
type lockedWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.w.Write(p)
	if err == nil {
		err = l.w.Flush()
	}
	return n, err
}
