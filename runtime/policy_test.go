package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/policy"
	"github.com/baldur-go/baldur/runtime/store"
)

func newPolicyRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	if cfg.Store == nil && cfg.RedisURL == "" && cfg.StateDir == "" {
		st := store.NewMemory()
		t.Cleanup(func() { st.Close() })
		cfg.Store = st
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, rt.Close()) })
	return rt
}

var chargeSpec = ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3,
	Backoff: backoff.Policy{Kind: backoff.Exp, Base: 100 * time.Millisecond, Max: 10 * time.Second}, Timeout: time.Second,
	Deadline: 10 * time.Second}

func settingOf(t *testing.T, rt *Runtime, scope, key string) Setting {
	t.Helper()
	list, err := rt.Policy().List(scope)
	require.NoError(t, err)
	require.Len(t, list, 1, "scope %s", scope)
	for _, s := range list[0].Settings {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("%s has no setting %s: %+v", scope, key, list[0].Settings)
	return Setting{}
}

func TestPolicySetUnsetListDiff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{DefaultTimeout: 3 * time.Second})
	z := rt.Zone(chargeSpec)
	refund := rt.Zone(ZoneSpec{Service: "payments", Method: "Refund", Breaker: true, DefaultTimeout: true})
	other := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
	p := rt.Policy()

	assert.Equal(t, Setting{Key: "retry", Value: "3", Source: "directive", Directive: "3"}, settingOf(t, rt, "payments.Charge", "retry"))
	assert.Equal(t, Setting{Key: "timeout", Value: "3s", Source: "env", Directive: "3s"}, settingOf(t, rt, "payments.Refund", "timeout"))

	o, err := p.Set(ctx, "payments.Charge", "retry=5 timeout=2s", "alice", "incident 42")
	require.NoError(t, err)
	assert.Equal(t, "retry=5 timeout=2s", o.Values)
	assert.Equal(t, 5, z.pol.Load().attempts)
	assert.Equal(t, 2*time.Second, z.pol.Load().timeout)
	assert.Equal(t, Setting{Key: "retry", Value: "5", Source: "override payments.Charge", Directive: "3"}, settingOf(t, rt, "payments.Charge", "retry"))

	// A service-wide override: the narrower one still wins where it sets a key.
	_, err = p.Set(ctx, "payments", "retry=2 backoff=const(50ms)", "alice", "")
	require.NoError(t, err)
	assert.Equal(t, 5, z.pol.Load().attempts, "the method's own override wins")
	assert.Equal(t, "const(50ms)", z.pol.Load().backoff.String())
	assert.Equal(t, 2, refund.pol.Load().attempts)
	assert.Equal(t, 1, other.pol.Load().attempts, "another service is untouched")

	// Set merges key by key over the scope's earlier override.
	o, err = p.Set(ctx, "payments.Charge", "retry=4", "bob", "")
	require.NoError(t, err)
	assert.Equal(t, "retry=4 timeout=2s", o.Values)

	diff, err := p.Diff("")
	require.NoError(t, err)
	var lines []string
	for _, c := range diff {
		lines = append(lines, fmt.Sprintf("%s.%s %s %s->%s (%s)", c.Service, c.Method, c.Key, c.Directive, c.Value, c.Source))
	}
	assert.Equal(t, []string{
		"payments.Charge retry 3->4 (override payments.Charge)",
		"payments.Charge backoff exp(100ms,10s)->const(50ms) (override payments)",
		"payments.Charge timeout 1s->2s (override payments.Charge)",
		"payments.Refund retry 1->2 (override payments)",
		"payments.Refund backoff exp(100ms,10s)->const(50ms) (override payments)",
	}, lines)

	require.NoError(t, p.Unset(ctx, "payments.Charge", "alice", "over"))
	assert.Equal(t, 2, z.pol.Load().attempts, "the service's override remains")
	assert.Equal(t, time.Second, z.pol.Load().timeout, "back to the directive")
	require.NoError(t, p.Unset(ctx, "payments", "alice", ""))
	assert.Equal(t, 3, z.pol.Load().attempts)
	assert.ErrorIs(t, p.Unset(ctx, "payments", "alice", ""), ErrNoOverride)

	// A zone built after an override takes it.
	_, err = p.Set(ctx, "*", "retry=7", "alice", "")
	require.NoError(t, err)
	late := rt.Zone(ZoneSpec{Service: "mail", Method: "Send", Breaker: true})
	assert.Equal(t, 7, late.pol.Load().attempts)
}

func TestPolicyRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	rt.Zone(chargeSpec)
	rt.Zone(ZoneSpec{Service: "payments", Method: "Status", Breaker: true})
	p := rt.Policy()
	for _, c := range []struct{ scope, values, want string }{
		{"payments.Charge", "retry = 5", `no spaces allowed around "="; write retry=5`},
		{"payments.Charge", "retry=500", "retry: 500 is out of range; want 1..100 or off"},
		{"payments.Charge", "timeout=48h", "timeout: "},
		{"payments.Charge", "retyr=5", `unknown key "retyr"`},
		{"payments.Charge", "idempotency=orderID", "idempotency: cannot change at run time"},
		{"payments.Charge", "dlq", "dlq: cannot change at run time"},
		{"payments.Charge", "fallback=cached", "fallback: cannot change at run time"},
		{"payments.Charge", "compartment=database", "compartment: cannot change at run time"},
		{"payments.Charge", "bulkhead=5", "bulkhead: cannot be overridden for one method: the compartment bulkhead= makes is shared by all the service's methods; override the service (payments) or *"},
		{"payments", "bulkhead=5", "bulkhead: no method in this scope has a compartment of its own (bulkhead=); a registered compartment (compartment=) is sized by"},
		{"payments.Charge", "breaker_threshold=10", "breaker_threshold: cannot be overridden for one method: the service's breaker is shared"},
		{"payments.Charge", "", "at least one key=value"},
		{"payments.Charge", "timeout=20s", "deadline=10s is not longer than timeout=20s"},
		{"payments.Charge", "bulkhead_wait=1s", "bulkhead_wait: the method has no bulkhead"},
		{"payments.Status", "timeout=2s", "timeout: the method has no timeout in its generated code"},
		{"payments.Chrage", "retry=5", `unknown method "payments.Chrage"; the fleet protects: payments.Charge, payments.Status`},
		{"paymnts", "retry=5", `unknown service "paymnts"; the fleet protects: payments`},
		{"Payments!", "retry=5", "is not a service name"},
	} {
		before := p.Doc().Version
		_, err := p.Set(ctx, c.scope, c.values, "alice", "")
		require.Error(t, err, "%s %q", c.scope, c.values)
		assert.ErrorIs(t, err, ErrBadOverride, "%s %q", c.scope, c.values)
		assert.Contains(t, err.Error(), c.want, "%s %q", c.scope, c.values)
		assert.Equal(t, before, p.Doc().Version, "%s %q: nothing changed", c.scope, c.values)
	}
	_, err := p.StageCanary(ctx, "r1", "payments.Charge", "retry=5", 0, "alice")
	assert.ErrorIs(t, err, ErrBadOverride)
	assert.ErrorContains(t, err, "permille 0 is out of range; want 1..1000")
	_, err = p.StageCanary(ctx, "r2", "payments.Status", "timeout=2s", 100, "alice")
	assert.ErrorContains(t, err, "timeout: the method has no timeout in its generated code")
	assert.ErrorIs(t, p.ClearCanary(ctx, "r1", "alice"), ErrNoOverride)
	_, err = p.PromoteCanary(ctx, "r1", "alice")
	assert.ErrorIs(t, err, ErrNoOverride)
}

// boundedCall is a protected call the way generated code makes it (Enter,
// WithTimeoutFor, Timed, Done) around inner.
func boundedCall(ctx context.Context, z *Zone, inner func(context.Context) error) error {
	var p Permit
	for attempt := 1; ; attempt++ {
		var err error
		if p, err = z.EnterNext(ctx, p); err != nil {
			return err
		}
		actx := z.WithTimeoutFor(ctx, p)
		err = z.Timed(ctx, actx, inner(actx))
		if !z.Done(ctx, p, err, attempt) {
			return err
		}
	}
}

