package annotations

import (
	"fmt"
	"go/scanner"
	"go/token"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/backoff"
)

// Level is where a key may be written: on the interface's directive, on a
// method's, or both.
type Level uint8

const (
	OnInterface Level = 1 << iota // the interface's //baldur:protect
	OnMethod                      // a method's //baldur:protect
	Anywhere    = OnInterface | OnMethod
)

func (l Level) String() string {
	switch l {
	case OnInterface:
		return "the interface"
	case OnMethod:
		return "a method"
	}
	return "the interface or a method"
}

// Key is one row of the directive key table: everything parsing, merging,
// printing, checking and the generator need to know about a key. See the
// package doc, "How to add a key".
type Key struct {
	// Name is the key as written in a directive.
	Name string
	// Want says what the key accepts, ending every error about its value:
	// "1..100 or off".
	Want string
	// Example is a valid value, shown when a key needs a value but was
	// written bare; empty for switches (a bare switch means on).
	Example string
	// Levels is where the key may be written; zero means Anywhere.
	Levels Level
	// Requires names the key this one tunes (backoff tunes retry). The
	// key is an error unless the required key is set and on, and a method
	// that switches the required key off also drops the interface's value
	// of this one (Merge).
	Requires string
	// Enable says how to switch the key on, in "set ... or remove ..."
	// hints of the keys that require it: "retry=1..100". Empty means
	// Name=on.
	Enable string
	// Feature marks a key that asks for a policy by itself (retry,
	// timeout, dlq, ...): written and on, it needs a method with an error
	// result, and the generator refuses it elsewhere.
	Feature bool
	// Spec names the generator Spec (runtime.ZoneSpec) field that takes
	// the key's value when the key is on in the merged policy; the value's
	// Go type must be the field's. Empty when the generator derives the
	// field itself (retry gives Attempts; breaker is on by default).
	Spec string
	// Conflict reports a combination of values the key cannot take with
	// the rest of the merged policy, as a message positioned at the key;
	// nil for none. It runs only when the key's requirements hold. lineCol
	// spells another key's position for the message.
	Conflict func(p *Policy, lineCol func(token.Pos) string) string
	// Runtime marks a key an operator may override while the service runs
	// (baldur policy set; the README's "Policy overrides"): the runtime
	// reads its value from the zone's one atomic policy pointer, and a new
	// value changes no generated code. Every other key changes what the
	// generator writes and is refused at run time (ParseOverride).
	Runtime bool
	// Rollout is the config type a canary of a Runtime key changes (retry,
	// timeout, breaker or bulkhead): a scope holds one canary rollout per
	// type at a time. Every Runtime key has one.
	Rollout string
	// Shared names, for a Runtime key, what the key tunes when the
	// service's methods share it ("the service's breaker"): an override of
	// the key is refused for one method (CheckMethodOverride), and a canary
	// of it splits processes, not calls (SetsShared). Empty for a per-method
	// setting.
	Shared string
	// NoOff is, for a Runtime key that takes off, why an override may not
	// switch it off; empty when it may.
	NoOff string

	field field // the Policy field and the value's kind; see opt
}

// IsSet reports whether the key is written in p.
func (k *Key) IsSet(p *Policy) bool { return k.field.isSet(p) }

// On reports whether the key is written in p and switched on: a count or
// duration other than off, a non-empty name, a switch that is on.
func (k *Key) On(p *Policy) bool { return k.field.isSet(p) && k.field.on(p) }

// Pos is where the key is written in p; token.NoPos when it is not.
func (k *Key) Pos(p *Policy) token.Pos { return k.field.pos(p) }

// Value is the key's parsed value in p (an int, time.Duration, string,
// bool or backoff.Policy), or nil when it is not set.
func (k *Key) Value(p *Policy) any {
	if !k.IsSet(p) {
		return nil
	}
	return k.field.value(p)
}

// Text writes the key as a directive argument, "retry=3"; "" when unset.
func (k *Key) Text(p *Policy) string {
	if !k.IsSet(p) {
		return ""
	}
	return k.Name + "=" + k.field.format(p)
}

