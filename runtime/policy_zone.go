package runtime

import (
	"context"
	"hash/fnv"
	"math"
	"slices"
	"time"
	_ "unsafe" // go:linkname

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/policy"
)

// A zone's run-time settings (the README's "Policy overrides"). Everything
// an override or a canary may change per method is in one zonePolicy (what
// a service's methods share lives in its breaker and compartment:
// policy_shared.go), built off the hot
// path when the overrides change and swapped in with one atomic store
// (Zone.pol): a call reads it with one atomic load, allocates nothing, and
// sees one consistent version of every setting.

// zoneSettings are the settings of the keys the annotations table marks
// Runtime.
type zoneSettings struct {
	attempts     int            // total attempts (retry=), at least 1
	backoff      backoff.Policy // backoff=, normalized
	timeout      time.Duration  // timeout= per attempt; 0: none
	bulkheadWait time.Duration  // bulkhead_wait=, else the compartment's wait
}

// zonePolicy is what Zone.pol points to.
type zonePolicy struct {
	// The baseline: directive, environment, overrides, and the canaries of
	// shared keys whose cohort holds this process.
	zoneSettings
	// canaries are the canaries on the zone, at most one per config type:
	// first the perCall ones that split calls (a call's cohort is a bit
	// mask over them, Permit.cohort), then those that split processes.
	canaries []zoneCanary
	perCall  int
	// variants[mask] is what a call in the per-call canaries of mask runs
	// with; nil without a per-call canary.
	variants []zoneSettings
	// gen tells this version's canaries from another's: a permit handed out
	// under another version is neither counted in a cohort nor given a
	// variant (Zone.polGen).
	gen uint8

	sources [nRuntimeKeys]string // where each baseline setting comes from, for List; never read by a call
}

// zoneCanary is one canary as a zone holds it.
type zoneCanary struct {
	src      *policy.Canary
	permille uint32
	// byProcess: the canary changes keys shared by the service's methods,
	// so its cohort is made of processes; member: this process is in it.
	byProcess, member bool
	cohorts           *cohorts
	values            *annotations.Policy
}

// The runtime keys, in the order of zoneSettings and the key table.
const (
	keyRetry = iota
	keyBackoff
	keyTimeout
	keyBulkheadWait
	nRuntimeKeys
)

var runtimeKeyNames = [nRuntimeKeys]string{"retry", "backoff", "timeout", "bulkhead_wait"}

// maxCallCanaries bounds the per-call canaries of one zone: one per config
// type, and a Permit's cohort mask has a bit for each.
const maxCallCanaries = 4

// cohorts counts a canary's calls and the baseline's, from its staging.
type cohorts struct {
	id               string
	canary, baseline *callStats
}

// settings returns the variant a permit's attempt runs with.
func (zp *zonePolicy) settings(p Permit) *zoneSettings {
	if p.cohort != 0 && p.gen == zp.gen && int(p.cohort) < len(zp.variants) {
		return &zp.variants[p.cohort]
	}
	return &zp.zoneSettings
}

// setPolicy puts zp in force, and with a canary staged sends Enter to its
// slow path (enterSlow), where the cohort is picked.
func (z *Zone) setPolicy(zp *zonePolicy) {
	z.pol.Store(zp)
	if len(zp.canaries) > 0 {
		z.shedAt.Store(math.MinInt32)
	} else {
		z.shedAt.Store(z.shedLevel)
	}
}

// enterSlow is EnterNext when the level in force reached the zone's
// shedAt: shed the call, or pick its canary cohorts (a retry keeps its
// call's).
func (z *Zone) enterSlow(ctx context.Context, prev Permit) (Permit, error) {
	if z.rt.emg.level.Load() >= z.shedLevel {
		return z.shed(ctx)
	}
	if prev.gen != 0 {
		return z.enterRetry(ctx, prev)
	}
	return z.enterCohort(ctx)
}

//go:linkname cheaprand runtime.cheaprand
func cheaprand() uint32

// enterRetry is EnterNext for a retry of a call drawn into cohorts: the
// same cohorts while the staging it was drawn under is in force, a new
// draw otherwise.
func (z *Zone) enterRetry(ctx context.Context, prev Permit) (Permit, error) {
	zp := z.pol.Load()
	if zp.gen != prev.gen || len(zp.canaries) == 0 {
		return z.enterCohort(ctx)
	}
	return z.enterIn(ctx, zp, prev.cohort)
}

