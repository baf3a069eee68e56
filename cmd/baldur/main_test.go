package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

// leakChecked runs the tests, then goleak, as goleak.VerifyTestMain would;
// testscript.Main needs to own TestMain to install the baldur command.
type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

func TestMain(m *testing.M) {
	testscript.Main(leakChecked{m}, map[string]func(){
		"baldur": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)) },
	})
}

const (
	adminKey    = "admin-key-0123456789"
	operatorKey = "operator-key-0123456789"
	viewerKey   = "viewer-key-0123456789"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// scriptState is one script's runtime, control, dead-letter queue and (once
// adminserver ran) server.
type scriptState struct {
	rt     *runtime.Runtime
	ctl    *control.Control
	q      *dlq.Queue
	srv    *admin.Server
	parked int
}

// TestScripts runs testdata/script/*.txtar: each script starts a live admin
// server in this process (adminserver) and runs the real baldur binary
// against it, as a separate process.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: env.WorkDir + "/.baldur"})
			if err != nil {
				return err
			}
			rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
			rt.Zone(runtime.ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
			// The runtime's own control: a second one on the same runtime would
			// put it back to its own state at every poll.
			ctl := rt.Control()
			mem := store.NewMemory()
			// A budget of two replays, so that scripts reach needs_review quickly.
			q, err := dlq.New(mem, dlq.Options{Logger: quiet, ReplayRate: -1, ReplayBudget: 2})
			if err != nil {
				return err
			}
			st := &scriptState{rt: rt, ctl: ctl, q: q}
			env.Values["state"] = st
			env.Defer(func() {
				if st.srv != nil {
					st.srv.Close()
				}
				q.Close()
				mem.Close()
				rt.Close()
			})
			env.Setenv("ADMIN_KEY", adminKey)
			env.Setenv("OPERATOR_KEY", operatorKey)
			env.Setenv("VIEWER_KEY", viewerKey)
			env.Setenv("BALDUR_OPERATOR", "alice")
			env.Setenv("BALDUR_ADMIN_ADDR", "")
			env.Setenv("BALDUR_ADMIN_KEY", "")
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"adminserver": cmdAdminServer,
			"exits":       cmdExits,
			"traffic":     cmdTraffic,
			"failures":    cmdFailures,
			"park":        cmdPark,
			"replayer":    cmdReplayer,
			"zone":        cmdZone,
			"shaped":      cmdShaped,
			"audittamper": cmdAuditTamper,
		},
	})
}

// adminserver [unlocked] starts the admin server on a free loopback
// port, with the script's dead-letter queue, and points
// BALDUR_ADMIN_ADDR at it.
func cmdAdminServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! adminserver")
	}
	st := ts.Value("state").(*scriptState)
	sec := admin.Security{Keys: []admin.Key{
		{Role: admin.RoleAdmin, Secret: adminKey},
		{Role: admin.RoleOperator, Secret: operatorKey},
		{Role: admin.RoleViewer, Secret: viewerKey},
	}}
	for _, a := range args {
		switch a {
		case "unlocked":
			sec.Unlocked = true
		default:
			ts.Fatalf("adminserver: unknown argument %q", a)
		}
	}
	srv, err := admin.Listen(admin.Options{Runtime: st.rt, Control: st.ctl, Queue: st.q, Security: sec, Logger: quiet},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1})
	ts.Check(err)
	st.srv = srv
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	ts.Defer(func() {
		srv.Close()
		if err := <-done; err != nil {
			ts.Logf("admin server: %v", err)
		}
	})
	ts.Setenv("BALDUR_ADMIN_ADDR", srv.Addr())
}

// exits N cmd args... runs cmd as a process and checks that its exit status is N.
// Its stdout and stderr become the script's, for the stdout and stderr commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	path, err := exec.LookPath(args[1])
	ts.Check(err)
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "USER", "BALDUR_ADMIN_ADDR", "BALDUR_ADMIN_KEY", "BALDUR_OPERATOR"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else {
		ts.Check(err)
	}
	_, _ = ts.Stdout().Write(stdout.Bytes())
	_, _ = ts.Stderr().Write(stderr.Bytes())
	if got != want {
		ts.Fatalf("%s exited %d, want %d\nstdout:\n%s\nstderr:\n%s", args[1], got, want, stdout.String(), stderr.String())
	}
}