func (k *Key) bare() string { return k.field.bare() }
func (k *Key) level() Level {
	if k.Levels == 0 {
		return Anywhere
	}
	return k.Levels
}

func (k *Key) enable() string {
	if k.Enable != "" {
		return k.Enable
	}
	return k.Name + "=on"
}

// Keys returns the key table in the order of the README's table; Policy.String
// writes keys in this order too. The slice is shared: do not modify it.
func Keys() []Key { return keys }

// KeyByName returns the table row of a key, or nil.
func KeyByName(name string) *Key {
	for i := range keys {
		if keys[i].Name == name {
			return &keys[i]
		}
	}
	return nil
}

// keys is the directive key table. Adding a key is one row here, a field in
// Policy, and the runtime's use of it (the package doc has the recipe).
var keys = []Key{
	{Name: "name", Want: `lower-case letters, digits, "_", "." or "-"`, Example: "payments",
		field: opt(label(false), func(p *Policy) *Opt[string] { return &p.Name })},
	{Name: "breaker", Want: wantSwitch, Feature: true,
		field: opt(onOff, func(p *Policy) *Opt[bool] { return &p.Breaker })},
	{Name: "breaker_threshold", Want: "1..1000", Example: "10", Levels: OnInterface, Spec: "BreakerThreshold", Runtime: true,
		Rollout: RolloutBreaker, Shared: "the service's breaker",
		field: opt(number(maxBreakerThreshold), func(p *Policy) *Opt[int] { return &p.BreakerThreshold })},
	{Name: "breaker_recovery", Want: "a Go duration such as 30s, at most 1h", Example: "30s", Levels: OnInterface, Spec: "BreakerRecovery",
		Runtime: true, Rollout: RolloutBreaker, Shared: "the service's breaker",
		field: opt(duration(false, maxBreakerRecovery), func(p *Policy) *Opt[time.Duration] { return &p.BreakerRecovery })},
	{Name: "retry", Want: "1..100 or off", Example: "3", Feature: true, Enable: "retry=1..100", Runtime: true, Rollout: RolloutRetry,
		field: opt(count(maxRetry), func(p *Policy) *Opt[int] { return &p.Retry })},
	{Name: "backoff", Want: "exp(base,max) or const(d), such as exp(100ms,10s)", Example: "exp(100ms,10s)",
		Requires: "retry", Runtime: true, Rollout: RolloutRetry,
		field: opt(backoffKind, func(p *Policy) *Opt[backoff.Policy] { return &p.Backoff })},
	{Name: "timeout", Want: wantDuration + ", or off", Example: "5s", Feature: true, Spec: "Timeout", Runtime: true, Rollout: RolloutTimeout,
		field: opt(duration(true, maxTimeout), func(p *Policy) *Opt[time.Duration] { return &p.Timeout })},
	{Name: "deadline", Want: wantDuration + ", or off", Example: "10s", Feature: true, Spec: "Deadline",
		Conflict: deadlineConflict,
		field:    opt(duration(true, maxTimeout), func(p *Policy) *Opt[time.Duration] { return &p.Deadline })},
	{Name: "fallback", Want: "a function name in the same package, or off", Example: "cachedBalance",
		Feature: true, Spec: "Fallback", Enable: "fallback=<function>",
		field: opt(path(false), func(p *Policy) *Opt[string] { return &p.Fallback })},
	{Name: "fallback_on", Want: "a comma-separated list of " + strings.Join(FailureKinds, ", "), Example: "bulkhead",
		Requires: "fallback", Spec: "FallbackOn", Conflict: fallbackOnConflict,
		field: opt(failureList, func(p *Policy) *Opt[string] { return &p.FallbackOn })},
	{Name: "idempotency", Want: "a parameter name or a param.Field path, or off", Example: "orderID",
		Feature: true, Spec: "Idempotency", Enable: "idempotency=<param>",
		field: opt(path(true), func(p *Policy) *Opt[string] { return &p.Idempotency })},
	{Name: "operation", Want: `letters, digits, "_", "." or "-"`, Example: "charge", Requires: "idempotency",
		field: opt(label(true), func(p *Policy) *Opt[string] { return &p.Operation })},
	{Name: "dlq", Want: wantSwitch, Feature: true, Spec: "DLQ",
		field: opt(onOff, func(p *Policy) *Opt[bool] { return &p.DLQ })},
	{Name: "bulkhead", Want: "1..1000000 or off", Example: "10", Feature: true, Spec: "Bulkhead",
		Enable: "bulkhead=1..1000000", Runtime: true, Rollout: RolloutBulkhead, Shared: "the compartment bulkhead= makes",
		NoOff: "a running service keeps its compartment; set a size, or remove bulkhead= from the directive and regenerate",
		field: opt(count(maxBulkhead), func(p *Policy) *Opt[int] { return &p.Bulkhead })},
	{Name: "compartment", Want: `a registered compartment: lower-case letters, digits, "_", "." or "-", or off`, Example: "database",
		Feature: true, Spec: "Compartment", Conflict: compartmentConflict,
		field: opt(compartmentName, func(p *Policy) *Opt[string] { return &p.Compartment })},
	{Name: "bulkhead_wait", Want: wantDuration, Example: "100ms", Requires: "bulkhead", Spec: "BulkheadWait", Runtime: true, Rollout: RolloutBulkhead,
		field: opt(duration(false, maxBulkheadWait), func(p *Policy) *Opt[time.Duration] { return &p.BulkheadWait })},
	{Name: "idem_ttl", Want: "a Go duration such as 30m", Example: "30m", Requires: "idempotency", Spec: "IdemTTL",
		field: opt(duration(false, maxIdemTTL), func(p *Policy) *Opt[time.Duration] { return &p.IdemTTL })},
	{Name: "idempotency_fail_open", Want: wantSwitch, Requires: "idempotency", Spec: "IdemFailOpen",
		field: opt(onOff, func(p *Policy) *Opt[bool] { return &p.IdemFailOpen })},
	{Name: "idempotency_replay", Want: wantSwitch, Requires: "idempotency", Spec: "IdemReplay",
		field: opt(onOff, func(p *Policy) *Opt[bool] { return &p.IdemReplay })},
	{Name: "idempotency_degraded", Want: "refuse or serve", Example: DegradedRefuse, Requires: "idempotency",
		Spec:     "IdemDegraded",
		Conflict: degradedConflict,
		field:    opt(oneOf(DegradedRefuse, DegradedServe), func(p *Policy) *Opt[string] { return &p.IdemDegraded })},
	{Name: "criticality", Want: "high, normal or low", Example: CriticalityHigh, Spec: "Criticality",
		field: opt(oneOf(CriticalityHigh, CriticalityNormal, CriticalityLow), func(p *Policy) *Opt[string] { return &p.Criticality })},
	{Name: "cache", Want: wantDuration + ", or off", Example: "30s", Feature: true, Spec: "Cache", Enable: "cache=<duration>", Conflict: cacheConflict,
		field: opt(duration(true, maxCache), func(p *Policy) *Opt[time.Duration] { return &p.Cache })},
	{Name: "cache_key", Want: "a parameter name or a param.Field path", Example: "req.ID", Requires: "cache", Spec: "CacheKey",
		field: opt(path(true), func(p *Policy) *Opt[string] { return &p.CacheKey })},
	{Name: "stale_if_error", Want: wantDuration + ", or off", Example: "5m", Requires: "cache", Spec: "StaleIfError",
		field: opt(duration(true, maxStale), func(p *Policy) *Opt[time.Duration] { return &p.StaleIfError })},
	{Name: "rate", Want: "N/s, N/m or N/h with N a positive whole number, or off", Example: "100/s", Feature: true,
		Spec: "Rate", Enable: "rate=N/s",
		field: opt(rateKind, func(p *Policy) *Opt[string] { return &p.Rate })},
	{Name: "burst", Want: "1..1000000", Example: "20", Requires: "rate", Spec: "Burst",
		field: opt(count(maxBurst), func(p *Policy) *Opt[int] { return &p.Burst })},
	{Name: "rate_wait", Want: wantDuration, Example: "100ms", Requires: "rate", Spec: "RateWait",
		field: opt(duration(false, maxRateWait), func(p *Policy) *Opt[time.Duration] { return &p.RateWait })},
	{Name: "rate_scope", Want: "local or fleet", Example: RateScopeFleet, Requires: "rate", Spec: "RateScope",
		field: opt(oneOf(RateScopeLocal, RateScopeFleet), func(p *Policy) *Opt[string] { return &p.RateScope })},
	{Name: "retry_budget", Want: "a percentage above 0% and at most 100%, such as 20%, or off", Example: "20%",
		Requires: "retry", Spec: "RetryBudget",
		field: opt(percentKind, func(p *Policy) *Opt[string] { return &p.RetryBudget })},
	{Name: "retry_budget_scope", Want: "local or fleet", Example: RateScopeFleet, Requires: "retry", Spec: "RetryBudgetScope",
		Conflict: budgetScopeConflict,
		field:    opt(oneOf(RateScopeLocal, RateScopeFleet), func(p *Policy) *Opt[string] { return &p.RetryBudgetScope })},
	{Name: "throttle", Want: "adaptive or off", Example: Adaptive, Feature: true, Spec: "Throttle",
		Enable: "throttle=adaptive",
		field:  opt(modeSwitch(Adaptive), func(p *Policy) *Opt[string] { return &p.Throttle })},
	{Name: "concurrency", Want: "adaptive or off", Example: Adaptive, Feature: true, Spec: "Concurrency",
		Enable: "concurrency=adaptive", Conflict: concurrencyConflict,
		field: opt(modeSwitch(Adaptive), func(p *Policy) *Opt[string] { return &p.Concurrency })},
	hedgeKeys[0], hedgeKeys[1], hedgeKeys[2], // keys_hedge.go
}