// TestPolicyOverrideAllocatesNothing: with an override in force, the success
// path of a protected call (Enter, WithTimeoutFor, Timed, Done) allocates
// nothing; nor with a timeout= canary staged on half the calls, nor through
// WithTimeout, the form of code generated before GeneratedCodeVersion4.
func TestPolicyOverrideAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(chargeSpec)
	_, err := rt.Policy().Set(ctx, "payments.Charge", "retry=5 timeout=2s backoff=const(10ms)", "alice", "")
	require.NoError(t, err)
	require.Equal(t, 2*time.Second, z.pol.Load().timeout)
	ok := func(context.Context) error { return nil }
	call := func() {
		if err := boundedCall(ctx, z, ok); err != nil {
			panic(err)
		}
	}
	assert.Zero(t, testing.AllocsPerRun(1000, call), "allocations per call with an override in force")

	_, err = rt.Policy().StageCanary(ctx, "t1", "payments.Charge", "timeout=500ms", 500, "alice")
	require.NoError(t, err)
	require.Len(t, z.pol.Load().canaries, 1)
	assert.Zero(t, testing.AllocsPerRun(1000, call), "allocations per call with a timeout canary staged")

	old := func() {
		p, err := z.Enter(ctx)
		if err != nil {
			panic(err)
		}
		actx := z.WithTimeout(ctx)
		z.Done(ctx, p, z.Timed(ctx, actx, nil), 1)
	}
	assert.Zero(t, testing.AllocsPerRun(1000, old), "allocations per call through WithTimeout")
}

// A timeout= canary bounds the attempts of its cohort's calls only. Half the
// calls take timeout=20ms, the others the directive's 10s; the inner method
// blocks until its context ends, or until the test releases it. The calls
// that end by themselves are the canary cohort's: each a *TimeoutError
// carrying 20ms, as many as Cohorts counts canary failures, and their number
// within five binomial standard deviations of half. The others run on under
// the long timeout until released, and succeed.
func TestPolicyTimeoutCanaryBoundsItsCohortsAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newTestRuntime(t, Config{})
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Get", Timeout: 10 * time.Second})
	p := rt.Policy()
	_, err := p.StageCanary(ctx, "t1", "quotes.Get", "timeout=20ms", 500, "rollout")
	require.NoError(t, err)

	const n, share = 400, 0.5
	release := make(chan struct{})
	type started struct {
		left time.Duration // the attempt's time left when it started
		ok   bool          // it has a deadline
	}
	starts := make(chan started, n)
	results := make(chan error, n)
	for range n {
		go func() {
			results <- boundedCall(ctx, z, func(actx context.Context) error {
				d, ok := actx.Deadline()
				starts <- started{time.Until(d), ok}
				select {
				case <-actx.Done():
					return actx.Err()
				case <-release:
					return nil
				}
			})
		}()
	}
	short := 0
	for range n {
		s := await.Recv(t, starts, "an attempt's start")
		require.True(t, s.ok, "every attempt has a deadline")
		if s.left <= 20*time.Millisecond {
			short++
		} else {
			assert.Greater(t, s.left, 9*time.Second, "an attempt not of the canary takes the directive's timeout")
		}
	}
	for range short {
		err := await.Recv(t, results, "a canary attempt's timeout")
		var te *TimeoutError
		require.ErrorAs(t, err, &te, "only the canary's attempts end before the release")
		assert.Equal(t, 20*time.Millisecond, te.Timeout, "the error carries the attempt's own timeout")
	}
	close(release)
	for range n - short {
		assert.NoError(t, await.Recv(t, results, "a released attempt"), "an attempt under the long timeout runs until released")
	}
	sigma := math.Sqrt(n * share * (1 - share))
	assert.InDelta(t, n*share, float64(short), 5*sigma, "%d of %d calls took the canary's timeout", short, n)
	canary, baseline, err := p.Cohorts("t1")
	require.NoError(t, err)
	assert.EqualValues(t, short, canary.Failures, "the timed-out attempts are the canary cohort's")
	assert.Zero(t, canary.Successes)
	assert.EqualValues(t, n-short, baseline.Successes)
	assert.Zero(t, baseline.Failures)
}

