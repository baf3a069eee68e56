package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/schedule"
)

// opsFixture is a handler, unlocked, on a runtime built with cfg.
func opsFixture(t *testing.T, cfg runtime.Config) *fixture {
	t.Helper()
	cfg.Logger, cfg.StateDir = quiet, t.TempDir()
	rt, err := runtime.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	h, err := admin.New(admin.Options{Runtime: rt, Security: admin.Security{Keys: keys(), Unlocked: true}, Port: "9090", Logger: quiet})
	require.NoError(t, err)
	return &fixture{rt: rt, ctl: rt.Control(), h: h}
}

// records lists the audit records of action, newest first.
func records(t *testing.T, f *fixture, action string) []audit.Record {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, f.rt.Audit().Sync(ctx))
	page, err := f.rt.Audit().List(ctx, audit.Query{Action: action})
	require.NoError(t, err)
	return page.Records
}

func TestNotifyShowsChannelsWithoutSecretsAndTestsThem(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(hook.Close)
	f := opsFixture(t, runtime.Config{Notify: notify.Config{WebhookURL: hook.URL + "/hooks/SECRET-TOKEN", Cooldown: -1}})

	r := f.do(t, req{path: "/api/baldur/notify/", key: viewerKey})
	require.Equal(t, 200, r.code, r.raw)
	assert.NotContains(t, r.raw, "SECRET", "a webhook URL's path is a secret")
	ch := get(r.json, "channels").([]any)
	require.Len(t, ch, 1)
	assert.Equal(t, "webhook", get(ch[0], "name"))
	assert.Equal(t, hook.URL+"/xxxxx", get(ch[0], "endpoint"), "scheme and host, the path masked")
	assert.Equal(t, "off", get(r.json, "guards", "cooldown"))

	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/notify/test/", key: operatorKey, body: `{}`})
	assert.Equal(t, http.StatusForbidden, r.code, "an admin's action: %s", r.raw)
	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/notify/test/", key: adminKey, body: `{"channel":"slack"}`})
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)
	assert.Contains(t, r.raw, `channel \"slack\" is not configured: configured are webhook`)
	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/notify/test/", key: adminKey, body: `{"reason":"new webhook"}`})
	require.Equal(t, 200, r.code, r.raw)
	assert.Equal(t, true, get(r.json, "ok"))
	assert.Equal(t, int32(1), hits.Load(), "one test alert went out")
	assert.NotContains(t, r.raw, "SECRET")

	r = f.do(t, req{path: "/api/baldur/notify/", key: viewerKey})
	assert.Equal(t, 1.0, get(get(r.json, "channels").([]any)[0], "delivered"))

	recs := records(t, f, "notify.test")
	require.Len(t, recs, 3, "every attempt is audited, refused or not")
	assert.Equal(t, audit.OutcomeOK, recs[0].Outcome)
	assert.Equal(t, "new webhook", recs[0].Reason)
	assert.Equal(t, "slack", recs[1].Target)
	assert.Equal(t, audit.OutcomeFailed, recs[1].Outcome)
	assert.Equal(t, audit.OutcomeRefused, recs[2].Outcome)
}

func TestNotifyTestWithoutChannelsSaysSo(t *testing.T) {
	t.Parallel()
	f := opsFixture(t, runtime.Config{})
	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/notify/test/", key: adminKey, body: `{}`})
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Contains(t, r.raw, "no alert channel is configured")
}

