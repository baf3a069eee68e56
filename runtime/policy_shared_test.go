package runtime

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/policy"
	"github.com/baldur-go/baldur/runtime/store"
)

var (
	holdSpec   = ZoneSpec{Service: "payments", Method: "Hold", Breaker: true, Bulkhead: 4}
	refundSpec = ZoneSpec{Service: "payments", Method: "Refund", Breaker: true, Bulkhead: 4}
)

func sharedOf(t *testing.T, rt *Runtime, scope string) map[string]Setting {
	t.Helper()
	out := map[string]Setting{}
	for _, k := range []string{"breaker_threshold", "breaker_recovery", "bulkhead"} {
		out[k] = settingOf(t, rt, scope, k)
	}
	return out
}

// enterAll takes n permits of z, failing the test if one is refused.
func enterAll(t *testing.T, z *Zone, n int) []Permit {
	t.Helper()
	ps := make([]Permit, n)
	for i := range ps {
		var err error
		ps[i], err = z.Enter(context.Background())
		require.NoError(t, err, "permit %d of %d", i+1, n)
	}
	return ps
}

// Policies.Set on a service changes its breaker's threshold and recovery
// and its compartment's size; Unset restores them; List and Diff say where
// each comes from.
func TestPolicySetSharesBreakerAndBulkhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{Breaker: BreakerConfig{FailureThreshold: 50}})
	hold, refund := rt.Zone(holdSpec), rt.Zone(refundSpec)
	ledger := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Compartment: "database"})
	b, _ := rt.Breaker("payments")
	p := rt.Policy()

	assert.Equal(t, map[string]Setting{
		"breaker_threshold": {Key: "breaker_threshold", Value: "50", Source: "env", Directive: "50"},
		"breaker_recovery":  {Key: "breaker_recovery", Value: "1m", Source: "default", Directive: "1m"},
		"bulkhead":          {Key: "bulkhead", Value: "4", Source: "directive", Directive: "4"},
	}, sharedOf(t, rt, "payments.Hold"))

	_, err := p.Set(ctx, "payments", "breaker_threshold=3 breaker_recovery=30s bulkhead=2", "alice", "incident")
	require.NoError(t, err)
	l := b.Limits()
	assert.Equal(t, 3, l.FailureThreshold)
	assert.Equal(t, 30*time.Second, l.RecoveryTimeout)
	assert.Equal(t, 30*time.Second, l.HalfOpenMaxWait, "the half-open wait follows the recovery timeout")
	assert.Equal(t, int64(2), hold.bulkhead.Max())
	assert.Same(t, hold.bulkhead, refund.bulkhead, "the service's one compartment")
	assert.Equal(t, int64(10), ledger.bulkhead.Max(), "a registered compartment is not the service's")
	assert.Equal(t, Setting{Key: "bulkhead", Value: "2", Source: "override payments", Directive: "4"}, settingOf(t, rt, "payments.Refund", "bulkhead"))
	assert.Equal(t, Setting{Key: "breaker_threshold", Value: "3", Source: "override payments", Directive: "50"},
		settingOf(t, rt, "payments.Hold", "breaker_threshold"))

	diff, err := p.Diff("payments.Hold")
	require.NoError(t, err)
	var keys []string
	for _, c := range diff {
		keys = append(keys, c.Key+" "+c.Directive+"->"+c.Value)
	}
	assert.Equal(t, []string{"breaker_threshold 50->3", "breaker_recovery 1m->30s", "bulkhead 4->2"}, keys)

	// The compartment of 2 refuses a third call; three failures open the breaker.
	held := enterAll(t, hold, 2)
	_, err = refund.Enter(ctx)
	assert.ErrorIs(t, err, ErrBulkheadFull)
	for i, pm := range held {
		hold.Done(ctx, pm, errors.New("down"), 1)
		assert.Equal(t, breaker.Closed, b.State(), "failure %d", i+1)
	}
	_, _ = call(ctx, refund, func() error { return errors.New("down") })
	assert.Equal(t, breaker.Open, b.State(), "the third failure reaches the threshold of 3")
	b.Reset("test")

	// "*" reaches every service's own compartment; a narrower scope wins.
	_, err = p.Set(ctx, "*", "bulkhead=6 breaker_threshold=7", "alice", "")
	require.NoError(t, err)
	assert.Equal(t, int64(2), hold.bulkhead.Max(), "the service's override wins over *'s")
	require.NoError(t, p.Unset(ctx, "payments", "alice", "over"))
	assert.Equal(t, int64(6), hold.bulkhead.Max())
	assert.Equal(t, 7, b.Limits().FailureThreshold)
	assert.Equal(t, breaker.DefaultRecoveryTimeout, b.Limits().RecoveryTimeout, "back to the default")
	lb, _ := rt.Breaker("ledger")
	assert.Equal(t, 7, lb.Limits().FailureThreshold)
	require.NoError(t, p.Unset(ctx, "*", "alice", ""))
	assert.Equal(t, 50, b.Limits().FailureThreshold, "back to BALDUR_CB_FAILURE_THRESHOLD")
	assert.Equal(t, int64(4), hold.bulkhead.Max(), "back to the directive")

	// A zone built while an override is in force takes it.
	_, err = p.Set(ctx, "mail", "breaker_threshold=9", "alice", "")
	require.Error(t, err, "no zone of mail yet")
	_, err = p.Set(ctx, "*", "breaker_threshold=9 bulkhead=3", "alice", "")
	require.NoError(t, err)
	mail := rt.Zone(ZoneSpec{Service: "mail", Method: "Send", Breaker: true, Bulkhead: 5})
	mb, _ := rt.Breaker("mail")
	assert.Equal(t, 9, mb.Limits().FailureThreshold)
	assert.Equal(t, int64(3), mail.bulkhead.Max())

	// Refusals: one method, a canary, bulkhead=off, a service with no compartment of its own.
	for _, c := range []struct{ scope, values, want string }{
		{"payments.Hold", "breaker_recovery=10s", "breaker_recovery: cannot be overridden for one method: the service's breaker is shared by all the service's methods; override the service (payments) or *"},
		{"payments", "bulkhead=off", "bulkhead: cannot be switched off at run time"},
		{"ledger", "bulkhead=3", "bulkhead: no method in this scope has a compartment of its own (bulkhead=); a registered compartment (compartment=) is sized by"},
		{"payments", "breaker_threshold=0", "breaker_threshold: 0 is out of range; want 1..1000"},
	} {
		_, err := p.Set(ctx, c.scope, c.values, "alice", "")
		assert.ErrorIs(t, err, ErrBadOverride, "%s %s", c.scope, c.values)
		assert.ErrorContains(t, err, c.want, "%s %s", c.scope, c.values)
	}
	_, err = p.StageCanary(ctx, "r", "payments.Hold", "breaker_threshold=3", 100, "alice")
	assert.ErrorIs(t, err, ErrBadOverride)
	assert.ErrorContains(t, err, "breaker_threshold: cannot be overridden for one method")
	types, err := policyCanary{p}.Validate(canary.Scope{Kind: canary.ScopeService, Service: "payments"}, "bulkhead=3 breaker_threshold=4")
	require.NoError(t, err)
	assert.Equal(t, []string{canary.TypeBreaker, canary.TypeBulkhead}, types)
}

