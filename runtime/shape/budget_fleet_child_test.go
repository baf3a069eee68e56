package shape

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
)

const (
	budgetChildEnv = "BALDUR_SHAPE_BUDGET_CHILD" // the Redis URL; the key, start and run as the rate test's

	budgetPerSecond = 100 // first attempts a second in each process, every one failing
	budgetChildren  = 3
)

// budgetChild is one process of the fleet budget test: from the agreed start
// it makes 100 first attempts a second for the agreed time, every one
// failing and asking the fleet-wide 20% budget (synced every 100ms) for a
// retry. It prints "calls <n> granted <n> syncs <n> errors <n>".
func budgetChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 2 }
	start, run, st, err := childFleet(budgetChildEnv)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	b, err := NewRetryBudget(BudgetSettings{Ratio: 0.2, Fleet: &BudgetFleetSettings{Store: st, Key: os.Getenv(fleetKeyEnv),
		Node: "child-" + strconv.Itoa(os.Getpid()), Sync: 100 * time.Millisecond}})
	if err != nil {
		return fail(err)
	}
	time.Sleep(time.Until(start))
	tick := time.NewTicker(time.Second / budgetPerSecond)
	calls, granted := 0, 0
	for end := start.Add(run); time.Now().Before(end); <-tick.C {
		calls++
		b.Call()
		if b.TryRetry() {
			b.Call()
			granted++
		}
	}
	tick.Stop()
	b.Close()
	s := b.Stats()
	fmt.Printf("calls %d granted %d syncs %d errors %d\n", calls, granted, s.Syncs, s.SyncErrs)
	return 0
}

// TestFleetRetryBudgetAcrossThreeProcessesOnAPrivateRedis starts three
// processes sharing one 20% retry budget on a private redis-server, every
// call failing: together they retry 20% of the fleet's first attempts plus
// one floor (100), where each alone would retry 20% of its own plus a
// whole floor.
func TestFleetRetryBudgetAcrossThreeProcessesOnAPrivateRedis(t *testing.T) {
	srv := redistest.Start(t)
	run := 3 * time.Second
	start := time.Now().Add(2 * time.Second) // time for the three to start and connect
	lines := runFleetChildren(t, budgetChildren, "budget child", start, run, budgetChildEnv+"="+srv.URL(), fleetKeyEnv+"=budget:{fleet-test}")
	var calls, granted int64
	for i, line := range lines {
		f := strings.Fields(line)
		require.Len(t, f, 8, "child said %q", line)
		c, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		g, err := strconv.ParseInt(f[3], 10, 64)
		require.NoError(t, err)
		assert.Equal(t, "0", f[7], "no sync failed: %s", line)
		t.Logf("process %d: %s", i, line)
		calls += c
		granted += g
	}
	fleet := 0.2*float64(calls) + DefaultBudgetMinPerSecond*DefaultBudgetWindow.Seconds()
	alone := 0.2*float64(calls) + budgetChildren*DefaultBudgetMinPerSecond*DefaultBudgetWindow.Seconds()
	t.Logf("fleet retried %d of %d failing calls: the fleet's budget %.0f, each process alone %.0f", granted, calls, fleet, alone)
	assert.LessOrEqual(t, float64(granted), fleet*1.1, "within a tenth of the fleet's budget")
	assert.GreaterOrEqual(t, float64(granted), fleet*0.7, "most of the fleet's budget is spent")
}