// deadlineConflict: a deadline no longer than the timeout leaves the
// timeout nothing to bound.
func deadlineConflict(p *Policy, lineCol func(token.Pos) string) string {
	d, t := p.Deadline.Val, p.Timeout.Val
	if d == 0 || !p.Timeout.Set || t == 0 || d > t {
		return ""
	}
	return fmt.Sprintf("deadline=%s is not longer than timeout=%s (written at %s): the deadline bounds every attempt "+
		"and the backoff together, so the timeout could never fire; raise deadline or lower timeout", durText(d), durText(t), lineCol(p.Timeout.Pos))
}

// fallbackOnConflict: a failure kind the method cannot meet.
func fallbackOnConflict(p *Policy, lineCol func(token.Pos) string) string {
	kinds := strings.Split(p.FallbackOn.Val, ",")
	switch {
	case slices.Contains(kinds, "bulkhead") && p.Bulkhead.Val == 0 && p.Compartment.Val == "":
		return "fallback_on=bulkhead: the method has no bulkhead (bulkhead= or compartment=), so no compartment-full " +
			"rejection can reach the fallback; add one or remove bulkhead from the list"
	case slices.Contains(kinds, "open") && p.Breaker.Set && !p.Breaker.Val:
		return fmt.Sprintf("fallback_on=open: breaker=off (written at %s), so no breaker rejection can reach the fallback; "+
			"remove open from the list or the breaker=off", lineCol(p.Breaker.Pos))
	}
	return ""
}

