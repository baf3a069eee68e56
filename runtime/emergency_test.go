package runtime

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/store"
)

// emergencyRuntime is a runtime on a memory store whose level the test
// declares through emergency mode, as an operator would.
func emergencyRuntime(t *testing.T) *Runtime {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler), CallStats: true,
		Breaker: BreakerConfig{FailureThreshold: 1000}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	return rt
}

// setLevel moves the fleet's level to l: a declaration up, a forced release down.
func setLevel(t *testing.T, rt *Runtime, l emergency.Level) {
	t.Helper()
	ctx := context.Background()
	cur := rt.Emergency().Level()
	var err error
	switch {
	case l > cur:
		_, err = rt.Emergency().Declare(ctx, "test", l, "test declares "+l.String())
	case l < cur:
		_, err = rt.Emergency().ForceRelease(ctx, "test", l, emergency.Confirmation, "test releases")
	}
	require.NoError(t, err)
	require.Equal(t, l, rt.EmergencyLevel())
}

// call runs one protected call the way generated code does and returns the
// error and the number of attempts the inner function saw.
func call(ctx context.Context, z *Zone, inner func() error) (err error, attempts int) {
	for attempt := 1; ; attempt++ {
		var p Permit
		if p, err = z.Enter(ctx); err != nil {
			return err, attempts
		}
		attempts++
		err = inner()
		if !z.Done(ctx, p, err, attempt) {
			return err, attempts
		}
	}
}

var errBackend = errors.New("backend down")

// Row "retries": ELEVATED caps retry= at two attempts, HIGH turns retries off.
func TestEmergencyLevelCapsThenStopsRetries(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Attempts: 5,
		Backoff: backoff.Policy{Kind: backoff.Const, Base: time.Microsecond}, Criticality: CriticalityHigh})
	for _, tc := range []struct {
		level emergency.Level
		want  int
	}{
		{emergency.Normal, 5}, {emergency.Elevated, 2}, {emergency.High, 1}, {emergency.Critical, 1}, {emergency.Normal, 5},
	} {
		setLevel(t, rt, tc.level)
		err, n := call(context.Background(), z, func() error { return errBackend })
		require.ErrorIs(t, err, errBackend)
		assert.Equal(t, tc.want, n, "attempts at %s", tc.level)
	}
}

// Row "bulkheads": from HIGH every compartment admits half its size; permits
// held when the level rises are taken back as they are released.
func TestHighHalvesEveryBulkhead(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Bulkhead: 4, Criticality: CriticalityHigh})
	ctx := context.Background()
	hold := func(n int) (held []Permit, err error) {
		for range n {
			p, err := z.Enter(ctx)
			if err != nil {
				return held, err
			}
			held = append(held, p)
		}
		return held, nil
	}
	free := func(ps []Permit) {
		for _, p := range ps {
			z.Done(ctx, p, nil, 1)
		}
	}

	held, err := hold(4)
	require.NoError(t, err, "NORMAL: four slots")
	free(held)

	setLevel(t, rt, emergency.High)
	held, err = hold(3)
	require.Len(t, held, 2, "HIGH: two slots")
	var full *BulkheadFullError
	require.ErrorAs(t, err, &full)
	assert.Equal(t, int64(2), full.Max)
	assert.Equal(t, "bulkhead \"ledger\" is full (2/2 active)", full.Error())
	free(held)

	// Four held when the level rises: the first two released go to the reserve.
	setLevel(t, rt, emergency.Normal)
	held, err = hold(4)
	require.NoError(t, err)
	setLevel(t, rt, emergency.Critical)
	free(held[:3])
	b := compartment(t, rt, "ledger")
	assert.Equal(t, int64(1), b.Active())
	assert.Equal(t, int64(2), b.Limit())
	more, err := hold(2)
	require.Len(t, more, 1, "one of the two slots is held by the call still running")
	require.ErrorIs(t, err, ErrBulkheadFull)
	free(append(more, held[3]))

	setLevel(t, rt, emergency.Normal)
	held, err = hold(4)
	require.NoError(t, err, "below HIGH the compartment is whole again")
	assert.Equal(t, int64(4), b.Limit())
	free(held)
	assert.Zero(t, b.Active())
}