// A canary of the keys a service's methods share splits processes: a
// process in its cohort (a hash of its name and the rollout below the
// fraction) takes its values for every call, and counts every call in the
// canary cohort; a process out of it keeps the baseline and counts every
// call in the baseline cohort. A process in the cohort at one fraction stays
// in it at a larger one.
func TestASharedKeysCanarySplitsProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{Breaker: BreakerConfig{FailureThreshold: 50}})
	hold := rt.Zone(holdSpec)
	b, _ := rt.Breaker("payments")
	p := rt.Policy()
	const rollout = "shared-rollout"
	// The fraction at which this process joins the cohort.
	join := 0
	for join < 1000 && !rt.inProcessCohort(&policy.Canary{Rollout: rollout, Permille: join + 1}) {
		join++
	}
	calls := func(n int) {
		for range n {
			pm, err := hold.Enter(ctx)
			require.NoError(t, err)
			hold.Done(ctx, pm, nil, 1)
		}
	}

	if join > 0 { // out of the cohort below its fraction
		_, err := p.StageCanary(ctx, rollout, "payments", "breaker_threshold=3 bulkhead=9", join, "ops")
		require.NoError(t, err)
		assert.Equal(t, 50, b.Limits().FailureThreshold, "out of the cohort: the baseline")
		assert.Equal(t, int64(4), hold.bulkhead.Max())
		calls(20)
		can, base, err := p.Cohorts(rollout)
		require.NoError(t, err)
		assert.Zero(t, can.Successes)
		assert.EqualValues(t, 20, base.Successes, "every call of a process out of the cohort is the baseline's")
	}
	_, err := p.StageCanary(ctx, rollout, "payments", "breaker_threshold=3 bulkhead=9", join+1, "ops")
	require.NoError(t, err)
	assert.Equal(t, 3, b.Limits().FailureThreshold, "in the cohort: the canary's threshold")
	assert.Equal(t, int64(9), hold.bulkhead.Max(), "and its compartment size")
	assert.Equal(t, "canary "+rollout, sharedOf(t, rt, "payments.Hold")["bulkhead"].Source)
	calls(20)
	can, base, err := p.Cohorts(rollout)
	require.NoError(t, err)
	assert.EqualValues(t, 20, can.Successes, "every call of a process in the cohort is the canary's")
	assert.Zero(t, base.Successes)
	list, err := p.List("payments.Hold")
	require.NoError(t, err)
	require.Len(t, list[0].Canaries, 1)
	assert.True(t, list[0].Canaries[0].ByProcess)
	assert.True(t, list[0].Canaries[0].Member)

	_, err = p.StageCanary(ctx, rollout, "payments", "breaker_threshold=3 bulkhead=9", 1000, "ops")
	require.NoError(t, err)
	assert.Equal(t, 3, b.Limits().FailureThreshold, "a larger fraction keeps the process in")
	require.NoError(t, p.ClearCanary(ctx, rollout, "ops"))
	assert.Equal(t, 50, b.Limits().FailureThreshold, "cleared: the baseline again")
	assert.Equal(t, int64(4), hold.bulkhead.Max())
}

