package report_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/behaviour"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/report"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// day1 23:00 UTC: an hour before midnight.
var start = time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)

// pricer fails while down is set.
type pricer struct {
	mu   sync.Mutex
	down bool
}

var errDown = errors.New("pricer down")

func (p *pricer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return errDown
	}
	return nil
}

func (p *pricer) setDown(on bool) {
	p.mu.Lock()
	p.down = on
	p.mu.Unlock()
}

func (p *pricer) Price(_ context.Context, s string) (behaviour.Quote, error) {
	if err := p.err(); err != nil {
		return behaviour.Quote{}, err
	}
	return behaviour.Quote{Symbol: s, Cents: 100}, nil
}
func (p *pricer) Slow(_ context.Context, s string) (behaviour.Quote, error) { return p.Price(nil, s) }
func (p *pricer) Limited(context.Context, string) error                     { return p.err() }
func (p *pricer) Hot(_ context.Context, n int) (int, error)                 { return n, p.err() }
func (p *pricer) Plain(context.Context) error                               { return p.err() }
func (p *pricer) Count() int                                                { return 0 }

type env struct {
	rt    *runtime.Runtime
	st    *store.Memory
	clk   *clock.Fake
	gen   *report.Generator
	p     *behaviour.ProtectedPricer
	inner *pricer
}

func newEnv(t *testing.T, opts report.Options) *env {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	return newEnvWith(t, st, clock.NewFake(start), "test-node", opts)
}

// newEnvOn is a second process on the store and clock of another env.
func newEnvOn(t *testing.T, st *store.Memory, clk *clock.Fake, node string) *env {
	t.Helper()
	return newEnvWith(t, st, clk, node, report.Options{})
}

func newEnvWith(t *testing.T, st *store.Memory, clk *clock.Fake, node string, opts report.Options) *env {
	t.Helper()
	e := &env{st: st, clk: clk, inner: &pricer{}}
	var err error
	e.rt, err = runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, Store: e.st, Clock: e.clk,
		Breaker: runtime.BreakerConfig{FailureThreshold: 5, RecoveryTimeout: 2 * time.Hour}})
	require.NoError(t, err)
	t.Cleanup(func() { e.rt.Close() })
	e.p = behaviour.NewProtectedPricer(e.inner, e.rt)
	opts.Clock, opts.Location, opts.Logger, opts.Node = e.clk, time.UTC, quiet, node
	e.gen = report.New(e.rt, opts)
	return e
}

func TestACalmDayIsOneLine(t *testing.T) {
	e := newEnv(t, report.Options{})
	r, err := e.gen.Generate(context.Background())
	require.NoError(t, err)
	assert.True(t, r.Calm)
	assert.Equal(t, report.SeverityOK, r.Severity)
	assert.Equal(t, "All quiet — 0 processed, 0 alerts.", r.Summary)
	assert.Equal(t, "2026-11-23: All quiet — 0 processed, 0 alerts.", report.Text(r))
	assert.Equal(t, []string{"dlq"}, r.Partial, "the DLQ is not wired: said, not guessed")
	assert.Equal(t, "2026-11-23", r.Date)
	assert.False(t, r.Final)

	// Successful traffic keeps the day calm.
	for i := range 40 {
		_, err := e.p.Hot(context.Background(), i)
		require.NoError(t, err)
	}
	r, err = e.gen.Generate(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "2026-11-23: All quiet — 40 processed, 0 alerts.", report.Text(r))

	stored, err := e.st.Get(context.Background(), report.NodeKey("2026-11-23", "test-node"))
	require.NoError(t, err, "Generate stores the report under report:<date>:node:<node>")
	var back report.Report
	require.NoError(t, json.Unmarshal(stored, &back))
	assert.Equal(t, uint64(40), back.Totals.Calls)
	ttl, err := e.st.TTL(context.Background(), report.NodeKey("2026-11-23", "test-node"))
	require.NoError(t, err)
	assert.Positive(t, ttl, "stored reports expire")
}

