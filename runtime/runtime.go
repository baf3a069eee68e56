// Package runtime is the facade that baldur-generated wrappers call: it builds
// the breakers, bulkheads and policy zones once, and answers each call with a
// few atomic loads. It also owns the operator switches (kill switch, dry-run)
// that every zone consults.
//
// Two surfaces: the operator's (New or FromEnv, Close, Snapshot, the read
// model the admin API, metrics and the daily report share, Control for the
// kill switch and dry-run, DLQ for the dead-letter queue) and the generated
// code's (Zone, ZoneSpec and the Zone methods), which only baldurgen's output
// calls.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/chaos"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/idem"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/policy"
	"github.com/baldur-go/baldur/runtime/series"
	"github.com/baldur-go/baldur/runtime/store"
)

const (
	modeDisabled uint32 = 1 << iota // kill switch: wrappers delegate untouched
	modeDryRun                      // policies evaluate, nothing intervenes
)

const levelDebug = slog.LevelDebug

// Runtime holds the state shared by every generated wrapper of a process.
// Build one with New or FromEnv, pass it to the generated constructors, and
// Close it on shutdown.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	mode  atomic.Uint32

	store       store.Store
	ownsStore   bool
	degraded    atomic.Bool
	node        string    // this runtime's name in shared records
	epoch       time.Time // origin of sampled attempt durations
	sync        *breakerSync
	pol         *policy.Manager // the policy overrides (policy_api.go)
	polDoc      *parsedDoc      // the overrides in force; guarded by mu
	gate        *idem.Gate      // idempotency claims, in the store
	dlq         *deadLetters    // the dead-letter queue, in the store
	redis       *store.Redis    // the Redis behind the store, when configured
	ctl         *control.Control
	audit       *audit.Trail // nil when off
	auditAlerts auditAlertState
	// attachAudit hands the trail to the logger's watcher (tapAudit).
	attachAudit func(*audit.Trail)
	notifier    *notify.Notifier                // alerts (README, Alerts); its Handler wraps log
	fleet       *fleet                          // leader election, scheduler, watchdog
	beats       loopBeats                       // the heartbeats of the loops built before the fleet
	emg         emergencyParts                  // emergency mode and the governance gate (emergency.go)
	series      *series.Recorder                // the plots' rings (series_setup.go)
	annotations atomic.Pointer[series.Recorder] // series, for subsystems opened before it (annotate)
	canary      *canary.Controller              // canary rollouts of overrides (canary_setup.go); nil without an engine
	chaos       *chaos.Chaos                    // fault injection (chaos_setup.go)

	mu           sync.Mutex
	breakers     map[string]*breaker.Breaker
	breakerFrom  map[string]breakerOrigin // the zone that built each breaker (policy_shared.go)
	compartments map[string]*Bulkhead
	zones        map[zoneKey]*Zone
	closed       bool

	wouldHaveMu     sync.Mutex
	wouldHaveLog    []Decision        // a ring of at most wouldHaveCap entries
	wouldHaveNext   int               // where the next entry goes once the ring is full
	wouldHaveCounts map[string]uint64 // decisions per policy since the start, never trimmed

	listeners atomic.Pointer[[]func(breaker.Transition)] // copy on write

	shaping shapeRegistry // rate limiters shared by name (zone_shape.go)
}

// OnBreakerChange adds a listener called on every breaker transition (local
// or adopted from the fleet), after Config.OnBreakerChange. Listeners run on
// the goroutine that caused the transition and must return quickly.
func (rt *Runtime) OnBreakerChange(fn func(breaker.Transition)) {
	for {
		old := rt.listeners.Load()
		var next []func(breaker.Transition)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if rt.listeners.CompareAndSwap(old, &next) {
			return
		}
	}
}

type zoneKey struct{ service, method string }

// Decision is one "would have" entry recorded in dry-run.
type Decision struct {
	At      time.Time `json:"at"`
	Service string    `json:"service"`
	Method  string    `json:"method"`
	Policy  string    `json:"policy"`   // breaker, bulkhead, retry, fallback, ...
	Outcome string    `json:"decision"` // reject, retry, fallback, ...
	Reason  string    `json:"reason"`
}

