package shape

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/clock"
)

func TestParsePercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"20%": 0.2, "0.5%": 0.005, "100%": 1, "1000%": 10} {
		got, err := ParsePercent(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-12, in)
	}
	for _, in := range []string{"20", "0%", "-5%", "1001%", "x%", "%"} {
		_, err := ParsePercent(in)
		assert.Error(t, err, in)
	}
}

func newBudget(t *testing.T, s BudgetSettings) *RetryBudget {
	t.Helper()
	b, err := NewRetryBudget(s)
	require.NoError(t, err)
	return b
}

func TestRetryBudgetAllowsItsShareOfTheCalls(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	b := newBudget(t, BudgetSettings{Ratio: 0.2, MinPerSecond: 0.1, Window: 10 * time.Second, Clock: c})
	// 1000 calls over 10s, every one failing: 20% of them, plus the floor of
	// 0.1/s × 10s = 1, may be retried.
	granted := 0
	for range 100 {
		for range 10 {
			b.Call()
			if b.TryRetry() {
				b.Call() // the retry's attempt
				granted++
			}
		}
		c.Advance(100 * time.Millisecond)
	}
	assert.InDelta(t, 201, granted, 12, "20%% of 1000 calls + 1")
	assert.Equal(t, uint64(granted), b.Stats().Granted)
	assert.Equal(t, uint64(1000-granted), b.Stats().Exhausted)
	assert.Equal(t, "20%", b.String())
}

func TestRetryBudgetFloorLetsAQuietServiceRetry(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	b := newBudget(t, BudgetSettings{Ratio: 0.2, Clock: c}) // 10/s over 10s: 100
	n := 0
	for b.TryRetry() {
		n++
		require.Less(t, n, 1000)
	}
	assert.Equal(t, 100, n, "the floor, with no calls at all")
	c.Advance(10 * time.Second)
	assert.True(t, b.TryRetry(), "the window has moved on")
}

func TestRetryBudgetStopsARetryStorm(t *testing.T) {
	t.Parallel()
	// retry=3 on a dependency that fails every call: without a budget 3×
	// the calls reach it; with 20% at most 1.2× (plus the floor).
	c := clock.NewFake(t0)
	b := newBudget(t, BudgetSettings{Ratio: 0.2, MinPerSecond: 1, Clock: c})
	sent := 0
	for range 60 { // a minute, 100 calls a second
		for range 100 {
			b.Call()
			sent++
			for attempt := 2; attempt <= 3 && b.TryRetry(); attempt++ {
				b.Call()
				sent++
			}
		}
		c.Advance(time.Second)
	}
	assert.LessOrEqual(t, sent, 6000*12/10+60*1+20, "load on the dependency")
	assert.Greater(t, sent, 6000)
}

func TestNewRetryBudgetRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []BudgetSettings{{}, {Ratio: 11}, {Ratio: 0.2, MinPerSecond: -1}, {Ratio: 0.2, Window: time.Millisecond}} {
		_, err := NewRetryBudget(s)
		assert.Error(t, err, "%+v", s)
	}
}

func TestRetryBudgetCallAllocatesNothing(t *testing.T) {
	b := newBudget(t, BudgetSettings{Ratio: 0.2})
	assert.Zero(t, testing.AllocsPerRun(1000, b.Call))
}

func BenchmarkRetryBudgetCall(b *testing.B) {
	r, err := NewRetryBudget(BudgetSettings{Ratio: 0.2})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		r.Call()
	}
}
