package admin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/control"
)

// TestControlDuringRedisOutageIs200AndPendingFleet: with the state in Redis
// and Redis killed, the kill switch still works. The change is in force at
// once, the API answers 200 with "pending_fleet": true, and the decision
// reaches Redis once it is back (here restarted empty).
func TestControlDuringRedisOutageIs200AndPendingFleet(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{RedisURL: srv.URL(), StateDir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	h, err := admin.New(admin.Options{Runtime: rt, Control: rt.Control(),
		Security: admin.Security{Keys: keys(), Unlocked: true}, Port: "9090", Logger: quiet})
	require.NoError(t, err)
	f := &fixture{rt: rt, ctl: rt.Control(), h: h}

	srv.Kill()
	require.Eventually(t, rt.Degraded, 5*time.Second, 5*time.Millisecond, "the store did not notice Redis was gone")

	r := f.do(t, req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey,
		body: `{"confirm":"CONFIRM","reason":"payments failing, redis down"}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, true, r.json["pending_fleet"])
	assert.False(t, rt.Enabled(), "the kill switch is in force in this process at once")
	r = f.do(t, req{method: "POST", path: "/api/baldur/control/dry-run/on/", key: adminKey,
		body: `{"confirm":"CONFIRM","reason":"rehearse"}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.True(t, rt.DryRun())

	r = f.do(t, req{path: "/api/baldur/control/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, true, get(r.json["control"], "pending_fleet"))

	srv.Restart()
	require.Eventually(t, func() bool { return !rt.Control().Status().PendingFleet }, 10*time.Second, 10*time.Millisecond,
		"the decisions did not reach Redis once it was back")
	raw, err := redistest.Client(t, srv.Addr()).Get(ctx, "baldur:"+control.StateKey).Bytes()
	require.NoError(t, err)
	s, err := control.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
	assert.Equal(t, control.DryRun, s.Mode)
	assert.Len(t, s.History, 2)
	assert.False(t, rt.Enabled())
	assert.True(t, rt.DryRun())
}