// TestABadDayThroughTheGeneratedWrapper breaks the pricer until its breaker
// opens: the report is critical and says why.
func TestABadDayThroughTheGeneratedWrapper(t *testing.T) {
	e := newEnv(t, report.Options{DLQ: needsReview(2)})
	ctx := context.Background()
	for range 20 {
		_, err := e.p.Price(ctx, "ACME")
		require.NoError(t, err)
	}
	e.inner.setDown(true)
	for range 5 {
		q, err := e.p.Price(ctx, "ACME")
		require.NoError(t, err, "the fallback answers")
		require.Equal(t, int64(-1), q.Cents)
	}
	r, err := e.gen.Generate(ctx)
	require.NoError(t, err)
	assert.Equal(t, report.SeverityCritical, r.Severity)
	assert.False(t, r.Calm)
	codes := map[string]report.Severity{}
	for _, a := range r.Alerts {
		codes[a.Code] = a.Severity
	}
	assert.Equal(t, report.SeverityCritical, codes["breaker_open"])
	assert.Equal(t, report.SeverityWarning, codes["dlq_needs_review"])
	assert.Equal(t, report.SeverityCritical, r.Alerts[0].Severity, "most severe first")
	assert.Empty(t, r.Partial)
	require.NotNil(t, r.DLQ)
	assert.Equal(t, int64(2), r.DLQ.NeedsReview)

	// 20 ok; call 1: 3 failed attempts (2 retries), fallback; call 2: the 4th
	// and 5th failures open the breaker, the 3rd attempt is rejected; calls
	// 3-5 rejected at once. All 5 fall back.
	assert.Equal(t, uint64(25), r.Totals.Calls)
	assert.Equal(t, uint64(5), r.Totals.Failures)
	assert.Equal(t, uint64(4), r.Totals.Retries)
	assert.Equal(t, uint64(4), r.Totals.RejectedBreaker)
	assert.Equal(t, uint64(5), r.Totals.Fallbacks)
	assert.Equal(t, uint64(1), r.Totals.FinalFailures)
	require.NotNil(t, r.Resolution.Rate)
	assert.Equal(t, 1.0, *r.Resolution.Rate, "every troubled call got a fallback answer")
	require.Len(t, r.Breakers, 1)
	assert.Equal(t, report.BreakerDay{Service: "pricer", State: "OPEN", Opened: 1, Transitions: 1, LastChange: start}, r.Breakers[0])
	require.Len(t, r.Services, 1)
	assert.Equal(t, "pricer", r.Services[0].Service)

	text := report.Text(r)
	assert.True(t, strings.HasPrefix(text, "2026-11-23: CRITICAL — 25 processed, 2 alert(s)\n"), text)
	assert.Contains(t, text, "[critical] breaker pricer is OPEN")
	assert.Contains(t, text, "[warning] 2 dead letter(s) spent their replay budget")
	assert.Contains(t, text, "noisiest: pricer (5 failures, 4 rejections)")
	assert.Contains(t, text, "(the day is not over)")
}

type needsReview int64

func (n needsReview) DLQDepth(context.Context) ([]dlq.Depth, error) {
	return []dlq.Depth{{Domain: "pricer", State: "needs_review", Entries: int64(n)}, {Domain: "pricer", State: "pending", Entries: 3}}, nil
}

