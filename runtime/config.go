package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/events"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/idem"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/store"
)

// Config is what New needs. The zero value is valid: every zero field takes the
// default written beside it.
type Config struct {
	Breaker BreakerConfig
	// StateDir is where the embedded store keeps its files. Default ".baldur".
	StateDir string
	// RedisURL, when set, puts the shared state in Redis (redis://, rediss://,
	// redis+sentinel://, redis+cluster://), with the embedded store under
	// StateDir serving in DEGRADED mode while Redis is unreachable.
	RedisURL string
	// RedisPrefix starts every key and channel in Redis. Default "baldur:"
	// (BALDUR_REDIS_PREFIX). Runtimes that share state must share it.
	RedisPrefix string
	// Audit configures the audit trail; its zero value is on, in the store.
	Audit AuditConfig
	// Store, when set, is used as it is (and not closed by Close); RedisURL and
	// StateDir are then ignored. Tests pass store.NewMemory().
	Store store.Store
	// Logger receives the runtime's events ({component}.{entity}_{action}).
	// Default: slog.Default() at the level of BALDUR_LOG_LEVEL (FromEnv) or INFO.
	Logger *slog.Logger
	// Clock drives breakers' windows and timers. Default: the real clock.
	Clock clock.Clock
	// Classifier, when set, decides first how a non-nil error counts.
	Classifier Classifier
	// OnBreakerChange is called on every breaker transition, after it is logged.
	OnBreakerChange func(breaker.Transition)
	// CallStats turns on per-call counting (calls by outcome, retries,
	// sampled attempt durations: see Runtime.CallStats), which the metrics,
	// the dashboard and the daily report read. It costs about 8 ns per
	// successful call (one atomic add on a per-goroutine shard, one call out
	// of line), so the zero Config leaves it off; ConfigFromEnv turns it on
	// unless BALDUR_CALL_STATS=off.
	CallStats bool
	// SpanEvents adds an OpenTelemetry event to the caller's span
	// (trace.SpanFromContext) at every policy decision: each attempt and its
	// outcome (baldur.attempt), a retry's wait (baldur.retry.wait), a breaker
	// or bulkhead refusal (baldur.reject), a fallback answering
	// (baldur.fallback) and a call parked in the dead-letter queue
	// (baldur.dlq.park). The spans are the caller's own, from whatever tracer
	// provider its instrumentation uses, so the runtime needs none; a context
	// without a recording span costs one check. Off (the zero value), a call
	// pays one branch and no allocation.
	SpanEvents bool
	// IdempotencyMemoryTTL is how long a completed idempotency key blocks
	// duplicates. Default 1800s (BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS).
	IdempotencyMemoryTTL time.Duration
	// IdempotencyDegraded is what idempotent methods that leave
	// idempotency_degraded unset do while the store is DEGRADED: "serve"
	// (the default) claims keys in the local store, "refuse" fails the call
	// with ErrIdempotencyUnavailable (BALDUR_IDEMPOTENCY_DEGRADED). Methods
	// with idempotency_fail_open=on are served.
	IdempotencyDegraded string
	// DLQ configures the dead-letter queue; zero fields take dlq.Options'
	// defaults (BALDUR_DLQ_*, see the EnvDLQ constants).
	DLQ dlq.Options
	// DefaultTimeout is the per-attempt timeout of methods that have a first
	// context.Context and no timeout= of their own (ZoneSpec.DefaultTimeout).
	// Default: none (BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS, unset).
	DefaultTimeout time.Duration
	// CacheMaxEntries bounds the entries of each cached method (cache=);
	// the least valuable go first. Default DefaultCacheMaxEntries
	// (BALDUR_CACHE_MAX_ENTRIES).
	CacheMaxEntries int
	// Compartments are the named bulkheads methods share with
	// compartment=NAME, over DefaultCompartments (database 10, cache 20,
	// external_api 5 + 10 waiting, message_queue 15): an entry replaces the
	// default of its name or adds one (BALDUR_BULKHEAD_<NAME>=active[+waiting]).
	Compartments map[string]Compartment
	// Notify configures alert delivery (README, Alerts; BALDUR_NOTIFY_*).
	// Store, Clock, Logger and Source default to the runtime's; the zero
	// value logs every alert and sends nothing.
	Notify notify.Config
	// Emergency configures emergency mode (BALDUR_EMERGENCY_*). The zero
	// value is manual: only operators move the level; ConfigFromEnv turns
	// the automatic signals on unless BALDUR_EMERGENCY_AUTO=off.
	Emergency emergency.Config
	// ChaosDisabled turns fault injection off in this process
	// (BALDUR_CHAOS_ENABLED=false): experiments are refused here and the
	// fleet's are not applied (README, Fault injection). The default
	// allows an operator to start one; nothing is ever injected by default.
	ChaosDisabled bool
	// Governance configures the gate in front of automated actions
	// (BALDUR_GOVERNANCE_EMERGENCY_LEVEL, BALDUR_SLO_<SERVICE>).
	Governance governance.Config
	// OnFailsafe is called for every governance check that could not be
	// evaluated (and so allowed the action): the hook for alerts.
	OnFailsafe func(governance.Failure)

	// Leader configures the election of the fleet's leader (BALDUR_LEADER_*).
	Leader LeaderConfig

	// Canary configures canary rollouts of overrides (BALDUR_CANARY_*; README,
	// Canary rollouts); the zero value takes the defaults.
	Canary canary.Config
	// CanaryOverrides is the override engine the rollouts stage and commit
	// through. nil: no canary rollouts (Runtime.Canary is nil).
	CanaryOverrides canary.Overrides

	redisURLVar string                 // the variable RedisURL came from, for error messages
	environ     func() []string        // the environment New checks for unknown BALDUR_* names; nil: os.Environ
	named       map[string]Compartment // Compartments over the defaults, MaxWait filled in
	realClock   bool                   // Clock was left to its default, the real clock
	syncBeat    time.Duration          // tests: the breaker sync loops' beat (default syncBeatEvery)
	loopBeat    time.Duration          // tests: the notifier's and the audit trail's loops' beat (default their BeatEvery)
}