// Rows "shedding": HIGH fails fast criticality=low, CRITICAL every zone not
// marked criticality=high; the inner method is not called.
func TestEmergencyLevelShedsByCriticality(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	zones := map[string]*Zone{}
	for _, c := range []string{CriticalityHigh, "", CriticalityLow} {
		zones[criticalityOf(c)] = rt.Zone(ZoneSpec{Service: "svc_" + criticalityOf(c), Method: "Do", Breaker: true, Criticality: c})
	}
	for _, tc := range []struct {
		level emergency.Level
		shed  map[string]bool
	}{
		{emergency.Normal, map[string]bool{}},
		{emergency.Elevated, map[string]bool{}},
		{emergency.High, map[string]bool{"low": true}},
		{emergency.Critical, map[string]bool{"low": true, "normal": true}},
	} {
		setLevel(t, rt, tc.level)
		for crit, z := range zones {
			called := false
			err, _ := call(context.Background(), z, func() error { called = true; return nil })
			if tc.shed[crit] {
				require.ErrorIs(t, err, ErrShed, "%s at %s", crit, tc.level)
				var se *ShedError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, crit, se.Criticality)
				assert.Equal(t, tc.level, se.Level)
				assert.False(t, called, "a shed call never reaches the inner method")
			} else {
				require.NoError(t, err, "%s at %s", crit, tc.level)
				assert.True(t, called)
			}
		}
	}
	assert.Equal(t, uint64(3), rt.ShedCalls())
	setLevel(t, rt, emergency.Normal)
}

func TestShedInDryRunIsRecordedNotApplied(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "search", Method: "Find", Breaker: true, Criticality: CriticalityLow})
	_, err := rt.Control().StartDryRun(context.Background(), "test", "")
	require.NoError(t, err)
	setLevel(t, rt, emergency.Critical)
	err, n := call(context.Background(), z, func() error { return nil })
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	wh := rt.WouldHave()
	require.Len(t, wh, 1)
	assert.Equal(t, "emergency", wh[0].Policy)
	assert.Contains(t, wh[0].Reason, "emergency level CRITICAL sheds criticality low")
}

// The success path pays one atomic load for emergency mode and allocates nothing.
func TestEmergencyCheckAllocatesNothing(t *testing.T) {
	rt := emergencyRuntime(t)
	z := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
	setLevel(t, rt, emergency.High) // a level that does not shed this zone
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := z.Enter(ctx)
		if err == nil {
			z.Done(ctx, p, nil, 1)
		}
	})
	assert.Zero(t, allocs)
}

func compartment(t *testing.T, rt *Runtime, name string) *Bulkhead {
	t.Helper()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	b, ok := rt.compartments[name]
	require.True(t, ok, "no compartment %s", name)
	return b
}

// A compartment built while the level is HIGH starts at half its size.
func TestCompartmentBuiltAtHighStartsHalved(t *testing.T) {
	t.Parallel()
	rt := emergencyRuntime(t)
	setLevel(t, rt, emergency.High)
	rt.Zone(ZoneSpec{Service: "late", Method: "Do", Bulkhead: 6})
	assert.Equal(t, int64(3), compartment(t, rt, "late").Limit())
	for _, c := range rt.Snapshot().Compartments {
		assert.Equal(t, CompartmentSnapshot{Name: "late", Max: 6, Limit: 3}, c, "the snapshot shows the size in force")
	}
}

// An automatic change of level is an audit record of the runtime's, its
// reason the signal, written once by the process that made the change.
func TestAnAutomaticLevelChangeIsAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st := store.NewMemoryWith(store.MemoryOptions{Clock: c})
	t.Cleanup(func() { _ = st.Close() })
	rt, err := New(ctx, Config{Store: st, Clock: c, CallStats: true, Emergency: emergency.Config{Auto: true}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	for _, svc := range []string{"a", "b", "c", "d"} {
		rt.Zone(ZoneSpec{Service: svc, Method: "M", Breaker: true})
	}
	for _, svc := range []string{"a", "b"} {
		b, _ := rt.Breaker(svc)
		b.ForceOpen("test")
	}
	require.NoError(t, rt.Emergency().Tick(ctx))
	require.Equal(t, emergency.High, rt.EmergencyLevel(), "half the breakers open demands HIGH")

	require.NoError(t, rt.Audit().Sync(ctx))
	page, err := rt.Audit().List(ctx, audit.Query{Action: "emergency.*"})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	r := page.Records[0]
	assert.Equal(t, "emergency.auto.raise", r.Action)
	assert.Equal(t, audit.OperatorRuntime, r.Operator)
	assert.Equal(t, "HIGH", r.Target)
	assert.Equal(t, "NORMAL -> HIGH", r.Detail)
	assert.Contains(t, r.Reason, "breakers", "the reason is the signal")
}

// BenchmarkEmergencyCheck is what emergency mode adds to a call's success
// path: Enter's first branch, the level in force against the zone's
// threshold (two atomic loads and a compare), on a real zone at a level that
// does not shed it. README, Measured.
func BenchmarkEmergencyCheck(b *testing.B) {
	rt := newTestRuntime(b, Config{})
	z := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Breaker: true, Criticality: "high"})
	shed := 0
	for b.Loop() {
		if z.rt.emg.level.Load() >= z.shedAt.Load() {
			shed++
		}
	}
	if shed != 0 {
		b.Fatalf("%d calls left the fast path at NORMAL", shed)
	}
}