func TestBuildRules(t *testing.T) {
	ok := func(svc string, succ, fail uint64) runtime.CallStats {
		return runtime.CallStats{Service: svc, Method: "M", Successes: succ, Failures: fail}
	}
	for _, tc := range []struct {
		name string
		in   report.Input
		want map[string]report.Severity
		sev  report.Severity
	}{
		{"calm", report.Input{KillSwitch: true, Calls: []runtime.CallStats{ok("a", 100, 3)}}, map[string]report.Severity{}, report.SeverityOK},
		{"kill switch off", report.Input{}, map[string]report.Severity{"kill_switch_off": report.SeverityCritical}, report.SeverityCritical},
		{"failure ratio warning", report.Input{KillSwitch: true, Calls: []runtime.CallStats{ok("a", 100, 10)}},
			map[string]report.Severity{"failure_ratio": report.SeverityWarning}, report.SeverityWarning},
		{"failure ratio critical", report.Input{KillSwitch: true, Calls: []runtime.CallStats{ok("a", 10, 10)}},
			map[string]report.Severity{"failure_ratio": report.SeverityCritical}, report.SeverityCritical},
		{"few failures are not an alert", report.Input{KillSwitch: true, Calls: []runtime.CallStats{ok("a", 1, 9)}},
			map[string]report.Severity{}, report.SeverityOK},
		{"breaker recovered", report.Input{KillSwitch: true, Breakers: []report.BreakerDay{{Service: "a", State: "CLOSED", Opened: 2, Transitions: 6}}},
			map[string]report.Severity{"breaker_opened": report.SeverityWarning}, report.SeverityWarning},
		{"store", report.Input{KillSwitch: true, Store: report.StoreDay{Degradations: 1, Conflicts: 2}},
			map[string]report.Severity{"store_degraded": report.SeverityWarning, "reconcile_conflicts": report.SeverityWarning}, report.SeverityWarning},
		{"bulkhead and retries", report.Input{KillSwitch: true, Calls: []runtime.CallStats{{Service: "a", Successes: 50, RejectedBulkhead: 1, Retries: 10, Failures: 0}}},
			map[string]report.Severity{"bulkhead_rejections": report.SeverityWarning, "retry_pressure": report.SeverityWarning}, report.SeverityWarning},
		{"timeouts and dry-run", report.Input{KillSwitch: true, DryRun: report.DryRunDay{Decisions: 3},
			Calls: []runtime.CallStats{{Service: "a", Successes: 50, Failures: 1, Timeouts: 1}}},
			map[string]report.Severity{"timeouts": report.SeverityInfo, "dry_run": report.SeverityInfo}, report.SeverityInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := report.Build(tc.in)
			got := map[string]report.Severity{}
			for _, a := range r.Alerts {
				got[a.Code] = a.Severity
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.sev, r.Severity)
			assert.Equal(t, len(tc.want) == 0, r.Calm)
		})
	}
}

// TestMidnightRunStoresTheFinalReport moves a fake clock past midnight: the
// day's final report is stored and the next day counts from zero.
func TestMidnightRunStoresTheFinalReport(t *testing.T) {
	stored := make(chan report.Report, 4)
	e := newEnv(t, report.Options{OnStored: func(r report.Report) { stored <- r }})
	e.gen.Start()
	ctx := context.Background()
	e.inner.setDown(true)
	for range 2 {
		_, _ = e.p.Price(ctx, "ACME") // 5 failures: the breaker opens (one transition)
	}
	e.inner.setDown(false)
	e.clk.Advance(30 * time.Minute)
	require.Empty(t, stored, "nothing before midnight")

	e.clk.Advance(31 * time.Minute) // past midnight
	var r report.Report
	select {
	case r = <-stored:
	default:
		t.Fatal("no report stored at midnight")
	}
	assert.Equal(t, "2026-11-23", r.Date)
	assert.True(t, r.Final)
	assert.Equal(t, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), r.To)
	assert.Equal(t, start, r.From)
	assert.Equal(t, uint64(5), r.Totals.Failures)
	require.Len(t, r.Breakers, 1)
	assert.Equal(t, 1, r.Breakers[0].Opened)
	loaded, err := e.gen.Load(ctx, "2026-11-23")
	require.NoError(t, err)
	assert.Equal(t, r.Summary, loaded.Summary)

	today, err := e.gen.Generate(ctx)
	require.NoError(t, err)
	assert.Equal(t, "2026-11-24", today.Date)
	assert.Equal(t, uint64(0), today.Totals.Failures, "the new day counts from midnight")
	assert.Equal(t, 0, today.Breakers[0].Opened)

	nextMidnight := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	assert.Contains(t, e.clk.Deadlines(), nextMidnight, "the run re-armed for the next midnight")
	e.gen.Stop()
	assert.NotContains(t, e.clk.Deadlines(), nextMidnight, "Stop disarms the midnight timer")
	e.clk.Advance(48 * time.Hour)
	assert.Empty(t, stored, "nothing after Stop")
}

