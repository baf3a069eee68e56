package runtime

import (
	"context"
	"time"
	_ "unsafe" // go:linkname

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/policy"
)

// A zone's run-time settings (the README's "Policy overrides"). Everything
// an override or a canary may change is in one zonePolicy, built off the hot
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
	zoneSettings               // the baseline: directive, environment, overrides
	canary       *zoneSettings // the canary variant; nil: no canary staged
	permille     uint32        // calls in a thousand that take the canary
	cohorts      *cohorts      // the canary's counters; nil without a canary

	// Provenance, for List; never read by a call.
	sources   [nRuntimeKeys]string // where each baseline setting comes from
	canarySrc *policy.Canary       // the canary in force
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

// cohorts counts a canary's calls and the baseline's, from its staging.
type cohorts struct {
	id               string
	canary, baseline *callStats
}

// settings returns the variant a permit's attempt runs with.
func (zp *zonePolicy) settings(flags uint8) *zoneSettings {
	return zp.variant(flags&permitCanary != 0)
}

func (zp *zonePolicy) variant(canary bool) *zoneSettings {
	if canary && zp.canary != nil {
		return zp.canary
	}
	return &zp.zoneSettings
}

//go:linkname cheaprand runtime.cheaprand
func cheaprand() uint32

// enterCohort is Enter while a canary is staged: the call joins the canary
// cohort with probability permille/1000 (the runtime's per-M random
// generator: no lock, no shared counter, no allocation), and its attempt
// is counted in its cohort by Done.
func (z *Zone) enterCohort(ctx context.Context) (Permit, error) {
	zp := z.pol.Load()
	f := permitCohort
	canary := zp.canary != nil && cheaprand()%1000 < zp.permille
	if canary {
		f |= permitCanary
	}
	p, err := z.enter(ctx, f)
	if err != nil {
		return p, err
	}
	if c := zp.cohorts; c != nil && p.start == 0 {
		s := c.baseline
		if canary {
			s = c.canary
		}
		p.start = z.rt.sampleStart(s)
	}
	return p, nil
}

// cohortDone counts a cohort attempt's outcome and sampled duration, and
// returns the permit as Done's other paths expect it.
func (z *Zone) cohortDone(ctx context.Context, p Permit, err error) Permit {
	canary := p.flags&permitCanary != 0
	p.flags &^= permitCohort | permitCanary
	if c := z.pol.Load().cohorts; c != nil {
		s := c.baseline
		if canary {
			s = c.canary
		}
		switch {
		case err == nil:
			s.success()
		default:
			switch classify(ctx, err, z.rt.cfg.Classifier) {
			case Success:
				s.success()
			case Failure:
				s.failures.Add(1)
			default:
				s.ignored.Add(1)
			}
		}
		if p.start != 0 {
			s.observe(time.Since(z.rt.epoch) - time.Duration(p.start))
		}
	}
	if z.stats == nil {
		p.start = 0 // the sample was the cohort's
	}
	return p
}

// parsedDoc is a policy document with its values parsed once.
type parsedDoc struct {
	doc       policy.Doc
	overrides []annotations.Policy // one per doc.Overrides
	canaries  []annotations.Policy // one per doc.Canaries
}

func parseDoc(d policy.Doc) *parsedDoc {
	pd := &parsedDoc{doc: d, overrides: make([]annotations.Policy, len(d.Overrides)), canaries: make([]annotations.Policy, len(d.Canaries))}
	for i, o := range d.Overrides {
		pd.overrides[i], _ = annotations.ParseOverride(o.Values) // checked when stored; a bad one changes nothing
	}
	for i, c := range d.Canaries {
		pd.canaries[i], _ = annotations.ParseOverride(c.Values)
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
	ci := -1
	for i, c := range pd.doc.Canaries { // the narrowest canary covering z
		if c.Scope.Matches(z.spec.Service, z.spec.Method) && c.Permille > 0 {
			ci = i
		}
	}
	if ci >= 0 {
		c := pd.doc.Canaries[ci]
		v := zp.zoneSettings
		var src [nRuntimeKeys]string
		z.applyValues(&v, &pd.canaries[ci], &src, "canary")
		zp.canary, zp.permille, zp.canarySrc = &v, uint32(min(c.Permille, policy.MaxPermille)), &c
		if old := z.pol.Load(); old != nil && old.cohorts != nil && old.cohorts.id == c.ID {
			zp.cohorts = old.cohorts
		} else {
			zp.cohorts = &cohorts{id: c.ID, canary: newCallStats(), baseline: newCallStats()}
		}
	}
	return zp
}
