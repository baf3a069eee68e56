package metrics

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/dlq"
)

// DefaultMaxDomains bounds the distinct values of each free-form label.
const DefaultMaxDomains = 50

// Other is the label value that free-form values beyond the cap share.
const Other = "__other__"

// Options configure a Collector. The zero value is usable.
type Options struct {
	// MaxDomains is how many distinct values a free-form label (a service
	// outside the method list, a DLQ domain) keeps before the rest go to
	// "__other__". Default 50.
	MaxDomains int
	// DLQ reports the dead-letter queue's depth (dlq.QueueDepth(rt.DLQ())),
	// and its counters when it is also a dlq.TotalsSource. nil: no DLQ series.
	DLQ dlq.DepthSource
	// Idempotency reports the idempotency gate's outcomes. nil: the
	// runtime's own counts (Runtime.IdempotencyOutcomes).
	Idempotency IdempotencySource
	// HookTimeout bounds each hook call during a scrape. Default 2s.
	HookTimeout time.Duration
}

// IdempotencyOutcome counts one outcome of the idempotency gate for one
// protected method since the runtime started.
type IdempotencyOutcome struct {
	Service, Method string
	// Outcome: claimed, duplicate, replayed, key_reuse, unavailable,
	// fail_open, no_key, canceled (runtime.Idem* constants).
	Outcome string
	Count   uint64
}

// IdempotencySource is the hook for idempotency outcomes; "duplicate" also
// shows as baldur_calls_total{outcome="duplicate"}. The default reads
// Runtime.IdempotencyOutcomes.
type IdempotencySource interface {
	IdempotencyOutcomes() []IdempotencyOutcome
}

// runtimeIdem reads the runtime's idempotency outcome counters.
type runtimeIdem struct{ rt *runtime.Runtime }

func (r runtimeIdem) IdempotencyOutcomes() []IdempotencyOutcome {
	in := r.rt.IdempotencyOutcomes()
	out := make([]IdempotencyOutcome, len(in))
	for i, o := range in {
		out[i] = IdempotencyOutcome{Service: o.Service, Method: o.Method, Outcome: o.Outcome, Count: o.Count}
	}
	return out
}

// Collector is a prometheus.Collector over one runtime. Build it once per
// runtime: it adds a breaker listener to the runtime that cannot be removed.
// It is safe for concurrent scrapes.
type Collector struct {
	rt   *runtime.Runtime
	opts Options

	known    atomic.Pointer[map[string]struct{}] // services of the method list, for the listener
	services *labelCap
	domains  *labelCap

	mu          sync.Mutex
	transitions map[transitionKey]uint64
	hookErrors  map[string]uint64
}

type transitionKey struct{ service, from, to string }

// NewCollector returns a Collector reading rt.
func NewCollector(rt *runtime.Runtime, opts Options) *Collector {
	if opts.MaxDomains <= 0 {
		opts.MaxDomains = DefaultMaxDomains
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = 2 * time.Second
	}
	if opts.Idempotency == nil {
		opts.Idempotency = runtimeIdem{rt}
	}
	c := &Collector{
		rt:          rt,
		opts:        opts,
		services:    newLabelCap(opts.MaxDomains),
		domains:     newLabelCap(opts.MaxDomains),
		transitions: map[transitionKey]uint64{},
		hookErrors:  map[string]uint64{},
	}
	c.refreshKnown(rt.Zones())
	rt.OnBreakerChange(c.onTransition)
	return c
}

// Registry returns a registry holding a Collector for rt (default Options)
// and the Go and process collectors: what the admin server serves at
// /api/baldur/metrics when it is given no Gatherer.
func Registry(rt *runtime.Runtime) *prometheus.Registry { return NewRegistry(rt, Options{}) }

// NewRegistry is Registry with options.
func NewRegistry(rt *runtime.Runtime, opts Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(rt, opts),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if tr := rt.Audit(); tr != nil {
		reg.MustRegister(AuditCollector(tr))
	}
	return reg
}

func (c *Collector) refreshKnown(specs []runtime.ZoneSpec) map[string]struct{} {
	known := make(map[string]struct{}, len(specs))
	for _, s := range specs {
		known[s.Service] = struct{}{}
	}
	c.known.Store(&known)
	return known
}