// compartmentConflict: a named compartment and a bulkhead of the method's own.
func compartmentConflict(p *Policy, lineCol func(token.Pos) string) string {
	if p.Compartment.Val == "" || p.Bulkhead.Val == 0 {
		return ""
	}
	return fmt.Sprintf("compartment=%s shares a registered compartment, and bulkhead=%d (written at %s) makes one of its own; "+
		"keep one (on a method, compartment=off or bulkhead=off lifts the interface's)", p.Compartment.Val, p.Bulkhead.Val, lineCol(p.Bulkhead.Pos))
}

// degradedConflict: refuse and fail-open ask for opposite things when Redis is gone.
func degradedConflict(p *Policy, lineCol func(token.Pos) string) string {
	if p.IdemDegraded.Val == DegradedRefuse && p.IdemFailOpen.Set && p.IdemFailOpen.Val {
		return fmt.Sprintf("idempotency_degraded=refuse contradicts idempotency_fail_open=on (written at %s): "+
			"one refuses the call when Redis is gone, the other runs it unguarded; keep one", lineCol(p.IdemFailOpen.Pos))
	}
	return ""
}

// CheckLevel reports the keys of p written where the table does not allow
// them; at is where p was written (OnInterface or OnMethod).
func CheckLevel(fset *token.FileSet, p Policy, at Level, errs *scanner.ErrorList) {
	for i := range keys {
		k := &keys[i]
		if k.IsSet(&p) && k.level()&at == 0 && errs != nil {
			errs.Add(position(fset, k.Pos(&p)), fmt.Sprintf("%s: can only be written on %s, not on %s", k.Name, k.level(), at))
		}
	}
}

