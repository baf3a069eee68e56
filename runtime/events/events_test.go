package events_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/behaviour"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/events"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// capture is a slog.Handler that keeps every record it is given.
type capture struct {
	level slog.Level
	mu    *sync.Mutex
	recs  *[]slog.Record
	attrs []slog.Attr
}

func newCapture(level slog.Level) *capture {
	return &capture{level: level, mu: new(sync.Mutex), recs: new([]slog.Record)}
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }

func (c *capture) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(c.attrs...)
	c.mu.Lock()
	*c.recs = append(*c.recs, r)
	c.mu.Unlock()
	return nil
}

func (c *capture) WithAttrs(as []slog.Attr) slog.Handler {
	d := *c
	d.attrs = append(slices.Clip(c.attrs), as...)
	return &d
}

func (c *capture) WithGroup(string) slog.Handler { return c }

// levels returns the level each event was written at.
func (c *capture) levels() map[string]slog.Level {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]slog.Level{}
	for _, r := range *c.recs {
		out[r.Message] = r.Level
	}
	return out
}

func (c *capture) find(msg string) (slog.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range *c.recs {
		if r.Message == msg {
			return r, true
		}
	}
	return slog.Record{}, false
}

func attr(r slog.Record, key string) (slog.Value, bool) {
	var v slog.Value
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v, found = a.Value, true
			return false
		}
		return true
	})
	return v, found
}

func TestLevelForFollowsTheSuffix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logged slog.Level
		want   slog.Level
	}{
		{"cb.share_failed", slog.LevelInfo, slog.LevelWarn},
		{"cb.share_failed", slog.LevelDebug, slog.LevelWarn},
		{"cb.share_failed", slog.LevelError, slog.LevelError}, // at least WARN: ERROR stays
		{"bulkhead.call_blocked", slog.LevelInfo, slog.LevelWarn},
		{"timeout.attempt_timeout", slog.LevelDebug, slog.LevelWarn},
		{"retry.attempts_exhausted", slog.LevelInfo, slog.LevelWarn},
		{"store.write_error", slog.LevelWarn, slog.LevelError},
		{"cb.state_changed", slog.LevelWarn, slog.LevelInfo},
		{"control.state_updated", slog.LevelDebug, slog.LevelInfo},
		{"protect.composer_built", slog.LevelDebug, slog.LevelDebug}, // no rule: kept
		{"dlq.entry_parked", slog.LevelWarn, slog.LevelWarn},
		{"request failed", slog.LevelInfo, slog.LevelInfo},           // free text is not an event name
		{"upload_failed", slog.LevelInfo, slog.LevelInfo},            // no component
		{"cb.state_changed_later", slog.LevelDebug, slog.LevelDebug}, // suffix must end the name
	} {
		assert.Equal(t, tc.want, events.LevelFor(tc.name, tc.logged), "%s logged at %s", tc.name, tc.logged)
	}
	assert.Equal(t, "cb", events.Family("cb.state_changed"))
	assert.Equal(t, "dlq", events.Family("dlq.entry_parked"))
	assert.Equal(t, "", events.Family("hello world"))
}

func TestHandlerAppliesTheGlobalLevelAndFamilyOverrides(t *testing.T) {
	capt := newCapture(slog.LevelDebug)
	log := slog.New(events.New(capt, events.Options{
		Level:    slog.LevelInfo,
		Families: map[string]slog.Leveler{"cb": slog.LevelWarn, "dlq": slog.LevelDebug},
	}))
	ctx := context.Background()
	log.Info("cb.state_changed")                        // INFO, cb threshold WARN: dropped
	log.Info("cb.share_failed")                         // raised to WARN: kept
	log.Debug("dlq.entry_parked")                       // dlq threshold DEBUG: kept
	log.Debug("retry.attempt_scheduled")                // global INFO: dropped
	log.Info("store.degraded_entered")                  // kept at INFO
	log.Warn("control.state_updated")                   // lowered to INFO: kept (global INFO)
	log.Log(ctx, slog.LevelInfo, "admin.request_error") // raised to ERROR
	log.Info("hello from the app")                      // free text, global threshold: kept
	log.Debug("debugging the app")                      // dropped

	assert.Equal(t, map[string]slog.Level{
		"cb.share_failed":        slog.LevelWarn,
		"dlq.entry_parked":       slog.LevelDebug,
		"store.degraded_entered": slog.LevelInfo,
		"control.state_updated":  slog.LevelInfo,
		"admin.request_error":    slog.LevelError,
		"hello from the app":     slog.LevelInfo,
	}, capt.levels())

	h := events.New(capt, events.Options{Level: slog.LevelWarn, Families: map[string]slog.Leveler{"cb": slog.LevelDebug}})
	assert.True(t, h.Enabled(ctx, slog.LevelDebug), "a family at DEBUG makes DEBUG records reach Handle")
	assert.Equal(t, slog.LevelDebug, events.Options{Level: slog.LevelWarn, Families: map[string]slog.Leveler{"cb": slog.LevelDebug}}.Floor())
	assert.Equal(t, slog.LevelInfo, events.Options{}.Floor())
}