func TestDaysListsStoredAndMissingDays(t *testing.T) {
	e := newEnv(t, report.Options{})
	ctx := context.Background()
	old := report.Build(report.Input{Date: "2026-11-21", Node: "old-node", KillSwitch: true, Calls: []runtime.CallStats{{Service: "a", Successes: 7}}})
	b, err := json.Marshal(old)
	require.NoError(t, err)
	require.NoError(t, e.st.Set(ctx, report.NodeKey("2026-11-21", "old-node"), b, 0))

	days, err := e.gen.Days(ctx, "today", 3)
	require.NoError(t, err)
	require.Len(t, days, 3)
	assert.Equal(t, "2026-11-23", days[0].Date)
	require.NotNil(t, days[0].Report)
	assert.Equal(t, "2026-11-23: All quiet — 0 processed, 0 alerts.", days[0].Text)
	assert.Equal(t, "2026-11-22", days[1].Date)
	assert.Nil(t, days[1].Report)
	assert.Contains(t, days[1].Missing, "no report stored")
	assert.Equal(t, "2026-11-21: All quiet — 7 processed, 0 alerts.", days[2].Text)

	days, err = e.gen.Days(ctx, "2026-11-21", 1)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), days[0].Report.Totals.Calls)

	for _, bad := range []struct {
		date string
		days int
		want string
	}{
		{"yesterday", 1, `"yesterday": want YYYY-MM-DD or today`},
		{"2026-11-24", 1, "in the future (today is 2026-11-23)"},
		{"today", 0, "days=0, want 1 to 90"},
		{"today", 91, "days=91"},
	} {
		_, err := e.gen.Days(ctx, bad.date, bad.days)
		require.ErrorIs(t, err, report.ErrBadDate)
		assert.Contains(t, err.Error(), bad.want)
	}
}

// TestTheFleetsReportMergesEveryProcess runs two runtimes on one store, as
// two processes sharing a Redis do: the day's report adds up their calls
// and takes the worst of what they saw, instead of the last writer winning.
func TestTheFleetsReportMergesEveryProcess(t *testing.T) {
	a := newEnv(t, report.Options{})
	b := newEnvOn(t, a.st, a.clk, "node-b")
	ctx := context.Background()
	for i := range 30 {
		_, err := a.p.Hot(ctx, i)
		require.NoError(t, err)
	}
	b.inner.setDown(true)
	for range 2 {
		_, _ = b.p.Price(ctx, "ACME") // five failures: b's breaker opens
	}
	b.inner.setDown(false)
	if _, err := b.rt.Control().StartDryRun(ctx, "test", "rehearsal"); err != nil {
		t.Fatal(err)
	}
	require.NoError(t, b.p.Plain(ctx), "dry-run: the open breaker would have rejected, but does not")

	ra, err := a.gen.Generate(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(30), ra.Totals.Calls, "a's own report counts a's calls")
	_, err = b.gen.Generate(ctx)
	require.NoError(t, err)

	days, err := a.gen.Days(ctx, "today", 1)
	require.NoError(t, err)
	r := days[0].Report
	require.NotNil(t, r)
	assert.Equal(t, []string{"node-b", "test-node"}, r.Nodes)
	assert.Equal(t, uint64(30+2+1), r.Totals.Calls, "a's 30 and b's 3 calls")
	assert.Equal(t, uint64(5), r.Totals.Failures)
	assert.Equal(t, report.SeverityCritical, r.Severity, "b's open breaker makes the fleet's day critical")
	require.NotEmpty(t, r.Breakers)
	assert.True(t, r.DryRun.On)
	assert.Equal(t, map[string]int{"breaker": 1}, r.DryRun.ByPolicy)

	// A node's report that does not decode is left out and said.
	require.NoError(t, a.st.Set(ctx, report.NodeKey("2026-11-23", "node-c"), []byte("{garbage"), 0))
	merged, err := a.gen.Load(ctx, "2026-11-23")
	require.NoError(t, err)
	assert.Equal(t, []string{"node-b", "test-node"}, merged.Nodes)
	assert.Contains(t, merged.Partial, "node node-c: stored report unreadable")
	assert.Equal(t, uint64(33), merged.Totals.Calls)
}

func TestMergeOfOneReportIsThatReport(t *testing.T) {
	in := report.Input{Date: "2026-11-21", Node: "n1", KillSwitch: true, Final: true,
		From: start, To: start.Add(time.Hour), GeneratedAt: start.Add(time.Hour),
		Calls: []runtime.CallStats{{Service: "a", Method: "M", Successes: 7, Failures: 12, Retries: 3, Fallbacks: 2},
			{Service: "b", Method: "N", RejectedBulkhead: 4}},
		Breakers: []report.BreakerDay{{Service: "a", State: "OPEN", Opened: 1, Transitions: 1, LastChange: start}},
		Store:    report.StoreDay{Degradations: 1},
		DryRun:   report.DryRunDay{Decisions: 2, ByPolicy: map[string]int{"retry": 2}},
		DLQ:      &report.DLQDay{Pending: 3},
	}
	one := report.Build(in)
	merged := report.Merge(one)
	one.Nodes = []string{"n1"}
	assert.Equal(t, one, merged)
}