func TestScheduleRunRunsATaskNowAndRefusesAnAutomatedOneWhileTheGateBlocks(t *testing.T) {
	t.Parallel()
	f := opsFixture(t, runtime.Config{})
	var runs atomic.Int32
	require.NoError(t, f.rt.Schedule("canary.step", "@daily", func(context.Context) error { runs.Add(1); return nil },
		schedule.TaskOptions{Automated: true}))

	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/schedule/run/", key: adminKey, body: `{"task":"canary.step","reason":"now"}`})
	require.Equal(t, 200, r.code, r.raw)
	assert.Equal(t, "ok", get(r.json, "outcome"))
	assert.Equal(t, 1.0, get(r.json, "task", "runs"))
	assert.Equal(t, int32(1), runs.Load())

	_, err := f.rt.Emergency().Declare(context.Background(), "test", emergency.High, "incident")
	require.NoError(t, err)
	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/schedule/run/", key: adminKey, body: `{"task":"canary.step"}`})
	require.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Equal(t, admin.GateGovernance, get(r.json, "gate"))
	assert.Contains(t, get(r.json, "error"), "emergency", "the refusal names the check that blocks")
	assert.Equal(t, int32(1), runs.Load(), "the blocked run did not happen")

	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/schedule/run/", key: adminKey, body: `{"task":"nope"}`})
	assert.Equal(t, http.StatusNotFound, r.code, r.raw)
	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/schedule/run/", key: adminKey, body: `{}`})
	assert.Equal(t, http.StatusBadRequest, r.code, r.raw)

	recs := records(t, f, "schedule.run")
	require.Len(t, recs, 4)
	assert.Equal(t, audit.OutcomeRefused, recs[2].Outcome, "the governance gate's refusal")
	assert.Contains(t, recs[2].Detail, "governance: ")
	assert.Equal(t, "canary.step", recs[2].Target)
	assert.Equal(t, audit.OutcomeOK, recs[3].Outcome)
}

func TestLeaderStepDownAloneOnTheEmbeddedStoreIsRefused(t *testing.T) {
	t.Parallel()
	f := opsFixture(t, runtime.Config{})
	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/leader/step-down/", key: adminKey, body: `{"confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Contains(t, r.raw, "alone on its store")
	require.Len(t, records(t, f, "leader.step_down"), 1)
}

// Two runtimes on a private Redis: the leader's admin server steps it
// down, the other runtime takes the lease, and the step-down is audited;
// asked again, the process (now a follower) refuses, naming the leader.
func TestLeaderStepDownHandsTheLeaseToTheOtherProcess(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := runtime.Config{RedisURL: srv.URL(), Leader: runtime.LeaderConfig{Lease: time.Second}}
	a := opsFixture(t, cfg)
	b := opsFixture(t, cfg)
	require.True(t, a.rt.Leader().IsLeader(), "the first runtime leads")
	tok := a.rt.Leader().Status().Token

	r := a.do(t, req{method: http.MethodPost, path: "/api/baldur/leader/step-down/", key: adminKey, body: `{"reason":"drain node a"}`})
	assert.Equal(t, http.StatusForbidden, r.code, "CONFIRM is required: %s", r.raw)
	r = a.do(t, req{method: http.MethodPost, path: "/api/baldur/leader/step-down/", key: adminKey, body: `{"reason":"drain node a","confirm":"CONFIRM"}`})
	require.Equal(t, 200, r.code, r.raw)
	assert.Equal(t, float64(tok), get(r.json, "token"))
	assert.Equal(t, false, get(r.json, "leader", "leader"))

	deadline := time.Now().Add(await.Deadline)
	for !b.rt.Leader().IsLeader() {
		require.True(t, time.Now().Before(deadline), "b does not lead after a stepped down: %+v", b.rt.Leader().Status())
		time.Sleep(20 * time.Millisecond)
	}
	assert.Greater(t, b.rt.Leader().Status().Token, tok)
	assert.False(t, a.rt.Leader().IsLeader(), "a holds back for a lease")

	r = a.do(t, req{method: http.MethodPost, path: "/api/baldur/leader/step-down/", key: adminKey, body: `{"confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Equal(t, admin.GateLeader, get(r.json, "gate"))

	recs := records(t, a, "leader.step_down")
	require.Len(t, recs, 3)
	assert.Equal(t, audit.OutcomeOK, recs[1].Outcome)
	assert.Equal(t, "drain node a", recs[1].Reason)
}