func (c Config) redisURLSource() string {
	if c.redisURLVar != "" {
		return c.redisURLVar
	}
	return "Config.RedisURL"
}

// EnvChaosEnabled is the variable of Config.ChaosDisabled (false: off).
const EnvChaosEnabled = "BALDUR_CHAOS_ENABLED"

// EnvDefaultTimeout is the variable of Config.DefaultTimeout.
const EnvDefaultTimeout = "BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS"

// BreakerConfig is every service breaker's settings: the breaker package's
// own Settings, whose zero fields take its defaults (FailureThreshold 5,
// MinimumCalls = FailureThreshold, Window 60s, RecoveryTimeout 60s,
// HalfOpenMaxCalls 3, HalfOpenMaxWait = RecoveryTimeout; BALDUR_CB_*). The
// runtime sets Name, Clock and OnStateChange per breaker; values written
// there are ignored.
type BreakerConfig = breaker.Settings

func (c Config) withDefaults() (Config, error) {
	var errs []error
	b := &c.Breaker
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"Breaker.FailureThreshold", b.FailureThreshold < 0},
		{"Breaker.MinimumCalls", b.MinimumCalls < 0},
		{"Breaker.Window", b.Window < 0 || b.Window > 0 && b.Window < time.Millisecond},
		{"Breaker.RecoveryTimeout", b.RecoveryTimeout < 0 || b.RecoveryTimeout > 0 && b.RecoveryTimeout < time.Millisecond},
		{"Breaker.HalfOpenMaxCalls", b.HalfOpenMaxCalls < 0},
		{"Breaker.HalfOpenMaxWait", b.HalfOpenMaxWait < 0 || b.HalfOpenMaxWait > 0 && b.HalfOpenMaxWait < time.Millisecond},
	} {
		if f.bad {
			errs = append(errs, fmt.Errorf("baldur: config: %s must be positive", f.name))
		}
	}
	if c.DefaultTimeout < 0 {
		errs = append(errs, errors.New("baldur: config: DefaultTimeout must not be negative"))
	}
	if c.CacheMaxEntries < 0 {
		errs = append(errs, errors.New("baldur: config: CacheMaxEntries must not be negative"))
	}
	// The breaker's own defaults, resolved here so that logs, health and
	// the console show the values in force.
	l := b.Limits()
	b.FailureThreshold, b.MinimumCalls, b.Window = l.FailureThreshold, l.MinimumCalls, l.Window
	b.RecoveryTimeout, b.HalfOpenMaxCalls, b.HalfOpenMaxWait = l.RecoveryTimeout, l.HalfOpenMaxCalls, l.HalfOpenMaxWait
	if c.IdempotencyMemoryTTL == 0 {
		c.IdempotencyMemoryTTL = idem.DefaultMemoryTTL
	} else if c.IdempotencyMemoryTTL < 0 {
		errs = append(errs, errors.New("baldur: config: IdempotencyMemoryTTL must be positive"))
	}
	switch c.IdempotencyDegraded {
	case "":
		c.IdempotencyDegraded = IdemDegradedServe
	case IdemDegradedServe, IdemDegradedRefuse:
	default:
		errs = append(errs, fmt.Errorf("baldur: config: IdempotencyDegraded %q: want serve or refuse", c.IdempotencyDegraded))
	}
	named, err := c.compartments()
	errs = append(errs, err)
	c.named = named
	if err := c.Audit.check(); err != nil {
		errs = append(errs, err)
	}
	if c.Leader.Lease < 0 {
		errs = append(errs, fmt.Errorf("baldur: config: Leader.Lease %v must be positive", c.Leader.Lease))
	}
	if c.StateDir == "" {
		c.StateDir = ".baldur"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock, c.realClock = clock.Real(), true
	}
	return c, errors.Join(errs...)
}