// enterCohort is Enter while a canary is staged: the call joins each
// per-call canary's cohort with probability permille/1000, one draw per
// canary (the runtime's per-M random generator: no lock, no shared
// counter, no allocation), so that every canary's two cohorts hold the
// same mix of the others. Done counts the attempt in the cohorts of every
// canary on the zone.
func (z *Zone) enterCohort(ctx context.Context) (Permit, error) {
	zp := z.pol.Load()
	if len(zp.canaries) == 0 { // cleared since Enter looked
		if z.traced {
			return z.enterTraced(ctx)
		}
		return z.enter(ctx, Permit{})
	}
	var cohort uint8
	for i := range zp.perCall {
		if cheaprand()%1000 < zp.canaries[i].permille {
			cohort |= 1 << i
		}
	}
	return z.enterIn(ctx, zp, cohort)
}

// enterIn enters an attempt in the cohorts of zp's per-call canaries that
// cohort names.
func (z *Zone) enterIn(ctx context.Context, zp *zonePolicy, cohort uint8) (Permit, error) {
	p, err := z.enter(ctx, Permit{flags: permitCohort, cohort: cohort, gen: zp.gen})
	if err != nil {
		return p, err
	}
	if p.start == 0 {
		c := &zp.canaries[0]
		s := c.cohorts.baseline
		if c.member || p.cohort&1 != 0 {
			s = c.cohorts.canary
		}
		p.start = z.rt.sampleStart(s)
	}
	return p, nil
}

// cohortDone counts a cohort attempt's outcome and sampled duration in
// every canary on the zone, and returns the permit as Done's other paths
// expect it.
func (z *Zone) cohortDone(ctx context.Context, p Permit, err error) Permit {
	p.flags &^= permitCohort
	if zp := z.pol.Load(); zp.gen == p.gen && len(zp.canaries) > 0 {
		o := Success
		if err != nil {
			o = classify(ctx, err, z.rt.cfg.Classifier)
		}
		var d time.Duration
		if p.start != 0 {
			d = time.Since(z.rt.epoch) - time.Duration(p.start)
		}
		for i := range zp.canaries {
			c := &zp.canaries[i]
			s := c.cohorts.baseline
			if c.member || i < zp.perCall && p.cohort&(1<<i) != 0 {
				s = c.cohorts.canary
			}
			switch o {
			case Success:
				s.success()
			case Failure:
				s.failures.Add(1)
			default:
				s.ignored.Add(1)
			}
			if p.start != 0 {
				s.observe(d)
			}
		}
	}
	if z.stats == nil {
		p.start = 0 // the sample was the cohorts'
	}
	return p
}

// parsedDoc is a policy document with its values parsed once.
type parsedDoc struct {
	doc       policy.Doc
	overrides []annotations.Policy // one per doc.Overrides
	canaries  []annotations.Policy // one per doc.Canaries
	types     [][]string           // each canary's config types
}

func parseDoc(d policy.Doc) *parsedDoc {
	pd := &parsedDoc{doc: d, overrides: make([]annotations.Policy, len(d.Overrides)), canaries: make([]annotations.Policy, len(d.Canaries))}
	for i, o := range d.Overrides {
		pd.overrides[i], _ = annotations.ParseOverride(o.Values) // checked when stored; a bad one changes nothing
	}
	pd.types = make([][]string, len(d.Canaries))
	for i, c := range d.Canaries {
		pd.canaries[i], _ = annotations.ParseOverride(c.Values)
		pd.types[i] = annotations.RolloutTypes(pd.canaries[i])
	}
	return pd
}

// directiveSettings are a zone's settings before any override, and where
// each comes from.
func (rt *Runtime) directiveSettings(z *Zone) (zoneSettings, [nRuntimeKeys]string) {
	spec := z.spec
	s := zoneSettings{attempts: max(spec.Attempts, 1), backoff: spec.Backoff.Normalized(), timeout: spec.Timeout, bulkheadWait: spec.BulkheadWait}
	src := [nRuntimeKeys]string{"directive", "directive", "directive", "directive"}
	if spec.Attempts == 0 {
		src[keyRetry] = "default"
	}
	if spec.Backoff == (backoff.Policy{}) {
		src[keyBackoff] = "default"
	}
	if spec.Timeout <= 0 {
		src[keyTimeout] = "default"
		if spec.DefaultTimeout && rt.cfg.DefaultTimeout > 0 {
			s.timeout, src[keyTimeout] = rt.cfg.DefaultTimeout, "env"
		}
	}
	if s.bulkheadWait <= 0 {
		src[keyBulkheadWait] = "default"
		if z.bulkhead != nil {
			s.bulkheadWait, src[keyBulkheadWait] = z.bulkhead.wait, "compartment"
		}
	}
	return s, src
}

