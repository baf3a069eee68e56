package runtime

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

// admitted counts the calls z admits in a row before the first refusal.
func admitted(t *testing.T, z *Zone) (n int, err error) {
	t.Helper()
	ctx := context.Background()
	for n = 0; n < 10_000; n++ {
		var p Permit
		if p, err = z.Enter(ctx); err != nil {
			return n, err
		}
		z.Done(ctx, p, nil, 1)
	}
	t.Fatalf("zone %s admitted 10 000 calls without a refusal", z.Spec().Method)
	return n, nil
}

// Row "rate limits": from HIGH a token costs two, so a bucket admits half
// its calls (rate=100/h, burst=40: the local bucket holds 31 tokens beside
// the pool's batch of 10; at HIGH 15 go).
func TestHighHalvesEveryRateLimit(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	spec := func(m string) ZoneSpec {
		return ZoneSpec{Service: "ledger", Method: m, Breaker: true, Rate: "100/h", Burst: 40, RateBucket: "ledger." + m,
			Criticality: CriticalityHigh}
	}
	normal, high, back := rt.Zone(spec("Normal")), rt.Zone(spec("High")), rt.Zone(spec("Back"))

	n, err := admitted(t, normal)
	require.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 31, n, "NORMAL: the whole bucket")

	setLevel(t, rt, emergency.High)
	n, err = admitted(t, high)
	require.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 15, n, "HIGH: half the bucket")
	assert.True(t, high.shape.rate.Halved())

	setLevel(t, rt, emergency.Normal)
	n, err = admitted(t, back)
	require.ErrorIs(t, err, ErrRateLimited)
	assert.Equal(t, 31, n, "back at NORMAL: the whole bucket again")
}

// Row "adaptive concurrency": from HIGH the limit and its ceiling are
// halved; below HIGH the ceiling is whole again and the limit grows back as
// the latency allows.
func TestHighHalvesEveryAdaptiveConcurrencyLimit(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Concurrency: Adaptive, Criticality: CriticalityHigh})
	ctx := context.Background()
	require.Equal(t, int64(shapeDefaultInitial), z.shape.conc.Limit())

	setLevel(t, rt, emergency.High)
	assert.Equal(t, int64(shapeDefaultInitial/2), z.shape.conc.Limit(), "HIGH: half the limit")
	var held []Permit
	for range shapeDefaultInitial / 2 {
		p, err := z.Enter(ctx)
		require.NoError(t, err)
		held = append(held, p)
	}
	_, err := z.Enter(ctx) // waits in the short queue (50ms), then is refused
	var lim *ConcurrencyLimitedError
	require.ErrorAs(t, err, &lim, "HIGH: the call beyond half the limit is refused")
	assert.Equal(t, int64(shapeDefaultInitial/2), lim.Limit)
	for _, p := range held {
		z.Done(ctx, p, nil, 1)
	}
	late := rt.Zone(ZoneSpec{Service: "ledger", Method: "Late", Breaker: true, Concurrency: Adaptive, Criticality: CriticalityHigh})
	assert.Equal(t, int64(shapeDefaultInitial/2), late.shape.conc.Limit(), "a zone built at HIGH starts halved")

	setLevel(t, rt, emergency.Normal)
	assert.False(t, z.shape.conc.Halved(), "below HIGH the ceiling is whole again")
	shaping := rt.Shaping()
	require.Len(t, shaping, 2)
	assert.False(t, shaping[1].ConcurrencyHalved)
}

const shapeDefaultInitial = 20

// Row "retry budget": from ELEVATED the ratio and the floor are halved.
// 300 calls failing once each, retry=2, retry_budget=20% (floor 10 retries a
// second over 10 s, 100): about 0.2·300 + 100 = 160 retries at NORMAL, about
// 0.1·300 + 50 = 80 at ELEVATED.
func TestElevatedHalvesEveryRetryBudget(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	spec := func(m string) ZoneSpec {
		return ZoneSpec{Service: "ledger", Method: m, Breaker: true, Attempts: 2, RetryBudget: "20%",
			Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Microsecond}, Criticality: CriticalityHigh}
	}
	retries := func(z *Zone) int {
		n := 0
		for range 300 {
			_, a := call(context.Background(), z, func() error { return errBackend })
			n += a - 1
		}
		return n
	}
	normal, elevated := rt.Zone(spec("Normal")), rt.Zone(spec("Elevated"))
	r := retries(normal)
	assert.InDelta(t, 160, r, 3, "NORMAL: 20%% of the first attempts plus the floor")

	setLevel(t, rt, emergency.Elevated)
	r = retries(elevated)
	assert.InDelta(t, 80, r, 3, "ELEVATED: half the ratio and half the floor")
	assert.True(t, elevated.shape.budget.Shrunk())
	sh := rt.Shaping()
	require.Len(t, sh, 2)
	assert.True(t, sh[0].BudgetShrunk, "%+v", sh[0])
}

// retry_budget_scope=fleet: two runtimes on one store share the method's
// budget; Shaping shows it fleet-wide, with both processes in it.
func TestZoneFleetRetryBudgetIsSharedThroughTheStore(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	spec := ZoneSpec{Service: "ledger", Method: "Settle", Breaker: true, Attempts: 2, RetryBudget: "20%",
		RetryBudgetScope: RateScopeFleet, Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Microsecond}}
	var rts []*Runtime
	for range 2 {
		rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, rt.Close()) })
		rt.Zone(spec)
		rts = append(rts, rt)
	}
	require.Eventually(t, func() bool {
		sh := rts[0].Shaping()
		return len(sh) == 1 && sh[0].BudgetProcesses == 2
	}, 10*time.Second, 10*time.Millisecond, "both processes in the fleet's budget within a few syncs")
	sh := rts[0].Shaping()[0]
	assert.True(t, sh.BudgetFleet)
	assert.Equal(t, "20%", sh.RetryBudget)
	assert.Zero(t, sh.BudgetSyncErrs)
}
