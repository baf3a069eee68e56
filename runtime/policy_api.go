package runtime

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/backoff"
	"github.com/baldur-go/baldur/runtime/policy"
	"github.com/baldur-go/baldur/runtime/schedule"
)

// ErrBadOverride marks an override or canary the runtime refused (wrong
// grammar, a key that cannot change at run time, an unknown scope, a value
// out of range): the error says which and why, and nothing was changed.
var ErrBadOverride = errors.New("policy override refused")

// ErrNoOverride is what Unset, PromoteCanary and ClearCanary return when the
// scope has nothing to remove.
var ErrNoOverride = errors.New("nothing staged for this scope")

type badOverride struct{ msg string }

func (e *badOverride) Error() string        { return e.msg }
func (e *badOverride) Is(target error) bool { return target == ErrBadOverride }

func refuse(format string, args ...any) error { return &badOverride{msg: fmt.Sprintf(format, args...)} }

// openPolicy starts the overrides on the runtime's store.
func (rt *Runtime) openPolicy(ctx context.Context) error {
	m, err := policy.New(ctx, policy.Options{Store: rt.store, Target: policyTarget{rt}, Logger: rt.log, Clock: rt.clock, Node: rt.node,
		PollInterval: rt.cfg.loopBeat, Beat: rt.beats.policy.Beat})
	if err != nil {
		return fmt.Errorf("baldur: policy overrides: %w", err)
	}
	rt.pol = m
	// Under the watchdog like the runtime's other loops with a ticker of
	// their own: on the real clock only.
	if rt.cfg.realClock && rt.fleet != nil {
		hb, err := rt.fleet.dog.Register(LoopPolicyWatcher, cmp.Or(rt.cfg.loopBeat, time.Second), m.Restart)
		if err != nil {
			return fmt.Errorf("baldur: policy overrides: %w", err)
		}
		rt.beats.policy.hb.Store(hb)
	}
	if rt.fleet != nil {
		if err := rt.Schedule(PolicyZonesTask, policyZonesEvery.String(), rt.publishZones, schedule.TaskOptions{Scope: schedule.EveryNode}); err != nil {
			return fmt.Errorf("baldur: policy overrides: %w", err)
		}
	}
	return nil
}

// policyTarget applies a document: every zone's settings are rebuilt and
// swapped in, one atomic store per zone.
type policyTarget struct{ rt *Runtime }

func (t policyTarget) Apply(d policy.Doc) {
	pd := parseDoc(d)
	rt := t.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.polDoc = pd
	for _, z := range rt.zones {
		z.setPolicy(rt.resolvePolicyLocked(z, pd))
	}
	rt.applySharedAllLocked(pd) // the breakers and compartments (policy_shared.go)
}

// Policies are the runtime's policy overrides and canaries (the README's
// "Policy overrides"). Changes go through the store (fleet-wide on Redis,
// kept across restarts by the embedded store) and reach every process
// within a second; each is logged as a policy.* event. Its methods are safe
// for concurrent use.
type Policies struct{ rt *Runtime }

// Policy returns the runtime's policy overrides.
func (rt *Runtime) Policy() *Policies { return &Policies{rt: rt} }

// Setting is one runtime key's value in a zone and where it comes from:
// "directive", "default", "env" (BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS),
// "compartment" (the registered compartment's wait) or "override <scope>".
type Setting struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Directive string `json:"directive"` // the value before any override
}

// ZonePolicy is the effective policy of one protected method.
type ZonePolicy struct {
	Service  string    `json:"service"`
	Method   string    `json:"method"`
	Settings []Setting `json:"settings"` // retry, backoff, timeout, bulkhead_wait; breaker_threshold, breaker_recovery, bulkhead
	// Canaries are the canaries in force on the method, at most one per
	// config type: each the variant it gives Permille calls in a thousand
	// (or, for shared keys, the processes in its cohort).
	Canaries []CanaryPolicy `json:"canaries,omitempty"`
}

// CanaryPolicy is one canary in force on one zone.
type CanaryPolicy struct {
	ID       string       `json:"id"`
	Rollout  string       `json:"rollout"`
	Scope    policy.Scope `json:"scope"`
	Values   string       `json:"values"`
	Types    []string     `json:"types"`
	Permille int          `json:"permille"`
	// ByProcess: the canary splits processes, not calls (its keys are
	// shared by the service's methods); Member: this process is in it.
	ByProcess bool      `json:"by_process,omitempty"`
	Member    bool      `json:"member,omitempty"`
	Settings  []Setting `json:"settings"` // Source "canary" where it differs from the baseline
}