// traffic calls every protected method's zone once, so that dry-run records
// would-have decisions for open breakers.
func cmdTraffic(ts *testscript.TestScript, neg bool, args []string) {
	st := ts.Value("state").(*scriptState)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, spec := range st.rt.Zones() {
		z := st.rt.Zone(spec)
		p, err := z.Enter(ctx)
		if err == nil {
			z.Done(ctx, p, nil, 1)
		}
	}
}

// failures SERVICE N makes N calls through SERVICE's zones that fail.
func cmdFailures(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: failures SERVICE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	st := ts.Value("state").(*scriptState)
	ctx := context.Background()
	boom := errors.New("boom")
	for _, spec := range st.rt.Zones() {
		if spec.Service != args[0] {
			continue
		}
		z := st.rt.Zone(spec)
		for range n {
			if p, err := z.Enter(ctx); err == nil {
				z.Done(ctx, p, boom, 1)
			}
		}
		return
	}
	ts.Fatalf("failures: no zone of service %q", args[0])
}

// park DOMAIN OPERATION FAILURE_TYPE ORDER [ERROR] parks a failed call whose
// arguments are {"order":ORDER} and sets $IDn (n counts from 1 per script)
// and $ID to its id. ERROR, a Go-quoted string, is the call's error text
// (default "processor unavailable").
func cmdPark(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 || len(args) > 5 {
		ts.Fatalf("usage: park DOMAIN OPERATION FAILURE_TYPE ORDER [ERROR]")
	}
	st := ts.Value("state").(*scriptState)
	a, err := json.Marshal(map[string]string{"order": args[3]})
	ts.Check(err)
	text := "processor unavailable"
	if len(args) == 5 {
		text, err = strconv.Unquote(args[4])
		ts.Check(err)
	}
	id, err := st.q.Park(context.Background(), dlq.Capture{Domain: args[0], Method: args[1], Signature: "sig1",
		Args: a, Err: errors.New(text), FailureType: args[2], Attempts: 3})
	ts.Check(err)
	st.parked++
	ts.Setenv("ID"+strconv.Itoa(st.parked), id)
	ts.Setenv("ID", id)
}

// replayer DOMAIN OPERATION ok|fail|none registers the replayer of
// DOMAIN.OPERATION: one that succeeds, one that fails with "still down", or
// none at all.
func cmdReplayer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replayer DOMAIN OPERATION ok|fail|none")
	}
	st := ts.Value("state").(*scriptState)
	var fn dlq.Replayer
	switch args[2] {
	case "ok":
		fn = func(context.Context, []byte) error { return nil }
	case "fail":
		fn = func(context.Context, []byte) error { return errors.New("still down") }
	case "none":
	default:
		ts.Fatalf("replayer: want ok, fail or none, not %q", args[2])
	}
	st.q.Register(args[0], args[1], "sig1", fn)
}

// zone SERVICE METHOD builds a zone with a breaker; both are Go-quoted
// strings, so that a script can name a breaker with any character.
func cmdZone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zone SERVICE METHOD")
	}
	service, err := strconv.Unquote(args[0])
	ts.Check(err)
	method, err := strconv.Unquote(args[1])
	ts.Check(err)
	ts.Value("state").(*scriptState).rt.Zone(runtime.ZoneSpec{Service: service, Method: method, Breaker: true})
}

// shaped builds two zones with load shaping: quotes.Get (rate=100/h
// burst=40, two calls made) and orders.Place (throttle, concurrency and a
// 20% retry budget).
func cmdShaped(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: shaped")
	}
	rt := ts.Value("state").(*scriptState).rt
	z := rt.Zone(runtime.ZoneSpec{Service: "quotes", Method: "Get", Breaker: true, Rate: "100/h", Burst: 40})
	for range 2 {
		p, err := z.Enter(context.Background())
		ts.Check(err)
		z.Done(context.Background(), p, nil, 1)
	}
	rt.Zone(runtime.ZoneSpec{Service: "orders", Method: "Place", Breaker: true, Attempts: 3, RetryBudget: "20%",
		Throttle: runtime.Adaptive, Concurrency: runtime.Adaptive})
}
