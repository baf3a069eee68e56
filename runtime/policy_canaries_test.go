package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bulkheadChargeSpec is payments.Charge with retry and a bulkhead, so that
// two config types (retry, bulkhead) can be canaries on it at once.
var bulkheadChargeSpec = ZoneSpec{Service: "payments", Method: "Charge", Breaker: false, Attempts: 2,
	Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Nanosecond}, Bulkhead: 50, BulkheadWait: 10 * time.Millisecond}

// TestTwoConfigTypesAreCanariesOfOneScopeAtOnce: a retry canary and a
// bulkhead canary on one method each split the calls by a draw of their
// own, so every call is counted in both rollouts' cohorts, each cohort
// holds its fraction, and a call runs with the variant of the canaries it
// is in.
func TestTwoConfigTypesAreCanariesOfOneScopeAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(bulkheadChargeSpec)
	p := rt.Policy()
	_, err := p.StageCanary(ctx, "retry-rollout", "payments.Charge", "retry=4", 500, "ops")
	require.NoError(t, err)
	_, err = p.StageCanary(ctx, "wait-rollout", "payments.Charge", "bulkhead_wait=40ms", 200, "ops")
	require.NoError(t, err)

	zp := z.pol.Load()
	require.Len(t, zp.canaries, 2)
	require.Len(t, zp.variants, 4, "one variant per combination of the two canaries")
	for mask, v := range zp.variants {
		retryIn, waitIn := mask&1 != 0, mask&2 != 0
		if zp.canaries[0].src.Rollout != "retry-rollout" {
			retryIn, waitIn = waitIn, retryIn
		}
		assert.Equal(t, map[bool]int{true: 4, false: 2}[retryIn], v.attempts, "variant %b: retry", mask)
		assert.Equal(t, map[bool]time.Duration{true: 40 * time.Millisecond, false: 10 * time.Millisecond}[waitIn], v.bulkheadWait,
			"variant %b: bulkhead_wait", mask)
	}

	boom := errors.New("boom")
	const calls = 4000
	attempts := 0
	for range calls {
		var pm Permit // as the generated loop does: a retry stays in its call's cohorts
		for attempt := 1; ; attempt++ {
			var err error
			pm, err = z.EnterNext(ctx, pm)
			require.NoError(t, err)
			attempts++
			if !z.Done(ctx, pm, boom, attempt) {
				break
			}
		}
	}
	for _, c := range []struct {
		rollout string
		share   float64
	}{{"retry-rollout", 0.5}, {"wait-rollout", 0.2}} {
		can, base, err := p.Cohorts(c.rollout)
		require.NoError(t, err)
		assert.EqualValues(t, attempts, can.Failures+base.Failures, "%s: every attempt is counted in its cohorts", c.rollout)
		// Attempts, not calls, are counted: the retry canary's calls make
		// four attempts, the others two, so its share is over attempts.
		got := float64(can.Failures) / float64(attempts)
		want := c.share
		if c.rollout == "retry-rollout" {
			want = 4 * 0.5 / (4*0.5 + 2*0.5)
		}
		assert.InDelta(t, want, got, 0.05, "%s: the canary's share of attempts", c.rollout)
	}
	// Half the calls take retry=4: 0.5*4 + 0.5*2 = 3 attempts per call on average.
	assert.InDelta(t, 3.0, float64(attempts)/calls, 0.15, "attempts per call")

	list, err := p.List("payments.Charge")
	require.NoError(t, err)
	require.Len(t, list[0].Canaries, 2)
	names := []string{list[0].Canaries[0].Rollout, list[0].Canaries[1].Rollout}
	assert.ElementsMatch(t, []string{"retry-rollout", "wait-rollout"}, names)

	// A third canary sharing a type with one of them is refused, and the
	// stored document does not change.
	before := p.Doc().Version
	_, err = p.StageCanary(ctx, "other", "payments.Charge", "retry=3 backoff=const(1ms)", 100, "ops")
	require.ErrorIs(t, err, ErrBadOverride)
	assert.ErrorContains(t, err, "canary retry-rollout already changes retry there")
	assert.Equal(t, before, p.Doc().Version, "nothing changed")

	// One ends; the other goes on with its counters.
	waitBefore, _, err := p.Cohorts("wait-rollout")
	require.NoError(t, err)
	require.NoError(t, p.ClearCanary(ctx, "retry-rollout", "ops"))
	require.Len(t, z.pol.Load().canaries, 1)
	waitAfter, _, err := p.Cohorts("wait-rollout")
	require.NoError(t, err)
	assert.Equal(t, waitBefore.Failures, waitAfter.Failures, "the other canary keeps its counters")
}

// TestAPermitOfAnotherStagingIsNotCounted: an attempt that entered under
// one staging and ends under another is left out of the new cohorts and
// runs with the baseline's settings.
func TestAPermitOfAnotherStagingIsNotCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(bulkheadChargeSpec)
	p := rt.Policy()
	_, err := p.StageCanary(ctx, "r", "payments.Charge", "retry=4", 1000, "ops")
	require.NoError(t, err)
	pm, err := z.Enter(ctx)
	require.NoError(t, err)
	require.NotZero(t, pm.cohort, "at 1000 permille the call is in the canary")
	_, err = p.StageCanary(ctx, "r", "payments.Charge", "retry=4", 999, "ops") // the next stage: counters start again
	require.NoError(t, err)
	assert.Equal(t, 2, z.pol.Load().settings(pm).attempts, "a permit of another staging runs the baseline")
	z.Done(ctx, pm, nil, 1)
	can, base, err := p.Cohorts("r")
	require.NoError(t, err)
	assert.Zero(t, can.Successes+base.Successes, "the attempt straddled the staging: counted in neither cohort")
}

// TestCanariesAllocateNothing: with two canaries staged on a zone, the
// success path (EnterNext, Done) allocates nothing.
func TestCanariesAllocateNothing(t *testing.T) {
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(bulkheadChargeSpec)
	p := rt.Policy()
	_, err := p.StageCanary(ctx, "a", "payments.Charge", "retry=4", 500, "ops")
	require.NoError(t, err)
	_, err = p.StageCanary(ctx, "b", "payments.Charge", "bulkhead_wait=20ms", 500, "ops")
	require.NoError(t, err)
	call := func() {
		var pm Permit
		for attempt := 1; ; attempt++ {
			var err error
			if pm, err = z.EnterNext(ctx, pm); err != nil {
				panic(err)
			}
			if !z.Done(ctx, pm, nil, attempt) {
				return
			}
		}
	}
	assert.Zero(t, testing.AllocsPerRun(1000, call), "allocations per call with two canaries staged")
}