func settingsOf(z *Zone, s *zoneSettings, src [nRuntimeKeys]string, dir *zoneSettings) []Setting {
	vals := func(s *zoneSettings) [nRuntimeKeys]string {
		return [nRuntimeKeys]string{strconv.Itoa(s.attempts), s.backoff.String(), durOff(s.timeout), durOff(s.bulkheadWait)}
	}
	v, d := vals(s), vals(dir)
	out := make([]Setting, 0, nRuntimeKeys)
	for k := range nRuntimeKeys {
		if k == keyTimeout && !z.bounded || k == keyBulkheadWait && z.bulkhead == nil {
			continue // the generated code has no such policy: no override reaches it
		}
		out = append(out, Setting{Key: runtimeKeyNames[k], Value: v[k], Source: src[k], Directive: d[k]})
	}
	return out
}

func durOff(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	return backoff.ShortDuration(d)
}

func (rt *Runtime) zonesSorted() []*Zone {
	rt.mu.Lock()
	zs := make([]*Zone, 0, len(rt.zones))
	for _, z := range rt.zones {
		zs = append(zs, z)
	}
	rt.mu.Unlock()
	sort.Slice(zs, func(i, j int) bool {
		if zs[i].spec.Service != zs[j].spec.Service {
			return zs[i].spec.Service < zs[j].spec.Service
		}
		return zs[i].spec.Method < zs[j].spec.Method
	})
	return zs
}

// List returns the effective policy of every protected method the scope
// covers ("" or "*": all), sorted by service and method.
func (p *Policies) List(scope string) ([]ZonePolicy, error) {
	zs, _, err := p.zonesOf(scope)
	if err != nil {
		return nil, err
	}
	out := make([]ZonePolicy, 0, len(zs))
	for _, z := range zs {
		zp := z.pol.Load()
		dir, _ := p.rt.directiveSettings(z)
		e := ZonePolicy{Service: z.spec.Service, Method: z.spec.Method, Settings: settingsOf(z, &zp.zoneSettings, zp.sources, &dir)}
		e.Settings = append(e.Settings, p.rt.sharedSettings(z)...)
		for _, zc := range zp.canaries {
			v := zp.zoneSettings
			var src [nRuntimeKeys]string
			z.applyValues(&v, zc.values, &src, "canary")
			cs := settingsOf(z, &v, zp.sources, &dir)
			bs := settingsOf(z, &zp.zoneSettings, zp.sources, &dir)
			for i := range cs {
				if cs[i].Value != bs[i].Value {
					cs[i].Source = "canary"
				}
			}
			c := zc.src
			e.Canaries = append(e.Canaries, CanaryPolicy{ID: c.ID, Rollout: c.Name(), Scope: c.Scope, Values: c.Values,
				Types: annotations.RolloutTypes(*zc.values), Permille: c.Permille, ByProcess: zc.byProcess, Member: zc.member, Settings: cs})
		}
		out = append(out, e)
	}
	return out, nil
}

// Change is one setting an override changes against the directive.
type Change struct {
	Service   string `json:"service"`
	Method    string `json:"method"`
	Key       string `json:"key"`
	Directive string `json:"directive"`
	Value     string `json:"value"`
	Source    string `json:"source"` // "override <scope>"
}

// Diff returns what the overrides change against the directives, per
// protected method the scope covers ("" or "*": all).
func (p *Policies) Diff(scope string) ([]Change, error) {
	list, err := p.List(scope)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, e := range list {
		for _, s := range e.Settings {
			if strings.HasPrefix(s.Source, "override ") && s.Value != s.Directive {
				out = append(out, Change{Service: e.Service, Method: e.Method, Key: s.Key, Directive: s.Directive, Value: s.Value, Source: s.Source})
			}
		}
	}
	return out, nil
}

// Doc returns the stored overrides and canaries as this process holds them.
func (p *Policies) Doc() policy.Doc { return p.rt.pol.Doc() }

// Refresh re-reads the overrides from the store now.
func (p *Policies) Refresh(ctx context.Context) error { return p.rt.pol.Refresh(ctx) }