func position(fset *token.FileSet, pos token.Pos) token.Position {
	if fset == nil {
		return token.Position{}
	}
	return fset.Position(pos)
}

// field is a key's typed Policy field seen without its type.
type field interface {
	isSet(p *Policy) bool
	on(p *Policy) bool
	pos(p *Policy) token.Pos
	value(p *Policy) any
	format(p *Policy) string
	bare() string // the value of the key written alone; "" when it needs a value
	parse(a *arg, p *Policy)
	merge(dst, src *Policy)
	take(dst, src *Policy) // dst's value becomes src's, set or not
}

// kind is how one type of value is parsed, printed and judged on or off.
type kind[T any] struct {
	parse  func(a *arg) (T, bool)
	format func(T) string
	on     func(T) bool
	bare   string // what a bare key means; "" when it needs a value
}

// opt ties a value kind to its Policy field.
func opt[T any](k kind[T], get func(*Policy) *Opt[T]) field { return optField[T]{k, get} }

type optField[T any] struct {
	k   kind[T]
	get func(*Policy) *Opt[T]
}

func (f optField[T]) isSet(p *Policy) bool    { return f.get(p).Set }
func (f optField[T]) on(p *Policy) bool       { return f.k.on(f.get(p).Val) }
func (f optField[T]) pos(p *Policy) token.Pos { return f.get(p).Pos }
func (f optField[T]) value(p *Policy) any     { return f.get(p).Val }
func (f optField[T]) format(p *Policy) string { return f.k.format(f.get(p).Val) }
func (f optField[T]) bare() string            { return f.k.bare }
func (f optField[T]) take(dst, src *Policy)   { *f.get(dst) = *f.get(src) }
func (f optField[T]) merge(dst, src *Policy) {
	if s := f.get(src); s.Set {
		*f.get(dst) = *s
	}
}

func (f optField[T]) parse(a *arg, p *Policy) {
	if v, ok := f.k.parse(a); ok {
		set(a, f.get(p), v)
	}
}

const (
	wantSwitch   = "on or off"
	wantDuration = "a Go duration such as 250ms or 5s"
)

// The value kinds. A new key picks one; a new kind is a parse, a format and
// an on function next to these.
var (
	// onOff: on|off (also true|false); a bare key means on.
	onOff = kind[bool]{parse: (*arg).onOff, format: onOffText, on: func(v bool) bool { return v }, bare: "on"}
	// backoffKind: exp(base,max) or const(d).
	backoffKind = kind[backoff.Policy]{parse: (*arg).backoff, format: backoff.Policy.String, on: func(backoff.Policy) bool { return true }}
)

// count: 1..hi, or off stored as 0.
func count(hi int) kind[int] {
	return kind[int]{
		parse:  func(a *arg) (int, bool) { return a.count(hi) },
		format: countText,
		on:     func(n int) bool { return n != 0 },
	}
}

// number: 1..hi, without off.
func number(hi int) kind[int] {
	k := count(hi)
	k.parse = func(a *arg) (int, bool) {
		if isOff(a.val) {
			a.fail(a.valOff, "%q is not a number", a.val)
			return 0, false
		}
		return a.count(hi)
	}
	return k
}