// New builds a runtime from cfg. Zero fields take the documented defaults; a
// field out of range is an error naming it.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rt := &Runtime{
		cfg:          cfg,
		log:          cfg.Logger,
		clock:        cfg.Clock,
		node:         newNodeID(),
		epoch:        time.Now(),
		breakers:     make(map[string]*breaker.Breaker),
		compartments: make(map[string]*Bulkhead),
		zones:        make(map[zoneKey]*Zone),
	}
	if err := rt.openNotifier(); err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened {
			_ = rt.notifier.Close()
		}
	}()
	rt.tapAudit()
	if rt.store, rt.ownsStore, err = rt.openStore(ctx); err != nil {
		return nil, err
	}
	rt.notifier.SetStore(rt.store)
	if err := rt.openAudit(ctx); err != nil {
		rt.closeStore()
		return nil, err
	}
	if rt.gate, err = idem.New(rt.store, idem.Options{MemoryTTL: cfg.IdempotencyMemoryTTL, Clock: rt.clock, Logger: rt.log}); err != nil {
		rt.abandonStore()
		return nil, fmt.Errorf("baldur: %w", err)
	}
	if rt.dlq, err = openDLQ(rt); err != nil {
		rt.abandonStore()
		return nil, err
	}
	if err := rt.openControl(ctx); err != nil {
		rt.abandonStore()
		return nil, err
	}
	if err := rt.openEmergency(ctx); err != nil {
		rt.ctl.Close()
		rt.abandonStore()
		return nil, err
	}
	if err := rt.openChaos(ctx); err != nil {
		rt.closeEmergency()
		rt.ctl.Close()
		rt.abandonStore()
		return nil, err
	}
	if err := rt.startBreakerSync(); err != nil {
		rt.chaos.Close()
		rt.closeEmergency()
		rt.ctl.Close()
		rt.abandonStore()
		return nil, err
	}
	rt.dlq.start()
	rt.startSeries()
	if err := rt.openFleet(ctx); err != nil {
		_ = rt.Close()
		return nil, err
	}
	if err := rt.openPolicy(ctx); err != nil {
		_ = rt.Close()
		return nil, err
	}
	if err := rt.scheduleDLQRetention(); err != nil {
		_ = rt.Close()
		return nil, fmt.Errorf("baldur: %w", err)
	}
	if err := rt.openCanary(ctx); err != nil {
		_ = rt.Close()
		return nil, err
	}
	rt.log.LogAttrs(ctx, slog.LevelInfo, "runtime.instance_started",
		slog.Int("cb_failure_threshold", cfg.Breaker.FailureThreshold),
		slog.Duration("cb_recovery_timeout", cfg.Breaker.RecoveryTimeout))
	rt.logUnknownEnv(ctx)
	opened = true
	return rt, nil
}

// FromEnv builds a runtime from the BALDUR_* environment (see ConfigFromEnv).
func FromEnv() (*Runtime, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return New(context.Background(), cfg)
}

// Close stops the breakers' timers. Wrappers keep working after Close, as
// plain pass-throughs would not: do not call them after shutting down.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	breakers := make([]*breaker.Breaker, 0, len(rt.breakers))
	for _, b := range rt.breakers {
		breakers = append(breakers, b)
	}
	rt.mu.Unlock()
	// Outside the lock: the sync goroutines look breakers up while they finish.
	// The series tick first: it reads the queue. Then the queue: its sweeps
	// replay through the breakers and the store.
	rt.series.Close()
	unpub, cancelUnpub := context.WithTimeout(context.Background(), time.Second)
	rt.unpublishSeries(unpub)
	cancelUnpub()
	// Scheduled tasks first (they use everything below), then the queue: its
	// sweeps replay through the breakers and the store.
	ctx, cancel := context.WithTimeout(context.Background(), fleetCloseTimeout)
	fleetErr := rt.fleet.close(ctx)
	cancel()
	rt.closeCanary() // after its tasks, before the store it follows
	dlqErr := rt.dlq.close()
	rt.sync.close()
	chaosErr := rt.chaos.Close()
	emErr := rt.closeEmergency()
	ctlErr := rt.ctl.Close()
	if rt.pol != nil {
		_ = rt.pol.Close()
	}
	for _, b := range breakers {
		b.Close()
	}
	auditErr := rt.audit.Close() // after the last action it records, before the store it writes to
	// The notifier before the store: its guards and last deliveries use it.
	notifyErr := rt.notifier.Close()
	shapeErr := rt.closeLimiters() // a fleet limiter gives its tokens back to the store
	return errors.Join(fleetErr, dlqErr, chaosErr, emErr, ctlErr, shapeErr, auditErr, notifyErr, rt.closeStore())
}

