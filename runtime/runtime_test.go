package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) {
	if os.Getenv(policyChildEnv) != "" {
		os.Exit(policyChild())
	}
	if os.Getenv(seriesChildEnv) != "" {
		os.Exit(seriesChild())
	}
	goleak.VerifyTestMain(m)
}

// vars is an environment of name, value pairs.
func vars(kv ...string) env.Lookup {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return env.Map(m)
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	cfg, err := configFromLookup(vars(
		"BALDUR_CB_FAILURE_THRESHOLD", "7",
		"BALDUR_CB_MINIMUM_CALLS", "20",
		"BALDUR_CB_WINDOW", "2m",
		"BALDUR_CB_RECOVERY_TIMEOUT", "30",
		"BALDUR_CB_HALF_OPEN_MAX_CALLS", "1",
		"BALDUR_CB_HALF_OPEN_MAX_WAIT", "0.5",
		"BALDUR_STATE_DIR", "/var/lib/baldur",
		"BALDUR_LOG_LEVEL", "debug",
		"BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS", "60",
		"BALDUR_REDIS_PREFIX", "app1:",
	))
	require.NoError(t, err)
	assert.Equal(t, BreakerConfig{
		FailureThreshold: 7, MinimumCalls: 20, Window: 2 * time.Minute, RecoveryTimeout: 30 * time.Second,
		HalfOpenMaxCalls: 1, HalfOpenMaxWait: 500 * time.Millisecond,
	}, cfg.Breaker)
	assert.Equal(t, "/var/lib/baldur", cfg.StateDir)
	assert.Equal(t, time.Minute, cfg.IdempotencyMemoryTTL)
	assert.Equal(t, "app1:", cfg.RedisPrefix)
	assert.True(t, cfg.CallStats, "FromEnv counts calls unless told not to")
	cfg, err = configFromLookup(vars("BALDUR_CALL_STATS", "off"))
	require.NoError(t, err)
	assert.False(t, cfg.CallStats)
	_, err = configFromLookup(vars("BALDUR_CALL_STATS", "sometimes"))
	require.ErrorContains(t, err, `BALDUR_CALL_STATS="sometimes": want on or off`)
	cfg, err = configFromLookup(vars("BALDUR_CALL_STATS", "0"))
	require.NoError(t, err)
	assert.False(t, cfg.CallStats, "0 reads as off, as for every boolean variable")
	require.NotNil(t, cfg.Logger)
	assert.True(t, cfg.Logger.Enabled(context.Background(), slog.LevelDebug))
}

