package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/behaviour"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// families is one parsed scrape.
type families map[string]*dto.MetricFamily

// scrape GETs url over HTTP and parses the answer with the Prometheus text parser.
func scrape(t *testing.T, c *http.Client, url string) families {
	t.Helper()
	res, err := c.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the series of name whose labels include want.
func (f families) find(t *testing.T, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := f[name]
	require.True(t, ok, "no family %s", name)
	var found *dto.Metric
	for _, m := range fam.GetMetric() {
		ls := labelsOf(m)
		match := true
		for k, v := range want {
			if ls[k] != v {
				match = false
			}
		}
		if match {
			require.Nil(t, found, "%s%v matches more than one series", name, want)
			found = m
		}
	}
	require.NotNil(t, found, "no series %s%v", name, want)
	return found
}

// value reads a counter or gauge.
func (f families) value(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	m := f.find(t, name, want)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

func (f families) labelValues(name, label string) []string {
	seen := map[string]bool{}
	for _, m := range f[name].GetMetric() {
		seen[labelsOf(m)[label]] = true
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func (f families) sum(name string) float64 {
	var s float64
	for _, m := range f[name].GetMetric() {
		s += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return s
}

// scripted is a Pricer whose Price fails while failing is set, whose Slow
// waits for its context, and whose Limited waits for release.
type scripted struct {
	mu      sync.Mutex
	failing bool
	entered chan struct{}
	release chan struct{}
}

var errDown = errors.New("pricer down")

func (s *scripted) Count() int { return 0 }

func (s *scripted) fail(on bool) {
	s.mu.Lock()
	s.failing = on
	s.mu.Unlock()
}

func (s *scripted) Price(_ context.Context, sym string) (behaviour.Quote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return behaviour.Quote{}, errDown
	}
	return behaviour.Quote{Symbol: sym, Cents: 4200}, nil
}

func (s *scripted) Slow(ctx context.Context, _ string) (behaviour.Quote, error) {
	<-ctx.Done()
	return behaviour.Quote{}, ctx.Err()
}

func (s *scripted) Limited(context.Context, string) error {
	s.entered <- struct{}{}
	await.Hold(s.release)
	return nil
}

func (s *scripted) Hot(_ context.Context, n int) (int, error) { return n + 1, nil }
func (s *scripted) Plain(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errDown
	}
	return nil
}

// TestScrapeAfterAScriptedRun drives the generated Pricer wrapper through
// successes, a timeout, a full bulkhead, retries, fallbacks and an opening
// breaker, then scrapes the registry over HTTP and checks every series.
func TestScrapeAfterAScriptedRun(t *testing.T) {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, Store: store.NewMemory(),
		Breaker: runtime.BreakerConfig{FailureThreshold: 5, RecoveryTimeout: time.Hour}})
	require.NoError(t, err)
	defer rt.Close()
	inner := &scripted{entered: make(chan struct{}), release: make(chan struct{})}
	p := behaviour.NewProtectedPricer(inner, rt)
	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry(rt), promhttp.HandlerOpts{}))
	defer srv.Close()
	url := srv.URL + "/metrics"
	ctx := context.Background()

	// Before any call: every method is listed, at zero.
	f := scrape(t, srv.Client(), url)
	assert.Equal(t, 0.0, f.value(t, "baldur_calls_total", map[string]string{"service": "pricer", "method": "Price", "outcome": "success"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_breaker_state", map[string]string{"service": "pricer", "state": "closed"}))
	assert.Equal(t, 0.0, f.value(t, "baldur_breaker_state", map[string]string{"service": "pricer", "state": "open"}))
	assert.Equal(t, 2.0, f.value(t, "baldur_bulkhead_capacity", map[string]string{"compartment": "pricer.Limited"}))
	assert.Equal(t, 64.0, f.value(t, "baldur_bulkhead_capacity", map[string]string{"compartment": "pricer.Hot"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_kill_switch_enabled", nil))
	assert.Equal(t, 0.0, f.value(t, "baldur_store_degraded", nil))
	assert.Equal(t, 0.0, f.value(t, "baldur_store_reconcile_conflicts_total", nil))

	for i := range 10 {
		n, err := p.Hot(ctx, i)
		require.NoError(t, err)
		require.Equal(t, i+1, n)
	}
	_, err = p.Slow(ctx, "ACME") // times out: a failure and a timeout
	require.ErrorIs(t, err, runtime.ErrTimeout)

	// Limited: two calls hold both slots, a third is refused.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.NoError(t, p.Limited(ctx, "ACME")) })
		await.Signal(t, inner.entered, "a Limited call entering the inner method")
	}
	f = scrape(t, srv.Client(), url)
	assert.Equal(t, 2.0, f.value(t, "baldur_bulkhead_active", map[string]string{"compartment": "pricer.Limited"}))
	require.ErrorIs(t, p.Limited(ctx, "ACME"), runtime.ErrBulkheadFull)
	close(inner.release)
	await.Wait(t, &wg, "the scripted calls, released")

	for range 3 {
		q, err := p.Price(ctx, "ACME")
		require.NoError(t, err)
		require.Equal(t, int64(4200), q.Cents)
	}
	// Failing: call 1 fails its 3 attempts (failures 2-4, 2 retries) and falls
	// back; call 2's first attempt is the 5th failure and opens the breaker,
	// its retry is rejected and falls back; call 3 is rejected at once.
	inner.fail(true)
	for range 3 {
		q, err := p.Price(ctx, "ACME")
		require.NoError(t, err)
		require.Equal(t, int64(-1), q.Cents, "the fallback answers")
	}
	require.ErrorIs(t, p.Plain(ctx), runtime.ErrOpen)

	f = scrape(t, srv.Client(), url)
	for _, tc := range []struct {
		method, outcome string
		want            float64
	}{
		{"Hot", "success", 10},
		{"Slow", "failure", 1},
		{"Limited", "success", 2},
		{"Limited", "rejected_bulkhead", 1},
		{"Price", "success", 3},
		{"Price", "failure", 4},
		{"Price", "rejected_breaker", 2},
		{"Price", "fallback", 3},
		{"Price", "ignored", 0},
		{"Plain", "rejected_breaker", 1},
	} {
		assert.Equal(t, tc.want, f.value(t, "baldur_calls_total", map[string]string{"service": "pricer", "method": tc.method, "outcome": tc.outcome}),
			"%s %s", tc.method, tc.outcome)
	}
	assert.Equal(t, 3.0, f.value(t, "baldur_retries_total", map[string]string{"service": "pricer", "method": "Price"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_timeouts_total", map[string]string{"service": "pricer", "method": "Slow"}))
	assert.Equal(t, 0.0, f.value(t, "baldur_bulkhead_active", map[string]string{"compartment": "pricer.Limited"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_breaker_state", map[string]string{"service": "pricer", "state": "open"}))
	assert.Equal(t, 0.0, f.value(t, "baldur_breaker_state", map[string]string{"service": "pricer", "state": "closed"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_breaker_transitions_total", map[string]string{"service": "pricer", "from": "closed", "to": "open"}))
	assert.Len(t, f["baldur_breaker_state"].GetMetric(), 5, "one series per state")

	// The sampled histogram: some attempts timed, buckets cumulative.
	fam := f["baldur_call_duration_seconds"]
	require.NotNil(t, fam)
	assert.Equal(t, dto.MetricType_HISTOGRAM, fam.GetType())
	assert.Contains(t, fam.GetHelp(), "SAMPLED")
	var samples uint64
	for _, m := range fam.GetMetric() {
		h := m.GetHistogram()
		bs := h.GetBucket()
		require.Len(t, bs, len(runtime.DurationBuckets)+1, "the runtime's bounds, then +Inf")
		for i := 1; i < len(bs); i++ {
			assert.LessOrEqual(t, bs[i-1].GetCumulativeCount(), bs[i].GetCumulativeCount())
		}
		assert.Equal(t, runtime.DurationBuckets[0].Seconds(), bs[0].GetUpperBound())
		assert.Equal(t, h.GetSampleCount(), bs[len(bs)-1].GetCumulativeCount())
		samples += h.GetSampleCount()
	}
	assert.Positive(t, samples, "at least one attempt was timed")
	slow := f.find(t, "baldur_call_duration_seconds", map[string]string{"method": "Slow"}).GetHistogram()
	if slow.GetSampleCount() > 0 { // the timed-out attempt took at least its 20ms timeout
		assert.GreaterOrEqual(t, slow.GetSampleSum(), 0.02)
	}

	// Dry-run: would-have decisions become counters, counted once.
	if _, err := rt.Control().StartDryRun(ctx, "test", "rehearsal"); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Price(ctx, "ACME") // breaker, retry and fallback would have acted
	_ = p.Plain(ctx)            // breaker would have rejected
	f = scrape(t, srv.Client(), url)
	assert.Equal(t, 1.0, f.value(t, "baldur_dryrun_enabled", nil))
	assert.Equal(t, 2.0, f.value(t, "baldur_dryrun_decisions_total", map[string]string{"policy": "breaker"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_dryrun_decisions_total", map[string]string{"policy": "retry"}))
	assert.Equal(t, 1.0, f.value(t, "baldur_dryrun_decisions_total", map[string]string{"policy": "fallback"}))
	f = scrape(t, srv.Client(), url)
	assert.Equal(t, 2.0, f.value(t, "baldur_dryrun_decisions_total", map[string]string{"policy": "breaker"}), "a second scrape adds nothing")
	_ = p.Plain(ctx)
	f = scrape(t, srv.Client(), url)
	assert.Equal(t, 3.0, f.value(t, "baldur_dryrun_decisions_total", map[string]string{"policy": "breaker"}))
	for range 1200 { // more than the timeline holds, between two scrapes
		_ = p.Plain(ctx)
	}
	f = scrape(t, srv.Client(), url)
	assert.Equal(t, 1203.0, f.value(t, "baldur_dryrun_decisions_total", map[string]string{"policy": "breaker"}), "nothing undercounted")

	if _, err := rt.Control().GoLive(ctx, "test", "CONFIRM", "rehearsal over"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Control().Disable(ctx, "test", "incident"); err != nil {
		t.Fatal(err)
	}
	f = scrape(t, srv.Client(), url)
	assert.Equal(t, 0.0, f.value(t, "baldur_kill_switch_enabled", nil))
	assert.Equal(t, 0.0, f.value(t, "baldur_dryrun_enabled", nil))
	assert.Contains(t, f, "go_goroutines", "Registry adds the Go collector")
}

// TestSeriesPassPromlint checks names, units and help texts with the
// Prometheus linter.
func TestSeriesPassPromlint(t *testing.T) {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, Store: store.NewMemory()})
	require.NoError(t, err)
	defer rt.Close()
	behaviour.NewProtectedPricer(&scripted{}, rt)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.NewCollector(rt, metrics.Options{
		DLQ:         dlqDomains(3),
		Idempotency: idemOutcomes{{Service: "pricer", Method: "Price", Outcome: "duplicate", Count: 2}},
	})))
	mfs, err := reg.Gather() // the pedantic registry also checks the series against Describe
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	names := make([]string, 0, len(mfs))
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"baldur_calls_total", "baldur_dlq_entries", "baldur_idempotency_outcomes_total"} {
		assert.Contains(t, names, want)
	}
}

// TestScrapeWhileDegraded points the runtime at a Redis that is not there:
// the store serves DEGRADED from the start, and the scrape says so.
func TestScrapeWhileDegraded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir(),
		RedisURL: "redis://" + addr + "/0"})
	require.NoError(t, err)
	defer rt.Close()
	behaviour.NewProtectedPricer(&scripted{}, rt)
	require.True(t, rt.Degraded())

	srv := httptest.NewServer(promhttp.HandlerFor(metrics.Registry(rt), promhttp.HandlerOpts{}))
	defer srv.Close()
	f := scrape(t, srv.Client(), srv.URL)
	assert.Equal(t, 1.0, f.value(t, "baldur_store_degraded", nil))
	assert.Equal(t, 1.0, f.value(t, "baldur_store_degradations_total", nil))
	assert.Equal(t, 0.0, f.value(t, "baldur_store_reconcile_conflicts_total", nil))
	assert.Equal(t, 1.0, f.value(t, "baldur_breaker_state", map[string]string{"service": "pricer", "state": "closed"}))
}

// dlqDomains reports n distinct DLQ domains, one pending entry each.
type dlqDomains int

func (n dlqDomains) DLQDepth(context.Context) ([]dlq.Depth, error) {
	out := make([]dlq.Depth, 0, int(n))
	for i := range int(n) {
		out = append(out, dlq.Depth{Domain: fmt.Sprintf("tenant-%05d", i), State: "pending", Entries: 1})
	}
	return out, nil
}

type idemOutcomes []metrics.IdempotencyOutcome

func (o idemOutcomes) IdempotencyOutcomes() []metrics.IdempotencyOutcome { return o }

type brokenDLQ struct{}

func (brokenDLQ) DLQDepth(context.Context) ([]dlq.Depth, error) {
	return nil, fmt.Errorf("dlq stats: %w", store.ErrUnavailable)
}

// TestCardinalityCapWithTenThousandDomains feeds 10 000 distinct DLQ
// domains and 10 000 idempotency services: each label keeps 50 values, the
// rest is summed under __other__, and method-list services are never capped.
func TestCardinalityCapWithTenThousandDomains(t *testing.T) {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, Store: store.NewMemory()})
	require.NoError(t, err)
	defer rt.Close()
	behaviour.NewProtectedPricer(&scripted{}, rt)
	var outcomes idemOutcomes
	for i := range 10_000 {
		outcomes = append(outcomes, metrics.IdempotencyOutcome{Service: fmt.Sprintf("svc-%05d", i), Method: "M", Outcome: "claimed", Count: 1})
	}
	outcomes = append(outcomes, metrics.IdempotencyOutcome{Service: "pricer", Method: "Price", Outcome: "duplicate", Count: 7})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(rt, metrics.Options{DLQ: dlqDomains(10_000), Idempotency: outcomes}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	for range 2 { // the same labels on every scrape
		f := scrape(t, srv.Client(), srv.URL)
		domains := f.labelValues("baldur_dlq_entries", "domain")
		assert.Len(t, domains, metrics.DefaultMaxDomains+1)
		assert.Contains(t, domains, metrics.Other)
		assert.Contains(t, domains, "tenant-00000", "first come, first kept")
		assert.Contains(t, domains, "tenant-00049")
		assert.NotContains(t, domains, "tenant-00050")
		assert.Equal(t, 10_000.0-50, f.value(t, "baldur_dlq_entries", map[string]string{"domain": metrics.Other}))
		assert.Equal(t, 10_000.0, f.sum("baldur_dlq_entries"), "nothing is lost")

		services := f.labelValues("baldur_idempotency_outcomes_total", "service")
		assert.Len(t, services, metrics.DefaultMaxDomains+2, "50 free-form, __other__, and pricer (from the method list)")
		assert.Contains(t, services, "pricer")
		assert.Equal(t, 10_000.0-50, f.value(t, "baldur_idempotency_outcomes_total", map[string]string{"service": metrics.Other}))
		assert.Equal(t, 7.0, f.value(t, "baldur_calls_total", map[string]string{"service": "pricer", "method": "Price", "outcome": "duplicate"}))
	}

	// A failing hook leaves its series out and is counted; the scrape still answers.
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(metrics.NewCollector(rt, metrics.Options{DLQ: brokenDLQ{}, MaxDomains: 3}))
	srv2 := httptest.NewServer(promhttp.HandlerFor(reg2, promhttp.HandlerOpts{}))
	defer srv2.Close()
	f := scrape(t, srv2.Client(), srv2.URL)
	assert.NotContains(t, f, "baldur_dlq_entries")
	assert.Equal(t, 1.0, f.value(t, "baldur_metrics_source_errors_total", map[string]string{"source": "dlq"}))
	assert.True(t, strings.HasPrefix(f["baldur_metrics_source_errors_total"].GetHelp(), "Scrapes during which"))
}

// BenchmarkGather measures one scrape's work (collect and encode-ready
// gather) for 50 services of 4 methods each.
func BenchmarkGather(b *testing.B) {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, Store: store.NewMemory()})
	require.NoError(b, err)
	defer rt.Close()
	for i := range 50 {
		for _, m := range []string{"A", "B", "C", "D"} {
			rt.Zone(runtime.ZoneSpec{Service: fmt.Sprintf("svc%02d", i), Method: m, Breaker: true, Bulkhead: 8})
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(rt, metrics.Options{}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
