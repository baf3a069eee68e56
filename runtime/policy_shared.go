package runtime

import (
	"fmt"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/policy"
)

// The settings a service's methods share (the README's "Policy overrides"):
// the breaker's threshold and recovery timeout, and the size of the
// compartment bulkhead= makes. They are not in a zone's zonePolicy, which a
// call reads per attempt: they live in the breaker and the compartment
// themselves, changed in place when the overrides change (SetLimits,
// resize). An override of them is taken at service scope or "*" only
// (annotations.CheckMethodOverride); a canary of them splits processes,
// not calls (annotations.SetsShared): a process in its cohort takes its
// values for every call.

// The shared keys, in the key table's order.
const (
	keyBreakerThreshold = iota
	keyBreakerRecovery
	keyBulkheadSize
	nSharedKeys
)

var sharedKeyNames = [nSharedKeys]string{"breaker_threshold", "breaker_recovery", "bulkhead"}

// sharedValues are the shared settings of one zone: the breaker's, when the
// zone has one, and the size of its own compartment (bulkhead=), when it
// has one; where each comes from; and which apply to it.
type sharedValues struct {
	threshold int
	recovery  time.Duration
	size      int64
	src       [nSharedKeys]string
	has       [nSharedKeys]bool
}

// breakerOrigin is what the zone that built a service's breaker said of it.
type breakerOrigin struct {
	threshold int
	recovery  time.Duration
	zone      string // "service.Method"
}

// breakerSettingsLocked is what a new breaker of spec's service is built
// from: Config.Breaker (BALDUR_CB_*) under spec's breaker_threshold= and
// breaker_recovery=. A zone of the service that disagrees with the zone that
// built its breaker is refused: the breaker is the service's. rt.mu is held.
func (rt *Runtime) breakerSettingsLocked(spec ZoneSpec) (breaker.Settings, error) {
	if o, ok := rt.breakerFrom[spec.Service]; ok {
		if o.threshold != spec.BreakerThreshold || o.recovery != spec.BreakerRecovery {
			return breaker.Settings{}, fmt.Errorf("baldur: %s.%s: breaker_threshold=%s breaker_recovery=%s disagree with %s "+
				"(breaker_threshold=%s breaker_recovery=%s), which built service %q's breaker first: one breaker serves the "+
				"service; write the same breaker keys on every interface named %s",
				spec.Service, spec.Method, unsetOr(strconv.Itoa(spec.BreakerThreshold), spec.BreakerThreshold == 0),
				unsetOr(durOff(spec.BreakerRecovery), spec.BreakerRecovery == 0), o.zone,
				unsetOr(strconv.Itoa(o.threshold), o.threshold == 0), unsetOr(durOff(o.recovery), o.recovery == 0),
				spec.Service, spec.Service)
		}
	}
	s := rt.cfg.Breaker
	if spec.BreakerThreshold > 0 {
		if s.MinimumCalls == s.FailureThreshold { // implied by the threshold: it follows
			s.MinimumCalls = 0
		}
		s.FailureThreshold = spec.BreakerThreshold
	}
	if spec.BreakerRecovery > 0 {
		if s.HalfOpenMaxWait == s.RecoveryTimeout { // it followed the recovery timeout: it still does
			s.HalfOpenMaxWait = 0
		}
		s.RecoveryTimeout = spec.BreakerRecovery
	}
	return s, nil
}

func unsetOr(v string, unset bool) string {
	if unset {
		return "(unset)"
	}
	return v
}

// noteBreakerLocked records that spec's zone built its service's breaker.
func (rt *Runtime) noteBreakerLocked(spec ZoneSpec) {
	if rt.breakerFrom == nil {
		rt.breakerFrom = map[string]breakerOrigin{}
	}
	rt.breakerFrom[spec.Service] = breakerOrigin{threshold: spec.BreakerThreshold, recovery: spec.BreakerRecovery,
		zone: spec.Service + "." + spec.Method}
}

// sharedDirective is z's shared settings before any override.
func (rt *Runtime) sharedDirective(z *Zone) sharedValues {
	var v sharedValues
	spec := z.spec
	if z.breaker != nil {
		v.has[keyBreakerThreshold], v.has[keyBreakerRecovery] = true, true
		v.threshold, v.src[keyBreakerThreshold] = spec.BreakerThreshold, "directive"
		if v.threshold <= 0 {
			v.threshold, v.src[keyBreakerThreshold] = rt.cfg.Breaker.FailureThreshold, envOrDefault(rt.cfg.Breaker.FailureThreshold == breaker.DefaultFailureThreshold)
		}
		v.recovery, v.src[keyBreakerRecovery] = spec.BreakerRecovery, "directive"
		if v.recovery <= 0 {
			v.recovery, v.src[keyBreakerRecovery] = rt.cfg.Breaker.RecoveryTimeout, envOrDefault(rt.cfg.Breaker.RecoveryTimeout == breaker.DefaultRecoveryTimeout)
		}
	}
	if ownCompartment(z) {
		v.has[keyBulkheadSize] = true
		v.size, v.src[keyBulkheadSize] = z.bulkhead.built, "directive" // the first zone's bulkhead=, which built it
	}
	return v
}

// envOrDefault names where a Config.Breaker value comes from: BALDUR_CB_*
// (or Config) when it is not the breaker's default.
func envOrDefault(isDefault bool) string {
	if isDefault {
		return "default"
	}
	return "env"
}