func TestWrapKeepsTheUserHandlersLevel(t *testing.T) {
	capt := newCapture(slog.LevelWarn)
	log := slog.New(events.Wrap(capt)).With("app", "shop")
	log.Info("cb.share_failed")      // raised to WARN: the user's handler takes it
	log.Warn("cb.state_changed")     // lowered to INFO: below the user's WARN
	log.Info("dlq.entry_parked")     // INFO: below
	log.Error("store.wal_truncated") // kept
	assert.Equal(t, map[string]slog.Level{"cb.share_failed": slog.LevelWarn, "store.wal_truncated": slog.LevelError}, capt.levels())
	r, ok := capt.find("cb.share_failed")
	require.True(t, ok)
	v, ok := attr(r, "app")
	require.True(t, ok, "WithAttrs reaches the inner handler")
	assert.Equal(t, "shop", v.String())
}

func TestFromEnvNamesEveryBadVariable(t *testing.T) {
	env := map[string]string{
		"BALDUR_LOG_LEVEL":                   "loud",
		"BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL": "debug",
		"BALDUR_EVENT_LOGGING_DLQ_LOG_LEVEL": "verbose",
		"BALDUR_EVENT_LOGGING_REPLAY_LEVEL":  "info",
		"BALDUR_EVENT_LOGGING_SLA_LOG_LEVEL": "warning",
		"BALDUR_EVENT_LOGGING_CB_LOG_LEVEL":  "ERROR",
		"UNRELATED":                          "x",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	_, set, err := events.FromEnv(lookup, environ)
	require.Error(t, err)
	assert.True(t, set)
	for _, want := range []string{
		`BALDUR_LOG_LEVEL="loud": want debug, info, warn or error`,
		`BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL="debug": no event family "cbb"; known families: admin, audit, cache, canary, cb, chaos, concurrency, control,`,
		`BALDUR_EVENT_LOGGING_DLQ_LOG_LEVEL="verbose": want debug, info, warn or error`,
		`BALDUR_EVENT_LOGGING_REPLAY_LEVEL="info": not a baldur variable; per-family overrides are named BALDUR_EVENT_LOGGING_<FAMILY>_LOG_LEVEL`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Contains(t, err.Error(), `BALDUR_EVENT_LOGGING_SLA_LOG_LEVEL="warning": baldur has no latency objectives (SLA) and logs no sla events, so this override would do nothing`)
	assert.NotContains(t, err.Error(), "BALDUR_EVENT_LOGGING_CB_LOG_LEVEL", "a good override is not reported")

	delete(env, "BALDUR_LOG_LEVEL")
	delete(env, "BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL")
	delete(env, "BALDUR_EVENT_LOGGING_DLQ_LOG_LEVEL")
	delete(env, "BALDUR_EVENT_LOGGING_REPLAY_LEVEL")
	delete(env, "BALDUR_EVENT_LOGGING_SLA_LOG_LEVEL")
	env["BALDUR_EVENT_LOGGING_REPLAY_LOG_LEVEL"] = "warning"
	environ = append(environ, "BALDUR_EVENT_LOGGING_REPLAY_LOG_LEVEL=warning")
	opts, set, err := events.FromEnv(lookup, environ) // environ still lists the deleted names: lookup decides
	require.NoError(t, err)
	assert.True(t, set)
	assert.Nil(t, opts.Level)
	assert.Equal(t, slog.LevelWarn, opts.Families["replay"].Level())
	assert.Equal(t, slog.LevelError, opts.Families["cb"].Level())

	_, set, err = events.FromEnv(func(string) (string, bool) { return "", false }, nil)
	require.NoError(t, err)
	assert.False(t, set)
}

func TestRuntimeFromEnvRefusesATypoedFamily(t *testing.T) {
	t.Setenv("BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL", "debug")
	_, err := runtime.ConfigFromEnv()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL")
	assert.Contains(t, err.Error(), `no event family "cbb"`)

	t.Setenv("BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL", "")
	_, err = runtime.ConfigFromEnv()
	require.Error(t, err, "an empty typo is still a typo")
}

func TestRuntimeFromEnvInstallsTheHandler(t *testing.T) {
	t.Setenv("BALDUR_LOG_LEVEL", "warn")
	t.Setenv("BALDUR_EVENT_LOGGING_CB_LOG_LEVEL", "debug")
	cfg, err := runtime.ConfigFromEnv()
	require.NoError(t, err)
	h, ok := cfg.Logger.Handler().(*events.Handler)
	require.True(t, ok, "FromEnv logs through events.Handler, got %T", cfg.Logger.Handler())
	ctx := context.Background()
	assert.True(t, h.Enabled(ctx, slog.LevelDebug))
	assert.IsType(t, &slog.TextHandler{}, h.Inner())
	assert.True(t, h.Inner().Enabled(ctx, slog.LevelDebug), "the text handler lets the lowest threshold through")
}

// failingPricer fails every call.
type failingPricer struct{}

var errDown = errors.New("pricer down")

func (failingPricer) Price(context.Context, string) (behaviour.Quote, error) {
	return behaviour.Quote{}, errDown
}
func (failingPricer) Slow(context.Context, string) (behaviour.Quote, error) {
	return behaviour.Quote{}, errDown
}
func (failingPricer) Limited(context.Context, string) error { return errDown }
func (failingPricer) Hot(context.Context, int) (int, error) { return 0, errDown }
func (failingPricer) Plain(context.Context) error           { return errDown }
func (failingPricer) Count() int                            { return 0 }

// TestRuntimeEventsThroughAGeneratedWrapper drives the generated Pricer
// wrapper until its breaker opens and checks the events the runtime wrote.
func TestRuntimeEventsThroughAGeneratedWrapper(t *testing.T) {
	capt := newCapture(slog.LevelDebug)
	log := slog.New(events.New(capt, events.Options{Level: slog.LevelDebug}))
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: log, Store: store.NewMemory(),
		Breaker: runtime.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: time.Hour}})
	require.NoError(t, err)
	defer rt.Close()
	p := behaviour.NewProtectedPricer(failingPricer{}, rt)
	ctx := context.Background()
	for range 3 {
		q, err := p.Price(ctx, "ACME") // retried, then the fallback answers
		require.NoError(t, err)
		require.Equal(t, int64(-1), q.Cents)
	}

	lv := capt.levels()
	assert.Equal(t, slog.LevelInfo, lv["runtime.instance_started"])
	assert.Equal(t, slog.LevelDebug, lv["protect.composer_built"])
	assert.Equal(t, slog.LevelDebug, lv["retry.attempt_scheduled"])
	assert.Equal(t, slog.LevelInfo, lv["cb.state_changed"])

	r, ok := capt.find("cb.state_changed")
	require.True(t, ok)
	for k, want := range map[string]string{"service": "pricer", "from": "CLOSED", "to": "OPEN"} {
		v, ok := attr(r, k)
		require.True(t, ok, k)
		assert.Equal(t, want, v.String(), k)
	}
	// One composer_built per method, listing its policies.
	var built []string
	capt.mu.Lock()
	for _, rec := range *capt.recs {
		if rec.Message == "protect.composer_built" {
			m, _ := attr(rec, "method")
			pol, _ := attr(rec, "policies")
			built = append(built, m.String()+"="+strings.Trim(pol.String(), "[]"))
		}
	}
	capt.mu.Unlock()
	assert.Contains(t, built, "Price=breaker retry fallback")
	assert.Contains(t, built, "Slow=breaker timeout")
	assert.Len(t, built, 5)
}

// BenchmarkDroppedDebug measures what a DEBUG event below every threshold
// costs: slog builds the record (Enabled cannot see the name), Handle drops it.
func BenchmarkDroppedDebug(b *testing.B) {
	log := slog.New(events.New(newCapture(slog.LevelDebug), events.Options{Level: slog.LevelInfo}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		log.LogAttrs(ctx, slog.LevelDebug, "retry.attempt_scheduled", slog.String("service", "pricer"), slog.Int("attempt", 1))
	}
}