func TestMergeRules(t *testing.T) {
	at := func(h int) time.Time { return start.Add(time.Duration(h) * time.Hour) }
	x := report.Build(report.Input{Date: "d", Node: "x", KillSwitch: true, Final: true, From: at(0), To: at(2),
		Breakers: []report.BreakerDay{{Service: "s", State: "CLOSED", Opened: 2, Transitions: 4, LastChange: at(1)}},
		Store:    report.StoreDay{Degradations: 1, Replayed: 5},
		DLQ:      &report.DLQDay{Pending: 1}})
	y := report.Build(report.Input{Date: "d", Node: "y", KillSwitch: false, Final: false, From: at(1), To: at(3),
		Breakers: []report.BreakerDay{{Service: "s", State: "HALF_OPEN", Opened: 1, Transitions: 3, LastChange: at(2)}},
		Store:    report.StoreDay{Degraded: true, Degradations: 2, Conflicts: 1},
		DLQ:      &report.DLQDay{Pending: 9}, Partial: []string{"dlq"}})
	m := report.Merge(x, y)
	assert.Equal(t, []string{"x", "y"}, m.Nodes)
	assert.Empty(t, m.Node)
	assert.Equal(t, at(0), m.From)
	assert.Equal(t, at(3), m.To)
	assert.False(t, m.Final, "y's day is not over")
	assert.False(t, m.KillSwitch, "off on one process is off")
	assert.Equal(t, []report.BreakerDay{{Service: "s", State: "HALF_OPEN", Opened: 2, Transitions: 4, LastChange: at(2)}}, m.Breakers,
		"the most severe state; transitions every process saw are not added up")
	assert.Equal(t, report.StoreDay{Degraded: true, Degradations: 3, Replayed: 5, Conflicts: 1}, m.Store)
	assert.Equal(t, &report.DLQDay{Pending: 9}, m.DLQ, "the latest reading of the shared queue")
	assert.Empty(t, m.Partial, "one process read the DLQ")
	assert.Equal(t, report.SeverityCritical, m.Severity)
}

// TestMergeTakesTheMostRestrictiveBreakerState: whatever order the processes'
// reports come in, the merged state is the one that cuts the service off most
// (FORCED_OPEN, OPEN, HALF_OPEN, CLOSED).
func TestMergeTakesTheMostRestrictiveBreakerState(t *testing.T) {
	t.Parallel()
	order := []string{"CLOSED", "HALF_OPEN", "OPEN", "FORCED_OPEN"}
	day := func(node, state string) report.Report {
		return report.Build(report.Input{Date: "d", Node: node, KillSwitch: true, From: start, To: start.Add(time.Hour),
			Breakers: []report.BreakerDay{{Service: "s", State: state}}})
	}
	for i, lower := range order {
		for _, higher := range order[i+1:] {
			for _, m := range []report.Report{report.Merge(day("a", lower), day("b", higher)), report.Merge(day("a", higher), day("b", lower))} {
				require.Len(t, m.Breakers, 1)
				assert.Equal(t, higher, m.Breakers[0].State, "%s merged with %s", higher, lower)
			}
		}
	}
}

// countingStore counts the listings and reads a Generator makes.
type countingStore struct {
	store.Store
	keys, getManys int
}

func (c *countingStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	c.keys++
	return c.Store.Keys(ctx, prefix)
}

func (c *countingStore) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	c.getManys++
	return c.Store.GetMany(ctx, keys...)
}

func TestDaysListsTheStoredReportsOnce(t *testing.T) {
	e := newEnv(t, report.Options{})
	cs := &countingStore{Store: e.st}
	gen := report.New(e.rt, report.Options{Store: cs, Clock: e.clk, Location: time.UTC, Logger: quiet, Node: "counted"})
	days, err := gen.Days(context.Background(), "today", 30)
	require.NoError(t, err)
	require.Len(t, days, 30)
	require.NotNil(t, days[0].Report)
	assert.Equal(t, []string{"counted"}, days[0].Report.Nodes)
	assert.Equal(t, 1, cs.keys, "one listing (a SCAN on Redis) for 30 days, not one per day")
	assert.Equal(t, 1, cs.getManys)
}