// onTransition counts a breaker transition. It may run with the runtime's
// lock held (a breaker adopting the shared state as it is built), so it
// touches nothing but the Collector's own state.
func (c *Collector) onTransition(t breaker.Transition) {
	var known map[string]struct{}
	if k := c.known.Load(); k != nil {
		known = *k
	}
	key := transitionKey{c.services.label(t.Name, known), stateLabel(t.From), stateLabel(t.To)}
	c.mu.Lock()
	c.transitions[key]++
	c.mu.Unlock()
}

var states = []breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open, breaker.ForcedOpen, breaker.ForcedClosed}

func stateLabel(s breaker.State) string { return strings.ToLower(s.String()) }

func name(n string) string { return "baldur_" + n }

var (
	descCalls = prometheus.NewDesc(name("calls_total"),
		"Calls through protected methods by outcome: success, failure and ignored count attempts (as the breaker sees them); rejected_breaker, rejected_bulkhead, fallback and duplicate count calls.",
		[]string{"service", "method", "outcome"}, nil)
	descDuration = prometheus.NewDesc(name("call_duration_seconds"),
		"Duration of SAMPLED attempts (about one in 64 is timed): _count is samples, not calls; use baldur_calls_total for rates.",
		[]string{"service", "method"}, nil)
	descRetries = prometheus.NewDesc(name("retries_total"),
		"Retries scheduled after a failed attempt.", []string{"service", "method"}, nil)
	descTimeouts = prometheus.NewDesc(name("timeouts_total"),
		"Attempts that ran past their timeout=.", []string{"service", "method"}, nil)
	descBreakerState = prometheus.NewDesc(name("breaker_state"),
		"Circuit breaker state: 1 for the current state, 0 for the others.", []string{"service", "state"}, nil)
	descTransitions = prometheus.NewDesc(name("breaker_transitions_total"),
		"Circuit breaker state changes since the collector was built (local and adopted from the fleet).",
		[]string{"service", "from", "to"}, nil)
	descBulkheadActive = prometheus.NewDesc(name("bulkhead_active"),
		"Calls holding a bulkhead slot.", []string{"compartment"}, nil)
	descBulkheadCapacity = prometheus.NewDesc(name("bulkhead_capacity"),
		"Bulkhead slots.", []string{"compartment"}, nil)
	descStoreDegraded = prometheus.NewDesc(name("store_degraded"),
		"1 while Redis is unreachable and shared state is served from the local store (DEGRADED mode).", nil, nil)
	descStoreDegradations = prometheus.NewDesc(name("store_degradations_total"),
		"Switches of the store to DEGRADED mode.", nil, nil)
	descStoreReplayed = prometheus.NewDesc(name("store_replayed_total"),
		"Writes made while DEGRADED and replayed to Redis on recovery.", nil, nil)
	descStoreConflicts = prometheus.NewDesc(name("store_reconcile_conflicts_total"),
		"Writes made while DEGRADED that Redis refused on replay (see the store.reconcile_conflict events).", nil, nil)
	descDryRunDecisions = prometheus.NewDesc(name("dryrun_decisions_total"),
		"Decisions a policy would have taken in dry-run (counted since the collector was built).", []string{"policy"}, nil)
	descDryRun = prometheus.NewDesc(name("dryrun_enabled"),
		"1 while dry-run is on: policies record what they would do and never intervene.", nil, nil)
	descKillSwitch = prometheus.NewDesc(name("kill_switch_enabled"),
		"1 while policies run, 0 while the kill switch is off (every call goes straight through).", nil, nil)
	descIdem = prometheus.NewDesc(name("idempotency_outcomes_total"),
		"Idempotency gate outcomes.", []string{"service", "method", "outcome"}, nil)
	descDLQ = prometheus.NewDesc(name("dlq_entries"),
		"Dead-letter entries by domain and state.", []string{"domain", "state"}, nil)
	descDLQEvicted = prometheus.NewDesc(name("dlq_evicted_total"),
		"Dead-letter entries evicted by a cap (drop_oldest or compress_oldest), across the fleet.", nil, nil)
	descDLQResolved = prometheus.NewDesc(name("dlq_replays_resolved_total"),
		"Dead-letter entries a replay resolved, by domain.", []string{"domain"}, nil)
	descHookErrors = prometheus.NewDesc(name("metrics_source_errors_total"),
		"Scrapes during which a metrics source (dlq) failed; its series were left out.", []string{"source"}, nil)

	allDescs = append([]*prometheus.Desc{descCalls, descDuration, descRetries, descTimeouts, descBreakerState,
		descTransitions, descBulkheadActive, descBulkheadCapacity, descStoreDegraded, descStoreDegradations,
		descStoreReplayed, descStoreConflicts, descDryRunDecisions, descDryRun, descKillSwitch, descIdem, descDLQ,
		descDLQEvicted, descDLQResolved, descHookErrors, descNotifications}, fleetDescs...)
)

