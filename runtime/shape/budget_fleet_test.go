package shape

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// failingTraffic sends perSecond[i] first attempts a second through bs[i]
// for seconds, every one failing and asking for one retry, and returns the
// retries each budget granted.
func failingTraffic(c *clock.Fake, perSecond []int, seconds int, bs ...*RetryBudget) []int {
	granted := make([]int, len(bs))
	for range seconds * 10 {
		for i, b := range bs {
			for range perSecond[i] / 10 {
				b.Call()
				if b.TryRetry() {
					b.Call()
					granted[i]++
				}
			}
		}
		c.Advance(100 * time.Millisecond)
	}
	return granted
}

// Two processes sharing a 20% budget (floor 10 retries a second over 10 s:
// 100), one sending 100 calls a second and one 20, for 10 s, every call
// failing. Alone, each retries 20% of its calls plus the whole floor (200 +
// 100 and 40 + 100: 440); sharing, the fleet retries 20% of its calls plus
// one floor (240 + 100 = 340), and the busier process gets the larger share.
func TestFleetRetryBudgetIsTheFleetsNotEachProcesss(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	c := clock.NewFake(t0)
	settings := func(node string) BudgetSettings {
		return BudgetSettings{Ratio: 0.2, Clock: c, Fleet: &BudgetFleetSettings{Store: st, Key: "budget:{fleet-test}", Node: node}}
	}
	a, b := newBudget(t, settings("a")), newBudget(t, settings("b"))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	require.True(t, a.Fleet())
	c.Advance(0) // the first sync runs as the budget is built

	g := failingTraffic(c, []int{100, 20}, 10, a, b)
	total := g[0] + g[1]
	t.Logf("fleet: a retried %d, b %d: %d in all", g[0], g[1], total)
	assert.LessOrEqual(t, total, 340, "20%% of the fleet's 1 200 calls + one floor of 100")
	assert.GreaterOrEqual(t, total, 300, "most of the fleet's budget is spent")
	assert.Greater(t, g[0], 2*g[1], "the busier process gets the larger share")
	sa := a.Stats()
	assert.Equal(t, int64(2), sa.Processes)
	assert.Zero(t, sa.SyncErrs)
	assert.GreaterOrEqual(t, sa.Syncs, uint64(10), "one sync a second")
	retries, allowed := a.Use()
	// The fleet's figures at the last sync, over the trailing window (the first second's retries are leaving it).
	assert.Greater(t, retries, int64(total/2), "Use answers the fleet's retries, not this process's")
	assert.LessOrEqual(t, retries, int64(total))
	assert.InDelta(t, 330, allowed, 30, "20%% of the fleet's first attempts in the window + the floor")

	// The same traffic through two budgets of their own.
	lc := clock.NewFake(t0)
	la, lb := newBudget(t, BudgetSettings{Ratio: 0.2, Clock: lc}), newBudget(t, BudgetSettings{Ratio: 0.2, Clock: lc})
	l := failingTraffic(lc, []int{100, 20}, 10, la, lb)
	t.Logf("alone: a retried %d, b %d: %d in all", l[0], l[1], l[0]+l[1])
	assert.InDelta(t, 440, l[0]+l[1], 15)
}

// While the store cannot be reached the process keeps the budget alone.
func TestFleetRetryBudgetKeepsTheBudgetAloneWithoutTheStore(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	c := clock.NewFake(t0)
	b := newBudget(t, BudgetSettings{Ratio: 0.2, Clock: c, Fleet: &BudgetFleetSettings{Store: st, Key: "budget:{down}", Node: "a"}})
	t.Cleanup(b.Close)
	require.NoError(t, st.Close())
	c.Advance(0)
	g := failingTraffic(c, []int{100}, 10, b)
	assert.InDelta(t, 300, g[0], 15, "20%% of its 1 000 calls + the floor, alone")
	assert.NotZero(t, b.Stats().SyncErrs)
}
