package admin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/schedule"
)

func TestTheFleetRoutesShowTheLeaderTheTasksAndTheLoops(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	require.NoError(t, f.rt.Schedule("nightly", "0 3 * * *", func(context.Context) error { return nil }, schedule.TaskOptions{}))

	r := f.do(t, req{path: "/api/baldur/leader/", key: viewerKey})
	require.Equal(t, 200, r.code, r.raw)
	assert.Equal(t, true, get(r.json, "leader"), "alone on the embedded store, the process leads")
	assert.Equal(t, "always", get(r.json, "mode"))
	assert.Equal(t, 1.0, get(r.json, "token"))

	r = f.do(t, req{path: "/api/baldur/schedule/", key: viewerKey})
	require.Equal(t, 200, r.code, r.raw)
	names := []any{}
	for _, task := range get(r.json, "tasks").([]any) {
		names = append(names, get(task, "name"))
		if get(task, "name") == "nightly" {
			assert.Equal(t, "0 3 * * *", get(task, "spec"))
			assert.Equal(t, "leader", get(task, "scope"))
			assert.NotEmpty(t, get(task, "next_run"))
		}
	}
	assert.Contains(t, names, "nightly")
	assert.Contains(t, names, "dlq.retention")

	r = f.do(t, req{path: "/api/baldur/watchdog/", key: viewerKey})
	require.Equal(t, 200, r.code, r.raw)
	assert.Equal(t, true, get(r.json, "healthy"))
	loops := []any{}
	for _, l := range get(r.json, "loops").([]any) {
		loops = append(loops, get(l, "name"))
	}
	assert.Contains(t, loops, "leader_renewal")
	assert.Contains(t, loops, "dlq")

	r = f.do(t, req{path: "/api/baldur/health/?nocache=true", key: viewerKey})
	assert.Equal(t, "healthy", get(r.json, "checks", "watchdog", "status"))
}

func TestAFrozenLoopDegradesTheWatchdogHealthCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	_, err := f.rt.Watchdog().Register("stuck", 1, nil) // silent from the start: 1ns period
	require.NoError(t, err)
	f.rt.Watchdog().Check()
	r := f.do(t, req{path: "/api/baldur/health/?nocache=true", key: viewerKey})
	assert.Equal(t, "degraded", get(r.json, "status"))
	assert.Equal(t, "degraded", get(r.json, "checks", "watchdog", "status"))
	assert.Contains(t, get(r.json, "checks", "watchdog", "error"), "stuck failed")
}