// abandonStore undoes a New that failed once the audit trail was open: the
// trail's writers stop before the store they write to closes.
func (rt *Runtime) abandonStore() {
	_ = rt.audit.Close()
	_ = rt.closeStore()
}

func (rt *Runtime) closeStore() error {
	if !rt.ownsStore {
		return nil
	}
	return rt.store.Close()
}

// Zone is part of the generated-code surface (see the Zone type).
//
// Zone returns the zone of one protected method, building its breaker and
// bulkhead on first use. Methods of one service share the service's breaker.
// Generated constructors call it; it is safe to call it again for the same
// method (a second wrapper shares the first one's state).
//
// A new breaker starts from the shared record another node wrote (a store
// read, up to 2 s on Redis). The read happens before the registry lock is
// taken and the record is applied after it is released, so that neither the
// store nor OnBreakerChange listeners (which may call back into the runtime)
// ever run under it: other zones are built and served meanwhile.
//
// A spec the runtime cannot honour (a compartment= that is not registered)
// panics with the error NewZone would return: generated constructors run
// while a program wires itself up, where a panic stops it at once.
func (rt *Runtime) Zone(spec ZoneSpec) *Zone {
	if rt == nil {
		panic("baldur/runtime: Zone called on a nil *Runtime; pass the result of runtime.New or runtime.FromEnv to the generated constructor")
	}
	z, err := rt.NewZone(spec)
	if err != nil {
		panic(err)
	}
	return z
}

// NewZone is Zone returning an error instead of panicking: the zone's
// compartment= is not registered (ErrUnknownCompartment, listing the
// registered ones), or its name is taken by another kind of compartment.
func (rt *Runtime) NewZone(spec ZoneSpec) (*Zone, error) {
	key := zoneKey{spec.Service, spec.Method}
	rt.mu.Lock()
	z, built := rt.zones[key]
	_, known := rt.breakers[spec.Service]
	rt.mu.Unlock()
	if built {
		return z, nil
	}
	var shared *breakerRecord
	if spec.Breaker && !known {
		shared = rt.readShared(context.Background(), spec.Service)
	}
	z, isNew, fresh, err := rt.buildZone(key, spec)
	if err != nil {
		return nil, err
	}
	if fresh != nil && shared != nil {
		rt.applyShared(fresh, *shared)
	}
	if isNew {
		rt.logZone(z)
	}
	return z, nil
}