func TestConfigFromEnvNamesEveryBadVariable(t *testing.T) {
	_, err := configFromLookup(vars(
		"BALDUR_CB_FAILURE_THRESHOLD", "five",
		"BALDUR_CB_RECOVERY_TIMEOUT", "-3s",
		"BALDUR_CB_WINDOW", "soon",
		"BALDUR_CB_HALF_OPEN_MAX_CALLS", "0",
		"BALDUR_LOG_LEVEL", "loud",
		"BALDUR_STATE_DIR", "  ",
		"BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS", "1.5",
		"BALDUR_REDIS_PREFIX", "a b",
		"BALDUR_DLQ_LEASE", "0",
	))
	require.Error(t, err)
	for _, want := range []string{
		`BALDUR_CB_FAILURE_THRESHOLD="five": want a whole number ≥ 1`,
		`BALDUR_CB_RECOVERY_TIMEOUT="-3s": want a positive duration`,
		`BALDUR_CB_WINDOW="soon": want a Go duration such as "30s" or a number of seconds`,
		`BALDUR_CB_HALF_OPEN_MAX_CALLS="0": want a whole number ≥ 1`,
		`BALDUR_LOG_LEVEL="loud": want debug, info, warn or error`,
		`BALDUR_STATE_DIR="  ": want a directory path`,
		`BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS="1.5": want whole seconds ≥ 1`,
		`BALDUR_REDIS_PREFIX="a b": want a non-empty prefix without spaces`,
		`BALDUR_DLQ_LEASE="0": want a positive duration`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewRejectsNegativeSettings(t *testing.T) {
	_, err := New(context.Background(), Config{Breaker: BreakerConfig{FailureThreshold: -1, RecoveryTimeout: -time.Second}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Breaker.FailureThreshold must be positive")
	assert.Contains(t, err.Error(), "Breaker.RecoveryTimeout must be positive")
}

func TestClassify(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want Outcome
	}{
		{"nil", live, nil, Success},
		{"plain error", live, boom, Failure},
		{"caller cancelled", gone, context.Canceled, Ignored},
		{"caller cancelled, wrapped", gone, fmt.Errorf("read: %w", context.Canceled), Ignored},
		{"deadline of our own timeout", live, context.DeadlineExceeded, Failure},
		{"cancelled while the caller is alive", live, context.Canceled, Failure},
		{"429", live, status(429), Failure},
		{"500", live, status(500), Failure},
		{"501", live, status(501), Success},
		{"503 wrapped", live, fmt.Errorf("get: %w", status(503)), Failure},
		{"404", live, status(404), Success},
		{"permanent 503", live, Permanent(status(503)), Failure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, classify(tc.ctx, tc.err, nil))
		})
	}
	t.Run("custom classifier decides first", func(t *testing.T) {
		c := func(err error) (Outcome, bool) { return Ignored, errors.Is(err, boom) }
		assert.Equal(t, Ignored, classify(live, boom, c))
		assert.Equal(t, Failure, classify(live, status(503), c), "falls through when it declines")
	})
}

type status int

func (s status) Error() string   { return fmt.Sprintf("status %d", int(s)) }
func (s status) StatusCode() int { return int(s) }

func TestPermanentKeepsTheErrorChain(t *testing.T) {
	assert.NoError(t, Permanent(nil))
	base := status(503)
	err := Permanent(base)
	assert.ErrorIs(t, err, ErrPermanent)
	var s status
	require.ErrorAs(t, err, &s)
	assert.Equal(t, base, s)
	assert.Equal(t, "status 503", err.Error())
}

// mustAcquire takes a slot and returns its stripe.
func mustAcquire(t *testing.T, bh *Bulkhead) uint16 {
	t.Helper()
	s, err := bh.acquire(context.Background())
	require.NoError(t, err)
	return s
}

func TestBulkheadWaitsForAFreedSlot(t *testing.T) {
	bh := newBulkhead("db", 1, time.Second)
	s := mustAcquire(t, bh)
	got := make(chan error, 1)
	go func() { _, err := bh.acquire(context.Background()); got <- err }()
	require.Eventually(t, func() bool { return bh.waiters.Load() == 1 }, time.Second, time.Millisecond)
	bh.release(s)
	require.NoError(t, await.Recv(t, got, "the waiter for a freed slot"), "the waiter takes the freed slot")
	assert.EqualValues(t, 1, bh.Active())
}

func TestBulkheadWaitTimesOutWithOccupancy(t *testing.T) {
	bh := newBulkhead("db", 2, 10*time.Millisecond)
	mustAcquire(t, bh)
	mustAcquire(t, bh)
	_, err := bh.acquire(context.Background())
	var full *BulkheadFullError
	require.ErrorAs(t, err, &full)
	assert.Equal(t, int64(2), full.Active)
	assert.GreaterOrEqual(t, full.Waited, 10*time.Millisecond)
	assert.Contains(t, err.Error(), `bulkhead "db" is full (2/2 active) after waiting`)
}

func TestBulkheadWakesEveryWaiterWhenSeveralSlotsFree(t *testing.T) {
	bh := newBulkhead("db", 3, 5*time.Second)
	var held []uint16
	for range 3 {
		held = append(held, mustAcquire(t, bh))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() { _, err := bh.acquire(context.Background()); errs <- err })
	}
	require.Eventually(t, func() bool { return bh.waiters.Load() == 3 }, time.Second, time.Millisecond)
	for _, s := range held {
		bh.release(s)
	}
	await.Wait(t, &wg, "every waiter of the bulkhead")
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestZoneSharesTheServiceBreakerAndIsIdempotent(t *testing.T) {
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	a := rt.Zone(ZoneSpec{Service: "s", Method: "A", Breaker: true})
	b := rt.Zone(ZoneSpec{Service: "s", Method: "B", Breaker: true, Bulkhead: 3})
	assert.Same(t, a, rt.Zone(ZoneSpec{Service: "s", Method: "A", Breaker: true}))
	assert.Same(t, a.breaker, b.breaker, "one breaker per service")
	assert.Equal(t, []string{"s"}, rt.BreakerNames())
	comps := rt.Snapshot().Compartments
	require.Len(t, comps, 1)
	assert.Equal(t, "s", comps[0].Name, "an interface-level bulkhead is named after the service")
	assert.EqualValues(t, 3, comps[0].Max)
	assert.Equal(t, []string{"breaker", "bulkhead"}, b.Spec().Policies())
	assert.Panics(t, func() { (*Runtime)(nil).Zone(ZoneSpec{}) })
}

func TestBreakerListenersHearEveryTransition(t *testing.T) {
	var got []string
	rt, err := New(context.Background(), Config{
		Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(),
		OnBreakerChange: func(tr breaker.Transition) { got = append(got, "config:"+tr.To.String()) },
	})
	require.NoError(t, err)
	defer rt.Close()
	rt.OnBreakerChange(func(tr breaker.Transition) { got = append(got, "a:"+tr.To.String()) })
	rt.OnBreakerChange(func(tr breaker.Transition) { got = append(got, "b:"+tr.To.String()) })
	rt.Zone(ZoneSpec{Service: "s", Method: "M", Breaker: true})
	b, _ := rt.Breaker("s")
	b.ForceOpen("test")
	assert.Equal(t, []string{"config:FORCED_OPEN", "a:FORCED_OPEN", "b:FORCED_OPEN"}, got)
}

func TestKillSwitchSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rt, err := New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: dir})
	require.NoError(t, err)
	_, err = rt.Control().Disable(ctx, "alice", "   ")
	require.Error(t, err, "a reason of only spaces is refused")
	require.True(t, rt.Enabled())
	_, err = rt.Control().Disable(ctx, "alice", "incident 42")
	require.NoError(t, err)
	require.False(t, rt.Enabled())
	require.NoError(t, rt.Close())

	rt, err = New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: dir})
	require.NoError(t, err)
	defer rt.Close()
	assert.False(t, rt.Enabled(), "the kill switch is read back from the state directory")
	h := rt.Control().History()
	require.NotEmpty(t, h)
	assert.Equal(t, "alice", h[0].Who)
	assert.Equal(t, "incident 42", h[0].Reason)
	_, err = rt.Control().GoLive(ctx, "bob", "confirm", "typo")
	require.Error(t, err, "going live needs CONFIRM exactly")
}

func TestBreakerStateSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rt, err := New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: dir})
	require.NoError(t, err)
	rt.Zone(ZoneSpec{Service: "s", Method: "M", Breaker: true})
	b, _ := rt.Breaker("s")
	b.ForceOpen("maintenance")
	require.Eventually(t, func() bool {
		h, err := rt.Store().HGetAll(ctx, breakerKey("s"))
		return err == nil && h["state"] == "FORCED_OPEN"
	}, 5*time.Second, 5*time.Millisecond, "the transition reaches the store in the background")
	require.NoError(t, rt.Close())

	rt, err = New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: dir})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(ZoneSpec{Service: "s", Method: "M", Breaker: true})
	b, _ = rt.Breaker("s")
	assert.Equal(t, breaker.ForcedOpen, b.State())
}

func TestCloseFlushesTheLastTransition(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rt, err := New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: dir})
	require.NoError(t, err)
	rt.Zone(ZoneSpec{Service: "s", Method: "M", Breaker: true})
	b, _ := rt.Breaker("s")
	b.ForceOpen("maintenance")
	require.Eventually(t, func() bool {
		h, err := rt.Store().HGetAll(ctx, breakerKey("s"))
		return err == nil && h["state"] == "FORCED_OPEN"
	}, 5*time.Second, 5*time.Millisecond)
	b.Auto("maintenance over")
	require.NoError(t, rt.Close(), "closing right after the transition")

	rt, err = New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: dir})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(ZoneSpec{Service: "s", Method: "M", Breaker: true})
	b, _ = rt.Breaker("s")
	assert.Equal(t, breaker.Closed, b.State(), "the restart must not adopt the state left before Close")
}

func TestMalformedRedisURLNamesTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"BALDUR_REDIS_URL", "http://127.0.0.1:6379"}, "BALDUR_REDIS_URL: redis url"},
		{[]string{"REDIS_URL", "redis://127.0.0.1:notaport"}, "REDIS_URL: redis url"},
		{[]string{"BALDUR_RESILIENT_STORAGE_REDIS_URL", "redis+cluster://", "BALDUR_REDIS_URL", "redis://127.0.0.1:6379"}, "BALDUR_RESILIENT_STORAGE_REDIS_URL: redis url"},
	} {
		_, err := configFromLookup(vars(tc.env...))
		require.Error(t, err, "%v", tc.env)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestRedisURLPrecedence(t *testing.T) {
	cfg, err := configFromLookup(vars("REDIS_URL", "redis://127.0.0.1:1", "BALDUR_REDIS_URL", "redis://127.0.0.1:2"))
	require.NoError(t, err)
	assert.Equal(t, "redis://127.0.0.1:2", cfg.RedisURL, "BALDUR_REDIS_URL wins over a bare REDIS_URL")
	cfg, err = configFromLookup(vars("REDIS_URL", "redis://127.0.0.1:1"))
	require.NoError(t, err)
	assert.Equal(t, "redis://127.0.0.1:1", cfg.RedisURL, "a bare REDIS_URL is honoured when BALDUR_REDIS_URL is unset")
	cfg, err = configFromLookup(vars("BALDUR_RESILIENT_STORAGE_REDIS_URL", "redis://127.0.0.1:3", "BALDUR_REDIS_URL", "redis://127.0.0.1:2"))
	require.NoError(t, err)
	assert.Equal(t, "redis://127.0.0.1:3", cfg.RedisURL, "the storage override wins where set")
}

func TestReconcileBreakersMostRestrictiveWins(t *testing.T) {
	ctx := context.Background()
	remote := store.NewMemory()
	defer remote.Close()
	t0 := time.Unix(1_700_000_000, 0)
	rec := func(s breaker.State, opened time.Time, node string) map[string]string {
		return breakerRecord{state: s, openedAt: opened, node: node}.fields()
	}
	seed := map[string]map[string]string{
		breakerKey("a"): rec(breaker.Closed, time.Time{}, "remote"),       // local OPEN beats remote CLOSED
		breakerKey("b"): rec(breaker.Open, t0, "remote"),                  // remote OPEN beats local HALF_OPEN
		breakerKey("c"): rec(breaker.Open, t0, "remote"),                  // the later opening wins: local
		breakerKey("d"): rec(breaker.Open, t0.Add(time.Minute), "remote"), // the later opening wins: remote
	}
	for k, v := range seed {
		require.NoError(t, remote.HSet(ctx, k, v))
	}
	local := map[string]map[string]string{
		breakerKey("a"): rec(breaker.Open, t0, "local"),
		breakerKey("b"): rec(breaker.HalfOpen, t0, "local"),
		breakerKey("c"): rec(breaker.Open, t0.Add(time.Second), "local"),
		breakerKey("d"): rec(breaker.Open, t0, "local"),
		breakerKey("e"): rec(breaker.HalfOpen, t0, "local"), // only written while degraded
		"other":         {"x": "1"},
	}
	require.NoError(t, reconcileBreakers(ctx, remote, local))
	want := map[string]string{"a": "local", "b": "remote", "c": "local", "d": "remote", "e": "local"}
	for name, node := range want {
		h, err := remote.HGetAll(ctx, breakerKey(name))
		require.NoError(t, err)
		assert.Equal(t, node, h["node"], "breaker %s", name)
	}
	h, err := remote.HGetAll(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, "1", h["x"], "other hashes are written as they are")
}

// TestReconcileBreakersForcedOpenIsTheMostRestrictive: an operator's
// FORCED_OPEN written on either side of an outage survives the merge, against
// every automatic state, whenever that state's episode began.
func TestReconcileBreakersForcedOpenIsTheMostRestrictive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	later := t0.Add(time.Hour)
	for _, other := range []breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open, breaker.ForcedClosed} {
		for _, forcedLocally := range []bool{true, false} {
			remote := store.NewMemory()
			forced := breakerRecord{state: breaker.ForcedOpen, openedAt: t0, node: "forced"}
			auto := breakerRecord{state: other, openedAt: later, node: "other"}
			seed, local := forced, auto
			if forcedLocally {
				seed, local = auto, forced
			}
			require.NoError(t, remote.HSet(ctx, breakerKey("x"), seed.fields()))
			require.NoError(t, reconcileBreakers(ctx, remote, map[string]map[string]string{breakerKey("x"): local.fields()}))
			h, err := remote.HGetAll(ctx, breakerKey("x"))
			require.NoError(t, err)
			assert.Equal(t, "FORCED_OPEN", h["state"], "FORCED_OPEN (written locally: %v) against %s opened later", forcedLocally, other)
			assert.Equal(t, "forced", h["node"])
			require.NoError(t, remote.Close())
		}
	}
}

func TestCallStatsSub(t *testing.T) {
	base := CallStats{Successes: 10, Failures: 4, Retries: 3, RetriedSuccesses: 2, Fallbacks: 1}
	cur := CallStats{Successes: 15, Failures: 4, Retries: 5, RetriedSuccesses: 3, Fallbacks: 0}
	d := cur.Sub(base)
	assert.Equal(t, []uint64{5, 0, 2, 1, 0}, []uint64{d.Successes, d.Failures, d.Retries, d.RetriedSuccesses, d.Fallbacks},
		"a counter below its base (Fallbacks) was restarted: its whole value counts")
}
