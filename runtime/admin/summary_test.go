package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/dlq"
)

var errBoom = errors.New("boom")

// drive makes n calls through the zone of service.method, each ending in err.
func (f *fixture) drive(t *testing.T, service, method string, n int, err error) {
	t.Helper()
	var spec runtime.ZoneSpec
	for _, s := range f.rt.Zones() {
		if s.Service == service && s.Method == method {
			spec = s
		}
	}
	require.NotEmpty(t, spec.Service, "no zone %s.%s", service, method)
	z := f.rt.Zone(spec)
	ctx := context.Background()
	for range n {
		for attempt := 1; ; attempt++ {
			p, e := z.Enter(ctx)
			if e != nil {
				z.Fallback(ctx, e)
				break
			}
			if !z.Done(ctx, p, err, attempt) {
				if err != nil {
					z.Fallback(ctx, err)
				}
				break
			}
		}
	}
}

func (f *fixture) summary(t *testing.T, nocache bool) resp {
	t.Helper()
	path := "/api/baldur/dashboard/summary/"
	if nocache {
		path += "?nocache=true"
	}
	r := f.do(t, req{path: path, key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	return r
}

func TestSummaryVerdictFollowsTheRule(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.summary(t, false)
	assert.Equal(t, admin.VerdictHealthy, r.json["verdict"])
	assert.Equal(t, admin.VerdictRule, r.json["verdict_rule"])
	assert.Equal(t, "LIVE", r.json["mode"])
	assert.Equal(t, true, r.json["since_start"])
	assert.Empty(t, r.json["partial"], "the runtime's own dead-letter queue is read")
	assert.Equal(t, true, get(r.json, "dlq", "available"))
	assert.Equal(t, float64(0), get(r.json, "dlq", "needs_review"))
	assert.Equal(t, float64(2), get(r.json, "overview", "services"))
	assert.Equal(t, float64(3), get(r.json, "overview", "methods"))
	assert.Equal(t, "NORMAL", get(r.json, "overview", "store"))
	assert.Equal(t, float64(2), get(r.json, "breakers", "total"))
	assert.Equal(t, float64(2), get(r.json, "breakers", "by_state", "CLOSED"))
	assert.Equal(t, float64(3), r.json["zones"])
	assert.Equal(t, "ENABLED", get(r.json, "control", "kill_switch"))
	assert.Nil(t, get(r.json, "resolution", "rate"), "nothing troubled, nothing to resolve")

	// A few failures, answered by fallbacks: good.
	f.drive(t, "payments", "Refund", 6, nil)
	f.drive(t, "payments", "Refund", 3, errBoom)
	r = f.summary(t, true)
	assert.Equal(t, admin.VerdictGood, r.json["verdict"], r.json["verdict_reason"])
	assert.Equal(t, float64(9), get(r.json, "overview", "calls"))
	assert.Equal(t, float64(3), get(r.json, "overview", "failures"))
	assert.Equal(t, float64(1), get(r.json, "resolution", "rate"), "every failed call got a fallback")
	assert.Equal(t, []any{map[string]any{"type": "error", "count": float64(3)}}, r.json["failure_types"])
	noisy := r.json["noisiest_services"].([]any)
	require.Len(t, noisy, 1)
	assert.Equal(t, "payments", get(noisy[0], "service"))

	// One of two breakers open: warning; both: critical.
	b, _ := f.rt.Breaker("ledger")
	b.ForceOpen("drill")
	r = f.summary(t, true)
	assert.Equal(t, admin.VerdictWarning, r.json["verdict"])
	assert.Contains(t, r.json["verdict_reason"], "ledger=FORCED_OPEN")
	act := r.json["recent_activity"].([]any)
	require.NotEmpty(t, act)
	assert.Equal(t, "breaker", get(act[0], "kind"))
	assert.Equal(t, "ledger", get(act[0], "service"))
	assert.Equal(t, "CLOSED → FORCED_OPEN", get(act[0], "what"))
	p, _ := f.rt.Breaker("payments")
	p.ForceOpen("drill")
	r = f.summary(t, true)
	assert.Equal(t, admin.VerdictCritical, r.json["verdict"])
	assert.Contains(t, r.json["verdict_reason"], "2 of 2 breakers are open")
	b.Auto("done")
	p.Auto("done")

	_, err := f.ctl.StartDryRun(context.Background(), "t", "")
	require.NoError(t, err)
	r = f.summary(t, true)
	assert.Equal(t, "DRY_RUN", r.json["mode"])
	assert.Equal(t, admin.VerdictGood, r.json["verdict"])
	_, err = f.ctl.Disable(context.Background(), "t", "incident 42")
	require.NoError(t, err)
	r = f.summary(t, true)
	assert.Equal(t, "DISABLED", r.json["mode"])
	assert.Equal(t, admin.VerdictCritical, r.json["verdict"])
	assert.Contains(t, r.json["verdict_reason"], "incident 42")
	act = r.json["recent_activity"].([]any)
	assert.Equal(t, "control", get(act[0], "kind"), "the kill switch change is the newest activity")
}

func TestSummaryIsCached(t *testing.T) {
	f := newFixture(t, fixtureOpts{opts: func(o *admin.Options) { o.SummaryCacheTTL = time.Hour }})
	first := f.summary(t, false)
	assert.Equal(t, false, first.json["cached"])
	f.drive(t, "ledger", "Post", 3, errBoom)
	again := f.summary(t, false)
	assert.Equal(t, true, again.json["cached"])
	assert.Equal(t, first.json["generated_at"], again.json["generated_at"])
	assert.Equal(t, admin.VerdictHealthy, again.json["verdict"], "the cached answer")
	fresh := f.summary(t, true)
	assert.Equal(t, false, fresh.json["cached"])
	assert.Equal(t, admin.VerdictGood, fresh.json["verdict"])

	r := f.do(t, req{path: "/api/baldur/dashboard/summary/?nocache=perhaps", key: viewerKey})
	assert.Equal(t, http.StatusBadRequest, r.code)
}

// TestSummaryWindowForgetsOldTrouble uses a tiny window: the second summary
// measures from the first one, so failures before it no longer count.
func TestSummaryWindowForgetsOldTrouble(t *testing.T) {
	f := newFixture(t, fixtureOpts{opts: func(o *admin.Options) { o.SummaryWindow = time.Nanosecond }})
	f.drive(t, "payments", "Refund", 10, nil)
	f.drive(t, "payments", "Refund", 12, errBoom) // the breaker opens at 5: 5 failures, 7 rejections
	r := f.summary(t, true)
	assert.Equal(t, admin.VerdictWarning, r.json["verdict"], "one of two breakers open, 5 failures: %v", r.json["verdict_reason"])
	assert.Equal(t, float64(5), get(r.json, "overview", "failures"))
	assert.Equal(t, true, r.json["since_start"])
	p, _ := f.rt.Breaker("payments")
	p.Reset("test")
	r = f.summary(t, true)
	assert.Equal(t, admin.VerdictHealthy, r.json["verdict"], r.json["verdict_reason"])
	assert.Nil(t, r.json["since_start"])
	assert.Equal(t, float64(0), get(r.json, "overview", "failures"))
}

func TestSummaryRetryAlerts(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.rt.Zone(runtime.ZoneSpec{Service: "quotes", Method: "Get", Attempts: 3,
		Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Microsecond}})
	f.drive(t, "quotes", "Get", 6, errBoom) // 18 failed attempts, 12 retries for 6 calls
	r := f.summary(t, true)
	alerts := r.json["retry_alerts"].([]any)
	require.Len(t, alerts, 1)
	assert.Equal(t, "quotes", get(alerts[0], "service"))
	assert.Equal(t, float64(12), get(alerts[0], "retries"))
	assert.Equal(t, float64(6), get(alerts[0], "calls"))
	assert.Equal(t, admin.VerdictCritical, r.json["verdict"], "every attempt failed: %v", r.json["verdict_reason"])
}

type dlqDepth struct {
	depth []dlq.Depth
	err   error
}

func (d dlqDepth) DLQDepth(context.Context) ([]dlq.Depth, error) { return d.depth, d.err }

func TestSummaryReadsTheDLQHook(t *testing.T) {
	f := newFixture(t, fixtureOpts{opts: func(o *admin.Options) {
		o.DLQ = dlqDepth{depth: []dlq.Depth{{Domain: "payments", State: "pending", Entries: 4}, {Domain: "payments", State: "needs_review", Entries: 1}}}
	}})
	r := f.summary(t, true)
	assert.Equal(t, []any{}, r.json["partial"])
	assert.Equal(t, true, get(r.json, "dlq", "available"))
	assert.Equal(t, float64(4), get(r.json, "dlq", "pending"))
	assert.Equal(t, admin.VerdictWarning, r.json["verdict"])
	assert.Contains(t, r.json["verdict_reason"], "1 dead letter(s) need review")

	broken := newFixture(t, fixtureOpts{opts: func(o *admin.Options) { o.DLQ = dlqDepth{err: fmt.Errorf("dlq: %w", errBoom)} }})
	r = broken.summary(t, true)
	assert.Equal(t, []any{"dlq"}, r.json["partial"])
	assert.Equal(t, "dlq: boom", get(r.json, "dlq", "error"))
	assert.Equal(t, admin.VerdictHealthy, r.json["verdict"])
}

func TestReportRoute(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/api/baldur/report/?date=today&days=2", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	days := r.json["days"].([]any)
	require.Len(t, days, 2)
	today := r.json["today"].(string)
	assert.Equal(t, today, get(days[0], "date"))
	assert.Equal(t, today+": All quiet — 0 processed, 0 alerts.", get(days[0], "text"))
	assert.Equal(t, "info", get(days[0], "report", "severity"))
	assert.Contains(t, get(days[1], "missing"), "no report stored")

	r = f.do(t, req{path: "/api/baldur/report/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	assert.Len(t, r.json["days"], 1, "today by default")

	for _, bad := range []string{"?date=2999-01-01", "?date=soon", "?days=0", "?days=x", "?days=91"} {
		r := f.do(t, req{path: "/api/baldur/report/" + bad, key: viewerKey})
		assert.Equal(t, http.StatusBadRequest, r.code, bad)
		assert.Equal(t, admin.GateInput, r.json["gate"], bad)
	}
	assert.Equal(t, http.StatusUnauthorized, f.do(t, req{path: "/api/baldur/report/"}).code, "reports need a key")
}