func TestPolicyCanaryCohorts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: false, Attempts: 2})
	p := rt.Policy()
	boom := errors.New("boom")
	run := func(fail bool) int {
		n := 0
		for attempt := 1; ; attempt++ {
			pm, err := z.Enter(ctx)
			require.NoError(t, err)
			n++
			var cerr error
			if fail {
				cerr = boom
			}
			if !z.Done(ctx, pm, cerr, attempt) {
				return n
			}
		}
	}
	c, err := p.StageCanary(ctx, "r1", "payments", "retry=4 backoff=const(1ms)", 1000, "rollout")
	require.NoError(t, err)
	assert.Equal(t, 4, run(true), "every call takes the canary at 1000 permille")
	for range 10 {
		run(false)
	}
	canary, baseline, err := p.Cohorts("r1")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), canary.Failures)
	assert.Equal(t, uint64(10), canary.Successes)
	assert.Zero(t, baseline.Successes+baseline.Failures)
	assert.NotZero(t, canary.Samples, "the first attempt of a cohort is sampled")

	list, err := p.List("payments.Charge")
	require.NoError(t, err)
	require.Len(t, list[0].Canaries, 1)
	assert.Equal(t, c.ID, list[0].Canaries[0].ID)
	assert.Equal(t, []string{"retry"}, list[0].Canaries[0].Types)
	assert.Equal(t, Setting{Key: "retry", Value: "4", Source: "canary", Directive: "2"}, list[0].Canaries[0].Settings[0])

	// A narrower canary of the same type takes the method's calls; its
	// counters start at its staging and both its cohorts fill.
	_, err = p.StageCanary(ctx, "r2", "payments.Charge", "retry=4", 300, "rollout")
	require.NoError(t, err)
	for range 2000 {
		run(false)
	}
	canary, baseline, err = p.Cohorts("r2")
	require.NoError(t, err)
	assert.Equal(t, uint64(2000), canary.Successes+baseline.Successes)
	assert.InDelta(t, 600, canary.Successes, 150, "about 300 in a thousand calls take the canary")

	o, err := p.PromoteCanary(ctx, "r2", "rollout")
	require.NoError(t, err)
	assert.Equal(t, "retry=4", o.Values)
	require.Len(t, z.pol.Load().canaries, 1, "the narrower canary was promoted: the service's applies again")
	assert.Equal(t, c.ID, z.pol.Load().canaries[0].cohorts.id)
	require.NoError(t, p.ClearCanary(ctx, "r1", "rollout"))
	assert.Empty(t, z.pol.Load().canaries)
	assert.Equal(t, 4, z.pol.Load().attempts, "the promoted values are the override")
	assert.Equal(t, 4, run(true))
}

func TestPolicySurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() (*Runtime, *Zone) {
		rt, err := New(context.Background(), Config{StateDir: dir, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		return rt, rt.Zone(chargeSpec)
	}
	rt, _ := open()
	_, err := rt.Policy().Set(context.Background(), "payments.Charge", "retry=6", "alice", "")
	require.NoError(t, err)
	require.NoError(t, rt.Close())
	rt, z := open()
	defer func() { assert.NoError(t, rt.Close()) }()
	assert.Equal(t, 6, z.pol.Load().attempts, "the override is read back from the embedded store")
}

const (
	policyChildEnv = "BALDUR_POLICY_TEST_CHILD" // the Redis URL
	policyDirEnv   = "BALDUR_POLICY_TEST_DIR"
)

// policyChild is the second process of TestPolicyFleetWithinOneSecond: a
// runtime on the Redis given, answering "attempts" with its zone's retry
// attempts, and "shared" with the payments breaker's threshold and
// compartment's size, one line per line of stdin.
func policyChild() int {
	rt, err := New(context.Background(), Config{RedisURL: os.Getenv(policyChildEnv), RedisPrefix: "policytest:",
		StateDir: os.Getenv(policyDirEnv), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	z, hold := rt.Zone(chargeSpec), rt.Zone(holdSpec)
	ledger := rt.Zone(ledgerSpec)                                 // a service only this process protects
	if err := rt.publishZones(context.Background()); err != nil { // at once, not at the task's first tick
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "shared":
			fmt.Println(hold.breaker.Limits().FailureThreshold, hold.bulkhead.Max())
		case "ledger":
			fmt.Println(ledger.pol.Load().attempts)
		default:
			fmt.Println(z.pol.Load().attempts)
		}
	}
	if err := rt.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// ledgerSpec is a method only the child process of
// TestPolicyFleetWithinOneSecond protects.
var ledgerSpec = ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Attempts: 2}

// TestPolicyFleetWithinOneSecond runs two processes on a private Redis: an
// override set in this one is in force in the other within a second; a
// service only the other protects is checked against the methods it
// published, and tuned from this one.
func TestPolicyFleetWithinOneSecond(t *testing.T) {
	srv := redistest.Start(t)
	rt := newPolicyRuntime(t, Config{RedisURL: srv.URL(), RedisPrefix: "policytest:", StateDir: t.TempDir()})
	rt.Zone(chargeSpec)
	rt.Zone(holdSpec)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), policyChildEnv+"="+srv.URL(), policyDirEnv+"="+filepath.Join(t.TempDir(), "child"))
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	defer func() {
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "the child process failed")
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("the child process did not exit within 15s of its stdin closing")
		}
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the child process exited")
			}
			return l
		case <-time.After(15 * time.Second):
			t.Fatal("the child process did not answer within 15s")
		}
		return ""
	}
	require.Equal(t, "ready", next())

	// query asks the child for one of its values; setThenSee sets an
	// override here and waits, at most a second, for the child to show it.
	query := func(what string) string {
		_, err := fmt.Fprintln(in, what)
		require.NoError(t, err)
		return strings.TrimSpace(next())
	}
	setThenSee := func(scope, values, what, want string) {
		t.Helper()
		start := time.Now()
		_, err := rt.Policy().Set(context.Background(), scope, values, "alice", "fleet test")
		require.NoError(t, err, "%s %s", scope, values)
		for query(what) != want {
			if time.Since(start) > time.Second {
				t.Fatalf("%s %s did not reach the other process within 1s", scope, values)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("%s %s reached the other process in %s", scope, values, time.Since(start))
	}
	require.Equal(t, "3", query("attempts"))
	setThenSee("payments.Charge", "retry=9", "attempts", "9")

	// The service's breaker and compartment, changed in place.
	require.Equal(t, "5 4", query("shared"))
	setThenSee("payments", "breaker_threshold=12 bulkhead=9", "shared", "12 9")

	// A service only the other process protects: checked against what it
	// published, refused naming its method, set from here.
	_, err = rt.Policy().Set(context.Background(), "ledger.Post", "timeout=1s", "alice", "fleet test")
	require.ErrorIs(t, err, ErrBadOverride)
	assert.ErrorContains(t, err, `scope "ledger.Post": timeout: the method has no timeout in its generated code`)
	_, err = rt.Policy().Set(context.Background(), "ledger", "retry=200", "alice", "fleet test")
	assert.ErrorContains(t, err, "retry: 200 is out of range")
	_, err = rt.Policy().Set(context.Background(), "ledgr", "retry=6", "alice", "fleet test")
	assert.ErrorContains(t, err, `unknown service "ledgr"; the fleet protects: ledger, payments`)
	require.Equal(t, "2", query("ledger"))
	setThenSee("ledger", "retry=6", "ledger", "6")
}

// TestPolicyChangesThroughTheGoAPIAreAudited: a change made in code (a
// canary controller) is recorded from its event; one made under
// AuditedByCaller (the admin server, which records its own) is not twice.
func TestPolicyChangesThroughTheGoAPIAreAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	rt.Zone(chargeSpec)
	p := rt.Policy()
	_, err := p.Set(ctx, "payments.Charge", "retry=5", "rollout-controller", "step 1")
	require.NoError(t, err)
	_, err = p.StageCanary(ctx, "", "payments", "retry=4", 50, "rollout-controller")
	require.NoError(t, err)
	_, err = p.Set(AuditedByCaller(ctx), "payments", "retry=2", "alice (operator)", "by hand")
	require.NoError(t, err)
	require.NoError(t, rt.Audit().Sync(ctx))
	page, err := rt.Audit().List(ctx, audit.Query{Action: "policy.*"})
	require.NoError(t, err)
	var got []string
	for _, r := range page.Records {
		got = append(got, r.Action+" "+r.Target+" "+r.Detail)
	}
	assert.ElementsMatch(t, []string{
		"policy.override_set payments.Charge retry=5 by rollout-controller",
		"policy.canary_staged payments retry=4 by rollout-controller, 50 permille, canary " + p.Doc().Canaries[0].ID,
	}, got)
}

// In dry-run an attempt is not cut, and its would-have timeout is judged
// against the timeout of its own variant: a canary's attempt that ran past
// the canary's timeout= but not the baseline's is recorded.
func TestPolicyTimeoutCanaryInDryRunRecordsTheCanarysWouldHave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, clk := shapedRuntime(t)
	rt.setMode(modeDryRun, true)
	z := rt.Zone(ZoneSpec{Service: "quotes", Method: "Dry", Timeout: 10 * time.Second})
	_, err := rt.Policy().StageCanary(ctx, "t1", "quotes.Dry", "timeout=20ms", policy.MaxPermille, "rollout")
	require.NoError(t, err)
	err = boundedCall(ctx, z, func(actx context.Context) error {
		_, bounded := actx.Deadline()
		assert.False(t, bounded, "dry-run cuts no attempt")
		clk.Advance(50 * time.Millisecond)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), rt.WouldHaveCounts()["timeout"], "50ms is over the canary's timeout=20ms")
}