// duration: a positive Go duration up to limit; with off, "off" stores 0.
func duration(off bool, limit time.Duration) kind[time.Duration] {
	return kind[time.Duration]{
		parse:  func(a *arg) (time.Duration, bool) { return a.duration(off, limit) },
		format: durText,
		on:     func(d time.Duration) bool { return d != 0 },
	}
}

// label: a store-key and metric-label safe name; upper allows A-Z too.
func label(upper bool) kind[string] {
	return kind[string]{
		parse:  func(a *arg) (string, bool) { return a.val, a.label(upper) },
		format: func(s string) string { return s },
		on:     func(s string) bool { return s != "" },
	}
}

// path: a Go identifier, or with dotted a param.Field path; "off" stores "".
func path(dotted bool) kind[string] {
	return kind[string]{
		parse:  func(a *arg) (string, bool) { return a.path(dotted) },
		format: nameText,
		on:     func(s string) bool { return s != "" },
	}
}

// oneOf: one of a fixed set of words.
func oneOf(words ...string) kind[string] {
	return kind[string]{
		parse: func(a *arg) (string, bool) {
			for _, w := range words {
				if a.val == w {
					return w, true
				}
			}
			a.fail(a.valOff, "%q is not valid", a.val)
			return "", false
		},
		format: func(s string) string { return s },
		on:     func(s string) bool { return s != "" },
	}
}

// failureList: fallback_on='s comma-separated failure kinds, stored in
// FailureKinds' order without repeats.
var failureList = kind[string]{
	parse: func(a *arg) (string, bool) {
		seen := map[string]bool{}
		off := a.valOff
		for _, w := range strings.Split(a.val, ",") {
			if !slices.Contains(FailureKinds, w) {
				if w == "" {
					a.fail(off, "an empty item in %q", a.val)
				} else {
					a.fail(off, "%q is not a failure kind", w)
				}
				return "", false
			}
			seen[w] = true
			off += len(w) + 1
		}
		var out []string
		for _, k := range FailureKinds {
			if seen[k] {
				out = append(out, k)
			}
		}
		return strings.Join(out, ","), true
	},
	format: func(s string) string { return s },
	on:     func(s string) bool { return s != "" },
}

// compartmentName: a label as name= takes, or off stored as "".
var compartmentName = kind[string]{
	parse: func(a *arg) (string, bool) {
		if isOff(a.val) {
			return "", true
		}
		return a.val, a.label(false)
	},
	format: nameText,
	on:     func(s string) bool { return s != "" },
}

func countText(n int) string {
	if n == 0 {
		return "off"
	}
	return fmt.Sprint(n)
}

func durText(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return backoff.ShortDuration(d)
}

func nameText(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

func onOffText(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// checkTable runs the key rules of the table on a merged policy: a key
// tuning another one that is unset or off, and each key's Conflict.
func checkTable(fset *token.FileSet, p *Policy, errs *scanner.ErrorList) {
	if errs == nil {
		return
	}
	lc := func(pos token.Pos) string { return (&line{fset: fset}).lineCol(pos) }
	var found scanner.ErrorList
	for i := range keys {
		k := &keys[i]
		if !k.IsSet(p) {
			continue
		}
		if k.Requires != "" {
			dep := KeyByName(k.Requires)
			if st := state(dep.IsSet(p), dep.On(p)); st != "" {
				found.Add(position(fset, k.Pos(p)), fmt.Sprintf("%s: needs %s, which is %s; set %s or remove %s",
					k.Name, dep.Name, st, dep.enable(), k.Name))
				continue
			}
		}
		if k.Conflict != nil {
			if msg := k.Conflict(p, lc); msg != "" {
				found.Add(position(fset, k.Pos(p)), msg)
			}
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return lessPos(found[i].Pos, found[j].Pos) })
	*errs = append(*errs, found...)
}

func lessPos(a, b token.Position) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Column < b.Column
}