// ConfigFromEnv reads the BALDUR_* variables. Every malformed value is an error
// naming the variable and the value; all of them are reported at once.
//
//	BALDUR_CB_FAILURE_THRESHOLD   int ≥ 1            (5)
//	BALDUR_CB_MINIMUM_CALLS       int ≥ 1            (= threshold)
//	BALDUR_CB_WINDOW              duration or secs   (60s)
//	BALDUR_CB_RECOVERY_TIMEOUT    duration or secs   (60s)
//	BALDUR_CB_HALF_OPEN_MAX_CALLS int ≥ 1            (3)
//	BALDUR_CB_HALF_OPEN_MAX_WAIT  duration or secs   (= recovery timeout)
//	BALDUR_STATE_DIR              path               (.baldur)
//	BALDUR_RESILIENT_STORAGE_REDIS_URL, BALDUR_REDIS_URL, REDIS_URL
//	                              Redis URL, first set wins (unset: embedded store)
//	BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS  whole seconds (1800)
//	BALDUR_CALL_STATS             on|off             (on)
//	BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS  duration or secs (unset: none)
//	BALDUR_BULKHEAD_<NAME>        active[+waiting]   (see DefaultCompartments)
//	BALDUR_CACHE_MAX_ENTRIES      int ≥ 1            (10000 per cached method)
//	BALDUR_LOG_LEVEL              debug|info|warn|error (info)
//	BALDUR_AUDIT_ENABLED          on|off             (on)
//	BALDUR_SQL_DSN                PostgreSQL DSN     (unset: the audit trail stays in the store)
//	BALDUR_CHAOS_ENABLED          on|off             (on: operators may start experiments; off refuses and ignores them)
func ConfigFromEnv() (Config, error) {
	cfg, err := configFromLookup(os.LookupEnv)
	if err != nil {
		return cfg, err
	}
	// Earlier versions could keep the switches apart from the shared state;
	// they now live in it (README, Kill switch and dry-run). Refuse rather
	// than silently keep them somewhere the operator did not expect.
	for _, name := range []string{"BALDUR_CONTROL_BACKEND", "BALDUR_CONTROL_REDIS_URL"} {
		if _, set := os.LookupEnv(name); set {
			return Config{}, fmt.Errorf("baldur: bad environment: %s is no longer read: the kill switch and dry-run live in the runtime's store "+
				"(BALDUR_REDIS_URL, or the embedded store under BALDUR_STATE_DIR); unset it", name)
		}
	}
	return cfg, nil
}