// bucketBounds are runtime.DurationBuckets in seconds.
var bucketBounds = func() []float64 {
	b := make([]float64, len(runtime.DurationBuckets))
	for i, d := range runtime.DurationBuckets {
		b[i] = d.Seconds()
	}
	return b
}()

// Describe sends every series' description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
	for _, d := range emergencyDescs {
		ch <- d
	}
	for _, d := range shapeDescs {
		ch <- d
	}
	ch <- descCanaryEvents
	for _, d := range chaosDescs {
		ch <- d
	}
}

// Collect reads the runtime and sends the series. It never calls the store
// over the network (a scrape in DEGRADED mode is served at once), except
// through the hooks, each bounded by Options.HookTimeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// Read the runtime first, with none of the Collector's locks held: the
	// breaker listener may run under the runtime's lock.
	specs := c.rt.Zones()
	known := c.refreshKnown(specs)

	c.collectCalls(ch)
	c.collectBreakers(ch)
	c.collectBulkheads(ch)
	c.collectStore(ch)
	c.collectDryRun(ch)
	c.collectEmergency(ch)
	c.collectCanary(ch)
	c.collectHooks(ch, known)
	c.collectNotifications(ch)
	c.collectFleet(ch)
	c.collectShaping(ch, known)
	c.collectChaos(ch, known)

	c.mu.Lock()
	for k, n := range c.transitions {
		ch <- prometheus.MustNewConstMetric(descTransitions, prometheus.CounterValue, float64(n), k.service, k.from, k.to)
	}
	for src, n := range c.hookErrors {
		ch <- prometheus.MustNewConstMetric(descHookErrors, prometheus.CounterValue, float64(n), src)
	}
	c.mu.Unlock()
}

func (c *Collector) collectCalls(ch chan<- prometheus.Metric) {
	for _, s := range c.rt.CallStats() {
		for _, o := range []struct {
			outcome string
			n       uint64
		}{
			{"success", s.Successes}, {"failure", s.Failures}, {"ignored", s.Ignored},
			{"rejected_breaker", s.RejectedOpen}, {"rejected_bulkhead", s.RejectedBulkhead}, {"fallback", s.Fallbacks},
		} {
			ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(o.n), s.Service, s.Method, o.outcome)
		}
		ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(s.Retries), s.Service, s.Method)
		ch <- prometheus.MustNewConstMetric(descTimeouts, prometheus.CounterValue, float64(s.Timeouts), s.Service, s.Method)
		buckets := make(map[float64]uint64, len(bucketBounds))
		var cum uint64
		for i, ub := range bucketBounds {
			if i < len(s.Buckets) {
				cum += s.Buckets[i]
			}
			buckets[ub] = cum
		}
		// Samples and buckets are read one after the other while calls go on:
		// keep the count at least the last bucket, as Prometheus requires.
		count := max(s.Samples, cum)
		ch <- prometheus.MustNewConstHistogram(descDuration, count, float64(s.SumNanos)/1e9, buckets, s.Service, s.Method)
	}
}

func (c *Collector) collectBreakers(ch chan<- prometheus.Metric) {
	for _, b := range c.rt.Snapshot().Breakers {
		n, cur := b.Name, b.State
		for _, s := range states {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descBreakerState, prometheus.GaugeValue, v, n, stateLabel(s))
		}
	}
}

func (c *Collector) collectBulkheads(ch chan<- prometheus.Metric) {
	for _, b := range c.rt.Snapshot().Compartments {
		ch <- prometheus.MustNewConstMetric(descBulkheadActive, prometheus.GaugeValue, float64(max(b.Active, 0)), b.Name)
		ch <- prometheus.MustNewConstMetric(descBulkheadCapacity, prometheus.GaugeValue, float64(max(b.Max, 0)), b.Name)
	}
}