// ownCompartment reports whether z's compartment is the one bulkhead= makes
// (not a registered one, which compartment= names).
func ownCompartment(z *Zone) bool { return z.bulkhead != nil && z.spec.Bulkhead > 0 }

// sharedSettingsLocked is z's shared settings under pd: the directive's,
// under the overrides of "*" and of z's service, the narrower winning.
// rt.mu is held.
func (rt *Runtime) sharedSettingsLocked(z *Zone, pd *parsedDoc) sharedValues {
	v := rt.sharedDirective(z)
	if pd == nil {
		return v
	}
	for i, o := range pd.doc.Overrides { // widest scope first
		if o.Scope.Rank() == 2 || !o.Scope.Matches(z.spec.Service, z.spec.Method) {
			continue // a method's override cannot carry these keys (check)
		}
		p, from := &pd.overrides[i], "override "+string(o.Scope)
		v.apply(p, from)
	}
	for _, i := range pd.canariesOf(z) { // a canary of shared keys this process is in
		if c := &pd.doc.Canaries[i]; annotations.SetsShared(pd.canaries[i]) && rt.inProcessCohort(c) {
			v.apply(&pd.canaries[i], "canary "+c.Name())
		}
	}
	return v
}

// apply sets on v the shared keys p sets that v's zone has.
func (v *sharedValues) apply(p *annotations.Policy, from string) {
	if p.BreakerThreshold.Set && v.has[keyBreakerThreshold] {
		v.threshold, v.src[keyBreakerThreshold] = p.BreakerThreshold.Val, from
	}
	if p.BreakerRecovery.Set && v.has[keyBreakerRecovery] {
		v.recovery, v.src[keyBreakerRecovery] = p.BreakerRecovery.Val, from
	}
	if p.Bulkhead.Set && p.Bulkhead.Val > 0 && v.has[keyBulkheadSize] {
		v.size, v.src[keyBulkheadSize] = int64(p.Bulkhead.Val), from
	}
}

// applySharedLocked puts the shared settings of zs under pd (nil: the
// document in force) into their breakers and compartments. It runs when
// the overrides change and when a zone is built; what it sets is the same
// for every zone of a service. rt.mu is held.
func (rt *Runtime) applySharedLocked(pd *parsedDoc, zs ...*Zone) {
	if pd == nil {
		pd = rt.polDoc
	}
	reserve := func(size int64) int64 { return emergencyReserve(size, rt.EmergencyLevel()) }
	for _, z := range zs {
		v := rt.sharedSettingsLocked(z, pd)
		if v.has[keyBreakerThreshold] {
			z.breaker.SetLimits(v.threshold, v.recovery)
		}
		if v.has[keyBulkheadSize] && z.bulkhead.Max() != v.size {
			z.bulkhead.resize(v.size, reserve)
		}
	}
}

// applySharedAllLocked is applySharedLocked on every zone. rt.mu is held.
func (rt *Runtime) applySharedAllLocked(pd *parsedDoc) {
	for _, z := range rt.zones {
		rt.applySharedLocked(pd, z)
	}
}

// sharedSettings are z's shared settings for List, each with where it comes
// from and the value before any override.
func (rt *Runtime) sharedSettings(z *Zone) []Setting {
	rt.mu.Lock()
	v, dir := rt.sharedSettingsLocked(z, rt.polDoc), rt.sharedDirective(z)
	rt.mu.Unlock()
	vals := func(v *sharedValues) [nSharedKeys]string {
		return [nSharedKeys]string{strconv.Itoa(v.threshold), durOff(v.recovery), strconv.FormatInt(v.size, 10)}
	}
	cur, d := vals(&v), vals(&dir)
	var out []Setting
	for k := range nSharedKeys {
		if v.has[k] {
			out = append(out, Setting{Key: sharedKeyNames[k], Value: cur[k], Source: v.src[k], Directive: d[k]})
		}
	}
	return out
}

// checkShared refuses the shared keys of o in an override of one method,
// and those that no zone of zs (the scope's) has, saying why.
func checkShared(sc policy.Scope, o annotations.Policy, fs []zoneFacts) error {
	if sc.Rank() == 2 {
		svc, _ := sc.Split()
		if err := annotations.CheckMethodOverride(svc, o); err != nil {
			return refuse("scope %q: %v", sc, err)
		}
		return nil
	}
	var breakers, own bool
	for _, f := range fs {
		breakers = breakers || f.Breaker
		own = own || f.OwnCompartment
	}
	switch {
	case (o.BreakerThreshold.Set || o.BreakerRecovery.Set) && !breakers:
		return refuse("scope %q: the breaker's keys: no method in this scope has a breaker (breaker=off)", sc)
	case o.Bulkhead.Set && !own:
		return refuse("scope %q: bulkhead: no method in this scope has a compartment of its own (bulkhead=); a registered "+
			"compartment (compartment=) is sized by Config.Compartments or BALDUR_BULKHEAD_<NAME>", sc)
	}
	return nil
}

// sharedApplies leaves out of zo (an override as checked against z) the
// shared keys z does not have: the breaker's on a zone with breaker=off,
// bulkhead on a zone with no compartment of its own (none, or a registered
// one, which compartment= names and Config sizes).
func sharedApplies(f *zoneFacts, zo *annotations.Policy) {
	if !f.Breaker {
		zo.BreakerThreshold, zo.BreakerRecovery = annotations.Opt[int]{}, annotations.Opt[time.Duration]{}
	}
	if !f.OwnCompartment {
		zo.Bulkhead = annotations.Opt[int]{}
	}
}
