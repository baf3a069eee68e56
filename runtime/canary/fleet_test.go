package canary_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/store"
)

// node is one process of the fleet: its own Redis client, override engine
// and controller following the change feed.
type node struct {
	st  *store.Redis
	eng *fakeEngine
	c   *canary.Controller
}

func openNode(t *testing.T, url, name string) *node {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, url, store.RedisOptions{Prefix: "canary-test:", Logger: quietLogger()})
	require.NoError(t, err)
	n := &node{st: st, eng: newFakeEngine()}
	n.c, err = canary.New(canary.Options{Store: st, Overrides: n.eng, Clock: clock.NewFake(t0), Logger: quietLogger(), Node: name,
		Gates: canary.Gates{
			KillSwitchEngaged: func() bool { return false },
			Emergency:         func() emergency.Level { return emergency.Normal },
			Governance: func(_ context.Context, a governance.Action) governance.Decision {
				return governance.Decision{Action: a.Name, Allowed: true}
			},
		}})
	require.NoError(t, err)
	require.NoError(t, n.c.Follow(ctx))
	t.Cleanup(func() {
		n.c.Close()
		_ = st.Close()
	})
	return n
}

// waitFor waits, with a deadline, until cond holds on n's engine.
func (n *node) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		await.Signal(t, n.eng.changed, what)
	}
}

func TestPanicRollbackReachesTwoProcesses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := openNode(t, srv.URL(), "a"), openNode(t, srv.URL(), "b")
	ctx := context.Background()
	ledger := canary.Scope{Kind: canary.ScopeService, Service: "ledger"}

	r1, err := a.c.Start(ctx, canary.Request{Scope: charge, Directive: "retry=5", Who: "ops"})
	require.NoError(t, err)
	r2, err := a.c.Start(ctx, canary.Request{Scope: ledger, Directive: "bulkhead=3", Who: "ops"})
	require.NoError(t, err)
	frac, ok := a.eng.Staged(r1)
	require.True(t, ok, "the starting process stages the canary")
	assert.InDelta(t, 0.01, frac, 1e-9)
	// These engines are each one process's: b takes the canaries as the
	// runtime's fleet-wide engine would hand them over.
	require.NoError(t, b.eng.Stage(ctx, r1, 0.01))
	require.NoError(t, b.eng.Stage(ctx, r2, 0.01))

	// The leader (a) judges on the figures of both processes.
	a.eng.feed(charge, 300, 0, 0, 3000, 0, 0)
	b.eng.feed(charge, 200, 0, 0, 2000, 0, 0)
	require.NoError(t, a.c.Sync(ctx))
	require.NoError(t, b.c.Sync(ctx))
	require.NoError(t, a.c.Step(ctx))
	got, err := a.c.Get(ctx, r1.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 500, got.Canary.Calls, "the cohorts are summed over the fleet")
	assert.EqualValues(t, 5000, got.Baseline.Calls)

	// The button is pressed on b; both processes clear both canaries, a
	// through the change feed.
	out, err := b.c.PanicRollback(ctx, "ops", "revert everything")
	require.NoError(t, err)
	assert.Len(t, out, 2)
	assert.Zero(t, b.eng.stagedCount(), "the process that pressed it at once")
	a.waitFor(t, "process a clears both canaries from the change feed", func() bool { return a.eng.stagedCount() == 0 })
	for _, id := range []string{r1.ID, r2.ID} {
		got, err := a.c.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, canary.StateRolledBack, got.State)
	}
}