// An override resizes a compartment that emergency mode halves: the half
// is of the new size, and the running calls keep their permits.
func TestPolicyBulkheadResizeUnderEmergency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(holdSpec)
	setLevel(t, rt, emergency.High)
	assert.Equal(t, int64(2), z.bulkhead.Limit(), "HIGH halves a compartment of 4")
	held := enterAll(t, z, 2)
	_, err := rt.Policy().Set(ctx, "payments", "bulkhead=10", "alice", "")
	require.NoError(t, err)
	assert.Equal(t, int64(5), z.bulkhead.Limit(), "HIGH halves the compartment of 10")
	held = append(held, enterAll(t, z, 3)...)
	_, err = z.Enter(ctx)
	assert.ErrorIs(t, err, ErrBulkheadFull)
	_, err = rt.Policy().Set(ctx, "payments", "bulkhead=2", "alice", "")
	require.NoError(t, err)
	assert.Equal(t, int64(5), z.bulkhead.Active(), "the running calls keep their permits")
	for _, pm := range held {
		z.Done(ctx, pm, nil, 1)
	}
	assert.Equal(t, int64(1), z.bulkhead.Limit(), "HIGH halves the compartment of 2")
	setLevel(t, rt, emergency.Normal)
	assert.Equal(t, int64(2), z.bulkhead.Limit())
	enterAll(t, z, 2)
}