// buildZone registers the zone of key under the registry lock, doing no I/O
// and calling nothing outside the runtime. It returns the zone registered
// (another goroutine's if it won the race), whether this call built it, and
// the breaker it created, nil when the service had one already.
func (rt *Runtime) buildZone(key zoneKey, spec ZoneSpec) (z *Zone, isNew bool, fresh *breaker.Breaker, err error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if z, ok := rt.zones[key]; ok {
		return z, false, nil, nil
	}
	fallbackOn, err := ParseFailureKinds(spec.FallbackOn)
	if err != nil {
		return nil, false, nil, fmt.Errorf("baldur: %s.%s: fallback_on: %w", spec.Service, spec.Method, err)
	}
	var bs breaker.Settings
	if spec.Breaker {
		if bs, err = rt.breakerSettingsLocked(spec); err != nil {
			return nil, false, nil, err
		}
	}
	bh, err := rt.bulkheadLocked(spec)
	if err != nil {
		return nil, false, nil, err
	}
	z = &Zone{
		rt:        rt,
		spec:      spec,
		openErr:   &OpenError{Service: spec.Service, Method: spec.Method},
		shedLevel: shedLevel(spec.Criticality),
		bounded:   spec.Timeout > 0 || spec.DefaultTimeout,

		fallbackOn: fallbackOn,
		traced:     rt.cfg.SpanEvents,
		chaos:      rt.chaos.Slot(spec.Service),
	}
	if z.bounded {
		z.deadlines = newDeadlineLists(z) // an override may give the zone a timeout later
	}
	if rt.cfg.CallStats {
		z.stats = newCallStats()
	}
	if spec.Idempotency != "" {
		z.idem = new(idemCounters)
	}
	z.shape = rt.newZoneShape(spec, z.stats)
	if spec.Cache > 0 {
		z.cache = rt.newCacheStats()
	}
	if spec.Breaker {
		z.breaker, fresh = rt.breakerLocked(spec, bs)
	}
	if bh != nil {
		z.bulkhead = bh
	}
	z.setPolicy(rt.resolvePolicyLocked(z, nil))
	rt.applySharedLocked(nil, z)
	rt.zones[key] = z
	return z, true, fresh, nil
}

// logZone says which policies a new zone composes (protect.composer_built).
func (rt *Runtime) logZone(z *Zone) {
	spec := z.spec
	attrs := []slog.Attr{
		slog.String("service", spec.Service), slog.String("method", spec.Method),
		slog.Any("policies", spec.Policies()),
	}
	if spec.Attempts > 1 {
		attrs = append(attrs, slog.Int("retry_attempts", spec.Attempts), slog.String("backoff", z.pol.Load().backoff.String()))
	}
	if t := z.pol.Load().timeout; t > 0 {
		attrs = append(attrs, slog.Float64("timeout_seconds", t.Seconds()))
	}
	if spec.Deadline > 0 {
		attrs = append(attrs, slog.Float64("deadline_seconds", spec.Deadline.Seconds()))
	}
	if z.fallbackOn != 0 {
		attrs = append(attrs, slog.String("fallback_on", z.fallbackOn.String()))
	}
	if z.bulkhead != nil {
		attrs = append(attrs, slog.String("compartment", z.bulkhead.name), slog.Int64("bulkhead", z.bulkhead.Max()))
	}
	attrs = append(attrs, z.cacheAttrs()...)
	attrs = append(attrs, z.shapeAttrs()...)
	rt.log.LogAttrs(context.Background(), levelDebug, "protect.composer_built", attrs...)
}

// breakerLocked returns the service's breaker and, when it had none yet, the
// one it created from s (breakerSettingsLocked; the caller applies the
// shared record to it once unlocked).
func (rt *Runtime) breakerLocked(spec ZoneSpec, s breaker.Settings) (b, created *breaker.Breaker) {
	if b, ok := rt.breakers[spec.Service]; ok {
		return b, nil
	}
	s.Name, s.Clock, s.OnStateChange = spec.Service, rt.clock, rt.onTransition
	b = breaker.New(s)
	rt.breakers[spec.Service] = b
	rt.noteBreakerLocked(spec)
	return b, b
}

func (rt *Runtime) onTransition(t breaker.Transition) {
	rt.log.LogAttrs(context.Background(), slog.LevelInfo, "cb.state_changed",
		slog.String("service", t.Name), slog.String("from", t.From.String()), slog.String("to", t.To.String()),
		slog.String("reason", t.Reason))
	if !strings.HasPrefix(t.Reason, remoteReason) && rt.sync != nil {
		rt.sync.markDirty(t.Name)
	}
	if h := rt.cfg.OnBreakerChange; h != nil {
		h(t)
	}
	if ls := rt.listeners.Load(); ls != nil {
		for _, fn := range *ls {
			fn(t)
		}
	}
}