// zonesOf returns the zones a scope covers; an unknown service or method is
// an ErrBadOverride naming what this process protects.
func (p *Policies) zonesOf(scope string) ([]*Zone, policy.Scope, error) {
	if scope == "" {
		scope = string(policy.All)
	}
	sc, err := policy.ParseScope(scope)
	if err != nil {
		return nil, "", refuse("%v", err)
	}
	all := p.rt.zonesSorted()
	var zs []*Zone
	for _, z := range all {
		if sc.Matches(z.spec.Service, z.spec.Method) {
			zs = append(zs, z)
		}
	}
	if len(zs) == 0 && sc != policy.All {
		facts := make([]zoneFacts, len(all))
		for i, z := range all {
			facts[i] = zoneFacts{Service: z.spec.Service, Method: z.spec.Method}
		}
		return nil, "", unknownScope(sc, facts, "this process")
	}
	return zs, sc, nil
}

// check parses values for scope and checks them against every method of
// the fleet the scope covers (this process's, and those other processes
// published: fleetFacts); it returns the canonical values.
func (p *Policies) check(ctx context.Context, scope, values string) (policy.Scope, string, error) {
	if scope == "" {
		scope = string(policy.All)
	}
	sc, err := policy.ParseScope(scope)
	if err != nil {
		return "", "", refuse("%v", err)
	}
	all := p.rt.fleetFacts(ctx)
	var fs []zoneFacts
	for _, f := range all {
		if sc.Matches(f.Service, f.Method) {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 && sc != policy.All {
		return "", "", unknownScope(sc, all, "the fleet")
	}
	o, err := annotations.ParseOverride(values)
	if err != nil {
		return "", "", refuse("scope %q: %v", sc, err)
	}
	if err := checkShared(sc, o, fs); err != nil {
		return "", "", err
	}
	applied := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		zo := o
		sharedApplies(f, &zo)
		// Keys whose policy the generated code of f does not have: refused
		// for one method, left out for a wider scope.
		if zo.Timeout.Set && !f.Bounded {
			if sc.Rank() == 2 {
				return "", "", refuse("scope %q: timeout: the method has no timeout in its generated code (no timeout= and no default "+
					"timeout applies to it); add timeout= to its directive and regenerate", sc)
			}
			zo.Timeout = annotations.Opt[time.Duration]{}
		}
		if zo.BulkheadWait.Set && f.Bulkhead == 0 {
			if sc.Rank() == 2 {
				return "", "", refuse("scope %q: bulkhead_wait: the method has no bulkhead (bulkhead= or compartment=); "+
					"add one to its directive and regenerate", sc)
			}
			zo.BulkheadWait = annotations.Opt[time.Duration]{}
		}
		if err := annotations.CheckOverride(basePolicy(f), zo); err != nil {
			return "", "", refuse("scope %q: %s: %v", sc, f.name(), err)
		}
		for _, k := range annotations.RuntimeKeys() {
			if kk := annotations.KeyByName(k); kk.IsSet(&zo) {
				applied[k] = true
			}
		}
	}
	for _, k := range annotations.RuntimeKeys() {
		if kk := annotations.KeyByName(k); kk.IsSet(&o) && !applied[k] {
			return "", "", refuse("scope %q: %s: no method in this scope has that policy in its generated code", sc, k)
		}
	}
	return sc, o.String(), nil
}

// unknownScope is the refusal of a scope that names none of the methods
// all, listing what who ("this process", "the fleet") protects.
func unknownScope(sc policy.Scope, all []zoneFacts, who string) error {
	svc, m := sc.Split()
	var known []string
	for _, f := range all {
		name := f.name()
		if m == "" {
			name = f.Service
		}
		if !slices.Contains(known, name) {
			known = append(known, name)
		}
	}
	what := "service " + strconv.Quote(svc)
	if m != "" {
		what = "method " + strconv.Quote(string(sc))
	}
	if len(known) == 0 {
		return refuse("scope %q: unknown %s: %s protects no methods yet", sc, what, who)
	}
	if len(known) > 12 {
		known = append(known[:12], "...")
	}
	return refuse("scope %q: unknown %s; %s protects: %s", sc, what, who, strings.Join(known, ", "))
}

func (p *Policies) event(ctx context.Context, name string, attrs ...slog.Attr) {
	if ctx.Value(auditedKey{}) != nil {
		attrs = append(attrs, slog.Bool("audited", true))
	}
	p.rt.log.LogAttrs(ctx, slog.LevelInfo, name, attrs...)
}

type auditedKey struct{}

// AuditedByCaller marks ctx as a request whose caller writes its own audit
// record of the change (the admin server's gate layer does): the policy.*
// event of a change made under it is not recorded a second time. Without
// it, every change through Policies is recorded from its event.
func AuditedByCaller(ctx context.Context) context.Context {
	return context.WithValue(ctx, auditedKey{}, true)
}

// Set stores values ("retry=5 timeout=2s", the directive's grammar) as the
// override of scope ("service.Method", "service" or "*"), merged over the
// scope's earlier override key by key; by and reason are recorded. A bad
// override is an ErrBadOverride and changes nothing.
func (p *Policies) Set(ctx context.Context, scope, values, by, reason string) (policy.Override, error) {
	sc, canon, err := p.check(ctx, scope, values)
	if err != nil {
		return policy.Override{}, err
	}
	var out policy.Override
	_, err = p.rt.pol.Update(ctx, func(d *policy.Doc) error {
		merged := canon
		if old, ok := d.Override(sc); ok {
			merged = mergeValues(old.Values, canon)
		}
		out = policy.Override{Scope: sc, Values: merged, By: by, Reason: reason, At: p.rt.pol.Now().UTC()}
		d.PutOverride(out)
		return nil
	})
	if err != nil {
		return policy.Override{}, err
	}
	p.event(ctx, "policy.override_set", slog.String("scope", string(sc)), slog.String("values", out.Values),
		slog.String("by", by), slog.String("reason", reason))
	return out, nil
}

// mergeValues merges override text b over a, key by key.
func mergeValues(a, b string) string {
	pa, _ := annotations.ParseOverride(a)
	pb, _ := annotations.ParseOverride(b)
	return annotations.Merge(pa, pb).String()
}

// Unset removes the override of scope; ErrNoOverride when it has none.
func (p *Policies) Unset(ctx context.Context, scope, by, reason string) error {
	sc, err := policy.ParseScope(scope)
	if err != nil {
		return refuse("%v", err)
	}
	_, err = p.rt.pol.Update(ctx, func(d *policy.Doc) error {
		if !d.DeleteOverride(sc) {
			return fmt.Errorf("scope %q: %w", sc, ErrNoOverride)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.event(ctx, "policy.override_unset", slog.String("scope", string(sc)), slog.String("by", by), slog.String("reason", reason))
	return nil
}

// StageCanary stages values (the directive's grammar, merged over each
// zone's baseline) as the canary named rollout, for permille calls in a
// thousand (1..1000) of every method scope covers, replacing rollout's
// earlier staging; the cohort counters start again. A canary of keys shared
// by a service's methods (a compartment's size) splits processes instead:
// a process is in its cohort when a hash of its name and the rollout falls
// below the fraction. A timeout= canary bounds the attempts of its cohort's
// calls only (code generated as GeneratedCodeVersion4 and later; earlier
// code's attempts keep the baseline's). A scope holds one canary per config type
// (annotations.RolloutTypes): another rollout's canary changing one of its
// types there is refused. rollout "" names the canary by its ID. A bad
// canary is an ErrBadOverride.
func (p *Policies) StageCanary(ctx context.Context, rollout, scope, values string, permille int, by string) (policy.Canary, error) {
	if permille < 1 || permille > policy.MaxPermille {
		return policy.Canary{}, refuse("permille %d is out of range; want 1..1000 (calls in a thousand that take the canary)", permille)
	}
	sc, canon, err := p.check(ctx, scope, values)
	if err != nil {
		return policy.Canary{}, err
	}
	o, _ := annotations.ParseOverride(canon)
	c := policy.Canary{ID: newCanaryID(), Rollout: rollout, Scope: sc, Values: canon, Types: annotations.RolloutTypes(o),
		Permille: permille, By: by, At: p.rt.pol.Now().UTC()}
	if c.Rollout == "" {
		c.Rollout = c.ID
	}
	_, err = p.rt.pol.Update(ctx, func(d *policy.Doc) error {
		for _, x := range d.Canaries {
			if t, ok := c.Overlaps(x); ok && x.Name() != c.Name() {
				return refuse("scope %q: %s: canary %s already changes %s there (one canary per config type and scope); clear it or wait for its rollout to end",
					sc, t, x.Name(), t)
			}
		}
		d.PutCanary(c)
		return nil
	})
	if err != nil {
		return policy.Canary{}, err
	}
	p.event(ctx, "policy.canary_staged", slog.String("scope", string(sc)), slog.String("values", canon),
		slog.Int("permille", permille), slog.String("id", c.ID), slog.String("rollout", c.Rollout), slog.String("by", by))
	return c, nil
}

// PromoteCanary makes the canary named rollout its scope's override
// (merged over an earlier override) for every call, and removes the canary,
// in one change. ErrNoOverride when there is no such canary.
func (p *Policies) PromoteCanary(ctx context.Context, rollout, by string) (policy.Override, error) {
	var out policy.Override
	var c policy.Canary
	_, err := p.rt.pol.Update(ctx, func(d *policy.Doc) error {
		var ok bool
		if c, ok = d.Canary(rollout); !ok {
			return fmt.Errorf("canary %q: %w", rollout, ErrNoOverride)
		}
		values := c.Values
		if old, ok := d.Override(c.Scope); ok {
			values = mergeValues(old.Values, c.Values)
		}
		out = policy.Override{Scope: c.Scope, Values: values, By: by, Reason: "canary " + c.Name() + " promoted", At: p.rt.pol.Now().UTC()}
		d.PutOverride(out)
		d.DeleteCanary(rollout)
		return nil
	})
	if err != nil {
		return policy.Override{}, err
	}
	p.event(ctx, "policy.canary_promoted", slog.String("scope", string(c.Scope)), slog.String("values", out.Values),
		slog.String("id", c.ID), slog.String("rollout", c.Name()), slog.String("by", by))
	return out, nil
}

// ClearCanary removes the canary named rollout: every call takes the
// baseline again. ErrNoOverride when there is none.
func (p *Policies) ClearCanary(ctx context.Context, rollout, by string) error {
	var c policy.Canary
	_, err := p.rt.pol.Update(ctx, func(d *policy.Doc) error {
		var ok bool
		if c, ok = d.Canary(rollout); !ok {
			return fmt.Errorf("canary %q: %w", rollout, ErrNoOverride)
		}
		d.DeleteCanary(rollout)
		return nil
	})
	if err != nil {
		return err
	}
	p.event(ctx, "policy.canary_cleared", slog.String("scope", string(c.Scope)), slog.String("rollout", c.Name()), slog.String("by", by))
	return nil
}

// Cohorts returns the attempts of the cohort of the canary named rollout
// and of its baseline since it was staged, summed over this process's
// zones: Successes, Failures (classified as the breaker does), Ignored and
// the sampled durations (Samples, SumNanos, Buckets over DurationBuckets).
// Service and Method are the canary's scope's. A zone where a narrower
// canary of the same type stands adds nothing. Counts are this process's: a
// fleet-wide view sums them over processes. ErrNoOverride when this process
// holds no such canary.
func (p *Policies) Cohorts(rollout string) (canary, baseline CallStats, err error) {
	d := p.rt.pol.Doc()
	c, ok := d.Canary(rollout)
	if !ok {
		return CallStats{}, CallStats{}, fmt.Errorf("canary %q: %w", rollout, ErrNoOverride)
	}
	svc, m := c.Scope.Split()
	canary = CallStats{Service: svc, Method: m, Buckets: make([]uint64, len(DurationBuckets)+1)}
	baseline = CallStats{Service: svc, Method: m, Buckets: make([]uint64, len(DurationBuckets)+1)}
	for _, z := range p.rt.zonesSorted() {
		for _, zc := range z.pol.Load().canaries {
			if zc.cohorts.id == c.ID {
				addStats(&canary, zc.cohorts.canary.read())
				addStats(&baseline, zc.cohorts.baseline.read())
			}
		}
	}
	return canary, baseline, nil
}

func addStats(dst *CallStats, s CallStats) {
	dst.Successes += s.Successes
	dst.Failures += s.Failures
	dst.Ignored += s.Ignored
	dst.Samples += s.Samples
	dst.SumNanos += s.SumNanos
	for i := range s.Buckets {
		dst.Buckets[i] += s.Buckets[i]
	}
}

// newCanaryID names one staging of a canary.
func newCanaryID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