func configFromLookup(lookup env.Lookup) (Config, error) {
	var cfg Config
	r := env.New(lookup)
	r.Int("BALDUR_CB_FAILURE_THRESHOLD", 1, &cfg.Breaker.FailureThreshold)
	r.Int("BALDUR_CB_MINIMUM_CALLS", 1, &cfg.Breaker.MinimumCalls)
	r.Duration("BALDUR_CB_WINDOW", &cfg.Breaker.Window)
	r.Duration("BALDUR_CB_RECOVERY_TIMEOUT", &cfg.Breaker.RecoveryTimeout)
	r.Int("BALDUR_CB_HALF_OPEN_MAX_CALLS", 1, &cfg.Breaker.HalfOpenMaxCalls)
	r.Duration("BALDUR_CB_HALF_OPEN_MAX_WAIT", &cfg.Breaker.HalfOpenMaxWait)
	r.String("BALDUR_STATE_DIR", func(v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("want a directory path")
		}
		return nil
	}, &cfg.StateDir)
	r.String("BALDUR_REDIS_PREFIX", func(v string) error {
		if strings.ContainsAny(v, " \t\n") || v == "" {
			return errors.New("want a non-empty prefix without spaces")
		}
		return nil
	}, &cfg.RedisPrefix)
	cfg.CallStats = true // operators get metrics unless they opt out
	r.Bool("BALDUR_CALL_STATS", &cfg.CallStats)
	r.Seconds(idem.EnvMemoryTTL, &cfg.IdempotencyMemoryTTL)
	r.Duration(EnvDefaultTimeout, &cfg.DefaultTimeout)
	r.Int(EnvCacheMaxEntries, 1, &cfg.CacheMaxEntries)
	var degraded string
	if r.String(EnvIdempotencyDegraded, func(v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case IdemDegradedServe, IdemDegradedRefuse:
			return nil
		}
		return errors.New("want serve or refuse")
	}, &degraded) {
		cfg.IdempotencyDegraded = strings.ToLower(strings.TrimSpace(degraded))
	}
	// The most specific Redis URL wins: the storage override, then
	// BALDUR_REDIS_URL, then a bare REDIS_URL.
	cfg.RedisURL, cfg.redisURLVar = r.URL(store.ParseRedisURL,
		"BALDUR_RESILIENT_STORAGE_REDIS_URL", "BALDUR_REDIS_URL", "REDIS_URL")
	// Events take the level their name implies (events.LevelFor). With
	// BALDUR_LOG_LEVEL or a BALDUR_EVENT_LOGGING_<FAMILY>_LOG_LEVEL override
	// set, they go to stderr filtered by those thresholds; otherwise to
	// slog.Default()'s handler, which keeps its own level.
	if lopts, set, err := events.FromEnv(lookup, os.Environ()); err != nil {
		r.Add(err)
	} else if set {
		text := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lopts.Floor()})
		cfg.Logger = slog.New(events.New(text, lopts))
	} else {
		cfg.Logger = slog.New(events.Wrap(slog.Default().Handler()))
	}
	dlqFromEnv(r, &cfg.DLQ)
	compartmentsFromEnv(r, os.Environ(), &cfg)
	auditFromEnv(r, &cfg.Audit)
	cfg.Notify = notify.ConfigFromEnv(r)
	cfg.Leader.RedisURL, cfg.Leader.redisURLVar = r.URL(store.ParseRedisURL, EnvLeaderRedisURL)
	r.Duration(EnvLeaderLease, &cfg.Leader.Lease)
	cfg.Emergency = emergency.FromEnv(r)
	chaosOn := true
	if r.Bool(EnvChaosEnabled, &chaosOn) {
		cfg.ChaosDisabled = !chaosOn
	}
	cfg.Governance = governance.FromEnv(r, os.Environ())
	cfg.Canary = canary.FromEnv(r)
	if err := r.Err(); err != nil {
		return Config{}, fmt.Errorf("baldur: bad environment: %w", err)
	}
	return cfg, nil
}