// applyValues sets on s the keys of o that apply to z.
func (z *Zone) applyValues(s *zoneSettings, o *annotations.Policy, src *[nRuntimeKeys]string, from string) {
	if o.Retry.Set {
		s.attempts = max(o.Retry.Val, 1)
		src[keyRetry] = from
	}
	if o.Backoff.Set {
		s.backoff = o.Backoff.Val.Normalized()
		src[keyBackoff] = from
	}
	if o.Timeout.Set && z.bounded {
		s.timeout = o.Timeout.Val
		src[keyTimeout] = from
	}
	if o.BulkheadWait.Set && z.bulkhead != nil {
		s.bulkheadWait = o.BulkheadWait.Val
		src[keyBulkheadWait] = from
	}
}

// inProcessCohort reports whether this process is in the cohort of a
// canary that splits processes: a hash of the process and the rollout
// below the fraction, so that a process in the cohort at one stage stays
// in it at the larger ones.
func (rt *Runtime) inProcessCohort(c *policy.Canary) bool {
	h := fnv.New32a()
	h.Write([]byte(rt.node))
	h.Write([]byte{0})
	h.Write([]byte(c.Name()))
	return h.Sum32()%policy.MaxPermille < uint32(min(c.Permille, policy.MaxPermille))
}

// canariesOf returns the canaries in force on z, by index into
// pd.doc.Canaries: the narrowest covering z of each config type.
func (pd *parsedDoc) canariesOf(z *Zone) []int {
	var taken []string
	var out []int
	for i := len(pd.doc.Canaries) - 1; i >= 0; i-- { // narrowest first
		c := &pd.doc.Canaries[i]
		if !c.Scope.Matches(z.spec.Service, z.spec.Method) || c.Permille <= 0 {
			continue
		}
		types := pd.types[i]
		if slices.ContainsFunc(types, func(t string) bool { return slices.Contains(taken, t) }) {
			continue // a narrower canary changes one of its types here
		}
		taken = append(taken, types...)
		out = append(out, i)
	}
	return out
}

// resolvePolicyLocked builds z's zonePolicy under pd (nil: the document in
// force). rt.mu is held.
func (rt *Runtime) resolvePolicyLocked(z *Zone, pd *parsedDoc) *zonePolicy {
	if pd == nil {
		pd = rt.polDoc
	}
	zp := &zonePolicy{}
	zp.zoneSettings, zp.sources = rt.directiveSettings(z)
	if pd == nil {
		return zp
	}
	for i, o := range pd.doc.Overrides { // widest scope first: narrower ones win
		if o.Scope.Matches(z.spec.Service, z.spec.Method) {
			z.applyValues(&zp.zoneSettings, &pd.overrides[i], &zp.sources, "override "+string(o.Scope))
		}
	}
	var calls, procs []zoneCanary
	for _, i := range pd.canariesOf(z) {
		c := &pd.doc.Canaries[i]
		zc := zoneCanary{src: c, permille: uint32(min(c.Permille, policy.MaxPermille)), values: &pd.canaries[i]}
		if old := z.pol.Load(); old != nil {
			for _, oc := range old.canaries {
				if oc.cohorts.id == c.ID {
					zc.cohorts = oc.cohorts
				}
			}
		}
		if zc.cohorts == nil {
			zc.cohorts = &cohorts{id: c.ID, canary: newCallStats(), baseline: newCallStats()}
		}
		if annotations.SetsShared(*zc.values) {
			zc.byProcess, zc.member = true, rt.inProcessCohort(c)
			procs = append(procs, zc)
		} else if len(calls) < maxCallCanaries {
			calls = append(calls, zc)
		}
	}
	if len(calls)+len(procs) == 0 {
		return zp
	}
	for _, c := range procs {
		if c.member {
			z.applyValues(&zp.zoneSettings, c.values, &zp.sources, "canary "+c.src.Name())
		}
	}
	zp.canaries, zp.perCall = append(calls, procs...), len(calls)
	if len(calls) > 0 {
		zp.variants = make([]zoneSettings, 1<<len(calls))
		var src [nRuntimeKeys]string
		for mask := range zp.variants {
			v := zp.zoneSettings
			for i, c := range calls {
				if mask&(1<<i) != 0 {
					z.applyValues(&v, c.values, &src, "canary")
				}
			}
			zp.variants[mask] = v
		}
	}
	z.polGen++
	if z.polGen == 0 { // 0 is a permit drawn into no cohort
		z.polGen = 1
	}
	zp.gen = z.polGen
	return zp
}
