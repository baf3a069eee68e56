package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/chaos"
)

// The canary controller stages, through the runtime's policy overrides, the
// first stage's share of calls, refuses what the engine refuses, and its
// panic button removes the canary; its step is an automated task.
func TestCanaryRolloutsGoThroughThePolicyOverrides(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{})
	rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3})
	ctx := context.Background()
	c := rt.Canary()
	require.NotNil(t, c)

	scope := canary.Scope{Kind: canary.ScopeMethod, Service: "payments", Method: "Charge"}
	r, err := c.Start(ctx, canary.Request{Scope: scope, Directive: "retry=5", Who: "ops"})
	require.NoError(t, err)
	assert.Equal(t, []string{canary.TypeRetry}, r.Types)
	doc := rt.Policy().Doc()
	got, ok := doc.Canary(r.ID)
	require.True(t, ok, "the first stage is a canary of the policy overrides")
	assert.Equal(t, 10, got.Permille, "1 %% is 10 calls in a thousand")

	for _, bad := range []struct{ directive, want string }{
		{"retry=", "retry"},
		{"cb_failure_threshold=3", "cb_failure_threshold"},
	} {
		_, err := c.Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "payments"}, Directive: bad.directive})
		var in *canary.InputError
		require.ErrorAs(t, err, &in, bad.directive)
		assert.Equal(t, "directive", in.Field)
		assert.Contains(t, in.Reason, bad.want)
	}
	_, err = c.Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "nowhere"}, Directive: "retry=2"})
	var in *canary.InputError
	require.ErrorAs(t, err, &in, "an unknown service is bad input")

	// timeout= is rolled out as a canary too, on a method whose code bounds its attempts.
	rt.Zone(ZoneSpec{Service: "quotes", Method: "Get", Timeout: 5 * time.Second})
	r, err = c.Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeMethod, Service: "quotes", Method: "Get"},
		Directive: "timeout=2s", Who: "ops"})
	require.NoError(t, err)
	assert.Equal(t, []string{canary.TypeTimeout}, r.Types)
	doc = rt.Policy().Doc()
	got, ok = doc.Canary(r.ID)
	require.True(t, ok)
	assert.Equal(t, "timeout=2s", got.Values)

	out, err := c.PanicRollback(ctx, "ops", "drill")
	require.NoError(t, err)
	require.Len(t, out, 2)
	doc = rt.Policy().Doc()
	_, ok = doc.Canary(r.ID)
	assert.False(t, ok, "the panic button removes the canary")

	names := rt.Scheduler().Names()
	assert.Contains(t, names, CanaryStepTask)
	assert.Contains(t, names, CanaryWatchdogTask)
	assert.Contains(t, names, CanarySyncTask)
}

// TestAChaosExperimentBlocksACanaryOfItsService: the runtime's fault
// injection is the canary's chaos guard, read at each check.
func TestAChaosExperimentBlocksACanaryOfItsService(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{})
	rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3})
	rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Attempts: 3})
	ctx := context.Background()
	_, err := rt.Chaos().Start(ctx, chaos.Spec{Service: "payments", ErrorPercent: 20, Duration: time.Minute, By: "ops", Reason: "game day"})
	require.NoError(t, err)

	_, err = rt.Canary().Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "payments"}, Directive: "retry=5", Who: "ops"})
	var blocked *canary.BlockedError
	require.ErrorAs(t, err, &blocked)
	assert.Equal(t, canary.GateChaos, blocked.Gate)
	assert.Contains(t, blocked.Reason, "payments")

	_, err = rt.Canary().Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "ledger"}, Directive: "retry=5", Who: "ops"})
	require.NoError(t, err, "an experiment on payments does not hold back a canary of ledger")

	_, err = rt.Chaos().Stop(ctx, "payments", "ops", "seen enough")
	require.NoError(t, err)
	_, err = rt.Canary().Start(ctx, canary.Request{Scope: canary.Scope{Kind: canary.ScopeService, Service: "payments"}, Directive: "retry=4", Who: "ops"})
	require.NoError(t, err, "the guard lifts with the experiment")

	// Both are on the plots' time axis, on their service's plot.
	kinds := map[string][]string{}
	for _, a := range rt.Series().Annotations() {
		kinds[a.Kind] = append(kinds[a.Kind], a.Service+": "+a.Reason)
	}
	require.Len(t, kinds["experiment"], 2, "%v", kinds)
	assert.Contains(t, kinds["experiment"][0], "payments: fault injection started: errors 20%")
	assert.Contains(t, kinds["experiment"][1], "payments: fault injection stopped")
	require.Len(t, kinds["canary"], 2, "%v", kinds)
	assert.Contains(t, kinds["canary"][0], "ledger: canary ")
	assert.Contains(t, kinds["canary"][0], "(retry=5) started at 1%")
	assert.Contains(t, kinds["canary"][1], "payments: canary ")
}