func (c *Collector) collectStore(ch chan<- prometheus.Metric) {
	snap := c.rt.Snapshot()
	degraded, conflicts := snap.Store.Degraded, int64(0)
	if snap.Store.Failover {
		st := snap.Store.FailoverStats
		conflicts = st.Conflicts
		ch <- prometheus.MustNewConstMetric(descStoreDegradations, prometheus.CounterValue, float64(max(st.Degradations, 0)))
		ch <- prometheus.MustNewConstMetric(descStoreReplayed, prometheus.CounterValue, float64(max(st.Replayed, 0)))
	}
	ch <- prometheus.MustNewConstMetric(descStoreDegraded, prometheus.GaugeValue, b2f(degraded))
	ch <- prometheus.MustNewConstMetric(descStoreConflicts, prometheus.CounterValue, float64(max(conflicts, 0)))
	ch <- prometheus.MustNewConstMetric(descKillSwitch, prometheus.GaugeValue, b2f(snap.Enabled))
	ch <- prometheus.MustNewConstMetric(descDryRun, prometheus.GaugeValue, b2f(snap.DryRun))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dryRunPolicies are the policies that record would-have decisions; any
// other name is counted as "other".
var dryRunPolicies = map[string]bool{"breaker": true, "bulkhead": true, "retry": true, "fallback": true,
	"timeout": true, "idempotency": true, "dlq": true}

// collectDryRun reports the runtime's exact per-policy counts of would-have
// decisions; a policy outside the known set is counted as "other".
func (c *Collector) collectDryRun(ch chan<- prometheus.Metric) {
	counts := map[string]uint64{}
	for p, n := range c.rt.WouldHaveCounts() {
		if !dryRunPolicies[p] {
			p = "other"
		}
		counts[p] += n
	}
	for p, n := range counts {
		ch <- prometheus.MustNewConstMetric(descDryRunDecisions, prometheus.CounterValue, float64(n), p)
	}
}

func (c *Collector) collectHooks(ch chan<- prometheus.Metric, known map[string]struct{}) {
	if src := c.opts.Idempotency; src != nil {
		type key struct{ service, method, outcome string }
		sums := map[key]uint64{}
		dups := map[key]uint64{}
		for _, o := range src.IdempotencyOutcomes() {
			svc := c.services.label(o.Service, known)
			method := o.Method
			if svc == Other {
				method = Other
			}
			sums[key{svc, method, freeForm(o.Outcome)}] += o.Count
			if o.Outcome == "duplicate" {
				dups[key{svc, method, "duplicate"}] += o.Count
			}
		}
		for k, n := range sums {
			ch <- prometheus.MustNewConstMetric(descIdem, prometheus.CounterValue, float64(n), k.service, k.method, k.outcome)
		}
		for k, n := range dups {
			ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(n), k.service, k.method, k.outcome)
		}
	}
	if src := c.opts.DLQ; src != nil {
		c.collectDLQ(ch, src, known)
	}
}

// collectDLQ sends the queue's depth by domain and state and, when the
// source also keeps counters (QueueDepth does), evictions and resolved
// replays, from one read of the queue.
func (c *Collector) collectDLQ(ch chan<- prometheus.Metric, src dlq.DepthSource, known map[string]struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.HookTimeout)
	defer cancel()
	var (
		depth  []dlq.Depth
		totals *dlq.Totals
		err    error
	)
	if both, ok := src.(dlq.TotalsSource); ok {
		var t dlq.Totals
		depth, t, err = both.DLQSnapshot(ctx)
		totals = &t
	} else {
		depth, err = src.DLQDepth(ctx)
	}
	if err != nil {
		c.mu.Lock()
		c.hookErrors["dlq"]++
		c.mu.Unlock()
		return
	}
	type key struct{ domain, state string }
	sums := map[key]int64{}
	for _, d := range depth {
		sums[key{c.domains.label(d.Domain, known), freeForm(d.State)}] += max(d.Entries, 0)
	}
	for k, n := range sums {
		ch <- prometheus.MustNewConstMetric(descDLQ, prometheus.GaugeValue, float64(n), k.domain, k.state)
	}
	if totals == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descDLQEvicted, prometheus.CounterValue, float64(max(totals.Evicted, 0)))
	resolved := map[string]int64{}
	for domain, n := range totals.Resolved {
		resolved[c.domains.label(domain, known)] += max(n, 0)
	}
	for domain, n := range resolved {
		ch <- prometheus.MustNewConstMetric(descDLQResolved, prometheus.CounterValue, float64(n), domain)
	}
}