// Breaker returns the named service's breaker.
func (rt *Runtime) Breaker(service string) (*breaker.Breaker, bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	b, ok := rt.breakers[service]
	return b, ok
}

// BreakerNames lists the services that have a breaker, sorted.
func (rt *Runtime) BreakerNames() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	names := make([]string, 0, len(rt.breakers))
	for n := range rt.breakers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Zones lists the specs of every protected method, sorted by service and method.
func (rt *Runtime) Zones() []ZoneSpec {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	specs := make([]ZoneSpec, 0, len(rt.zones))
	for _, z := range rt.zones {
		specs = append(specs, z.spec)
	}
	sort.Slice(specs, func(i, j int) bool {
		if specs[i].Service != specs[j].Service {
			return specs[i].Service < specs[j].Service
		}
		return specs[i].Method < specs[j].Method
	})
	return specs
}

// Enabled reports whether the kill switch lets policies run.
func (rt *Runtime) Enabled() bool { return rt.mode.Load()&modeDisabled == 0 }

// DryRun reports whether policies only record what they would have done.
func (rt *Runtime) DryRun() bool { return rt.mode.Load()&modeDryRun != 0 }

func (rt *Runtime) setMode(bit uint32, set bool) {
	for {
		old := rt.mode.Load()
		next := old &^ bit
		if set {
			next |= bit
		}
		if rt.mode.CompareAndSwap(old, next) {
			return
		}
	}
}

// wouldHaveCap bounds the dry-run timeline kept in memory.
const wouldHaveCap = 1000

// wouldHave records a decision in dry-run and reports whether dry-run is on
// (so that the caller must not intervene).
func (rt *Runtime) wouldHave(z *Zone, policy, outcome, reason string) bool {
	return rt.recordWouldHave(z.spec.Service, z.spec.Method, policy, outcome, reason)
}

// recordWouldHave is wouldHave for a decision of a service rather than of
// one method (method empty), such as the dead-letter sweep of a domain.
func (rt *Runtime) recordWouldHave(service, method, policy, outcome, reason string) bool {
	if !rt.DryRun() {
		return false
	}
	d := Decision{At: rt.clock.Now(), Service: service, Method: method, Policy: policy, Outcome: outcome, Reason: reason}
	rt.log.LogAttrs(context.Background(), slog.LevelInfo, "dryrun.decision_recorded",
		slog.String("service", d.Service), slog.String("method", d.Method), slog.String("policy", policy),
		slog.String("decision", outcome), slog.String("reason", reason))
	rt.wouldHaveMu.Lock()
	if len(rt.wouldHaveLog) < wouldHaveCap {
		rt.wouldHaveLog = append(rt.wouldHaveLog, d)
	} else {
		rt.wouldHaveLog[rt.wouldHaveNext] = d
		rt.wouldHaveNext = (rt.wouldHaveNext + 1) % wouldHaveCap
	}
	if rt.wouldHaveCounts == nil {
		rt.wouldHaveCounts = map[string]uint64{}
	}
	rt.wouldHaveCounts[policy]++
	rt.wouldHaveMu.Unlock()
	return true
}

// WouldHave returns the dry-run timeline, oldest first (at most 1000 entries).
func (rt *Runtime) WouldHave() []Decision {
	rt.wouldHaveMu.Lock()
	defer rt.wouldHaveMu.Unlock()
	out := make([]Decision, 0, len(rt.wouldHaveLog))
	out = append(out, rt.wouldHaveLog[rt.wouldHaveNext:]...)
	return append(out, rt.wouldHaveLog[:rt.wouldHaveNext]...)
}

// WouldHaveCounts returns how many would-have decisions each policy has
// recorded since the runtime started: exact, unlike the timeline, which keeps
// only the last 1000.
func (rt *Runtime) WouldHaveCounts() map[string]uint64 {
	rt.wouldHaveMu.Lock()
	defer rt.wouldHaveMu.Unlock()
	return maps.Clone(rt.wouldHaveCounts)
}