// Two zones of one service that disagree on the breaker's keys: the second
// is refused, naming both.
func TestBreakerKeysMustAgreeAcrossAService(t *testing.T) {
	t.Parallel()
	rt := newPolicyRuntime(t, Config{})
	a := ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, BreakerThreshold: 10, BreakerRecovery: 30 * time.Second}
	rt.Zone(a)
	b, _ := rt.Breaker("payments")
	assert.Equal(t, 10, b.Limits().FailureThreshold)
	assert.Equal(t, 30*time.Second, b.Limits().RecoveryTimeout)
	same := a
	same.Method = "Refund"
	_, err := rt.NewZone(same)
	require.NoError(t, err)
	off := ZoneSpec{Service: "payments", Method: "Ping"} // breaker=off: no breaker to agree on
	_, err = rt.NewZone(off)
	require.NoError(t, err)
	_, err = rt.NewZone(ZoneSpec{Service: "payments", Method: "Status", Breaker: true, BreakerThreshold: 20})
	require.Error(t, err)
	assert.Equal(t, `baldur: payments.Status: breaker_threshold=20 breaker_recovery=(unset) disagree with payments.Charge `+
		`(breaker_threshold=10 breaker_recovery=30s), which built service "payments"'s breaker first: one breaker serves the service; `+
		`write the same breaker keys on every interface named payments`, err.Error())
	_, known := rt.zones[zoneKey{"payments", "Status"}]
	assert.False(t, known, "the refused zone is not registered")
}

// An override set in one runtime reaches the breaker and the compartment of
// another on the same store within a second.
func TestPolicySharedFleetWithinOneSecond(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	open := func() *Runtime {
		rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, rt.Close()) })
		return rt
	}
	a, b := open(), open()
	a.Zone(holdSpec)
	z := b.Zone(holdSpec)
	br, _ := b.Breaker("payments")
	start := time.Now()
	_, err := a.Policy().Set(context.Background(), "payments", "breaker_threshold=12 bulkhead=9", "alice", "fleet")
	require.NoError(t, err)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for br.Limits().FailureThreshold != 12 || z.bulkhead.Max() != 9 {
		if time.Since(start) > time.Second {
			t.Fatalf("the override did not reach the other runtime within 1s: threshold %d, bulkhead %d", br.Limits().FailureThreshold, z.bulkhead.Max())
		}
		<-tick.C
	}
	t.Logf("the override reached the other runtime in %s", time.Since(start))
}

// With a shared override in force the success path still allocates nothing.
func TestSharedOverrideAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	z := rt.Zone(holdSpec)
	_, err := rt.Policy().Set(ctx, "payments", "breaker_threshold=10 breaker_recovery=5s bulkhead=20", "alice", "")
	require.NoError(t, err)
	require.Equal(t, int64(20), z.bulkhead.Max())
	allocs := testing.AllocsPerRun(1000, func() {
		if err, _ := call(ctx, z, func() error { return nil }); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "allocations per call with a shared override in force")
}

// Two zones sharing a compartment with different bulkhead= (two interfaces
// named alike): the compartment keeps the size it was built with, before
// and after an override.
func TestSharedCompartmentKeepsItsBuiltSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newPolicyRuntime(t, Config{})
	a := rt.Zone(holdSpec)
	other := refundSpec
	other.Bulkhead = 7
	b := rt.Zone(other)
	require.Same(t, a.bulkhead, b.bulkhead)
	assert.Equal(t, int64(4), a.bulkhead.Max(), "the first zone built it")
	_, err := rt.Policy().Set(ctx, "payments", "bulkhead=9", "alice", "")
	require.NoError(t, err)
	assert.Equal(t, int64(9), a.bulkhead.Max())
	require.NoError(t, rt.Policy().Unset(ctx, "payments", "alice", ""))
	assert.Equal(t, int64(4), a.bulkhead.Max(), "back to the size it was built with")
	assert.Equal(t, Setting{Key: "bulkhead", Value: "4", Source: "directive", Directive: "4"}, settingOf(t, rt, "payments.Refund", "bulkhead"))
}

// The breaker's keys on a service whose methods all have breaker=off.
func TestBreakerKeysRefusedWithoutABreaker(t *testing.T) {
	t.Parallel()
	rt := newPolicyRuntime(t, Config{})
	rt.Zone(ZoneSpec{Service: "mail", Method: "Send", Attempts: 2})
	_, err := rt.Policy().Set(context.Background(), "mail", "breaker_recovery=10s", "alice", "")
	assert.ErrorIs(t, err, ErrBadOverride)
	assert.ErrorContains(t, err, `scope "mail": the breaker's keys: no method in this scope has a breaker (breaker=off)`)
}
