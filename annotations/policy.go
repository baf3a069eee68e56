package annotations

import (
	"github.com/baldur-go/baldur/runtime/backoff"
	"go/scanner"
	"go/token"
	"strings"
	"time"
)

// Kind tells which directive a comment line carries.
type Kind int

const (
	// Protect is //baldur:protect key=value ...
	Protect Kind = iota + 1
	// Skip is //baldur:skip, or on an interface //baldur:skip Name1 Name2.
	Skip
)

func (k Kind) String() string {
	switch k {
	case Protect:
		return "protect"
	case Skip:
		return "skip"
	}
	return "unknown"
}

// Opt is one directive key: Set reports whether it was written, Pos where its
// key starts (for errors that only analysis can find, such as a missing fallback).
type Opt[T any] struct {
	Set bool
	Val T
	Pos token.Pos
}

// Policy holds every key of a directive. An interface-level Policy and a
// method-level Policy are combined with Merge; unset keys take the README's defaults
// at analysis time.
type Policy struct {
	Name    Opt[string] // name=[a-z0-9_.-]+
	Breaker Opt[bool]   // breaker=on|off (bare "breaker" = on)
	// BreakerThreshold is breaker_threshold=1..1000: failures in the
	// window that open the service's breaker (interface only).
	BreakerThreshold Opt[int]
	// BreakerRecovery is breaker_recovery=<duration>, at most 1h: how long
	// the service's breaker stays open before it probes (interface only).
	BreakerRecovery Opt[time.Duration]
	Retry           Opt[int]            // retry=1..100 attempts in total; retry=off stores 0
	Backoff         Opt[backoff.Policy] // backoff=exp(base,max)|const(d)
	Timeout         Opt[time.Duration]  // timeout=<go duration>, at most 24h; timeout=off stores 0
	Fallback        Opt[string]         // fallback=<Go identifier>; fallback=off stores ""
	// Idempotency is the dedup key source: a parameter name or a dotted field
	// path starting at a parameter ("req.Order.ID"). idempotency=off stores ""
	// so that a method can lift an interface default.
	Idempotency  Opt[string]
	Operation    Opt[string]        // operation=<label>, same charset as name
	DLQ          Opt[bool]          // dlq=on|off (bare "dlq" = on)
	Bulkhead     Opt[int]           // bulkhead=1..1000000 max concurrent calls; bulkhead=off stores 0
	BulkheadWait Opt[time.Duration] // bulkhead_wait=<duration>, at most 24h: wait this long for a slot before failing
	IdemTTL      Opt[time.Duration] // idem_ttl=<duration>, at most 168h: execution window of a running claim (default 30m)
	IdemFailOpen Opt[bool]          // idempotency_fail_open=on|off: serve when the store is unreachable
	IdemReplay   Opt[bool]          // idempotency_replay=on|off: duplicates get the first results back
	// IdemDegraded is idempotency_degraded=refuse|serve: while the store is
	// DEGRADED, refuse the call rather than claim in the local store.
	IdemDegraded Opt[string]
	// Deadline is deadline=<duration>, at most 24h: the whole call's bound,
	// attempts and backoff together; deadline=off stores 0.
	Deadline Opt[time.Duration]
	// FallbackOn is fallback_on=open,bulkhead,timeout,error: the failures the
	// fallback answers, stored in FailureKinds' order without repeats.
	FallbackOn Opt[string]
	// Compartment is compartment=<name>: a named compartment (a bulkhead the
	// runtime registers) shared with every method that names it, in any
	// interface; compartment=off stores "".
	Compartment Opt[string]
	// Criticality is criticality=high|normal|low: what emergency mode sheds
	// last (low from HIGH, normal from CRITICAL, high never).
	Criticality Opt[string]

	// Result cache (keys_shape.go).
	Cache        Opt[time.Duration] // cache=<duration>, at most 24h; cache=off stores 0
	CacheKey     Opt[string]        // cache_key=<param or param.Field path>; off stores ""
	StaleIfError Opt[time.Duration] // stale_if_error=<duration>, at most 168h; off stores 0

	// Load shaping (keys_shape.go).
	Rate        Opt[string]        // rate=N/s|N/m|N/h; rate=off stores ""
	Burst       Opt[int]           // burst=1..1000000: calls at once after a quiet spell
	RateWait    Opt[time.Duration] // rate_wait=<duration>, at most 24h: wait this long for a token
	RateScope   Opt[string]        // rate_scope=local|fleet
	RetryBudget Opt[string]        // retry_budget=P% (0 < P <= 100); retry_budget=off stores ""
	// RetryBudgetScope: retry_budget_scope=local|fleet
	RetryBudgetScope Opt[string]
	Throttle         Opt[string] // throttle=adaptive|off; off stores ""
	Concurrency      Opt[string] // concurrency=adaptive|off; off stores ""

	// Hedging (keys_hedge.go).
	Hedge      Opt[int]    // hedge=1..10 extra attempts; hedge=off stores 0
	HedgeDelay Opt[string] // hedge_delay=<duration>|pNN
	Idempotent Opt[bool]   // idempotent=on|off (bare "idempotent" = on): safe to repeat
}

// FailureKinds are the failures fallback_on= names, in the runtime's order
// (runtime.FailureKindNames; a generator test keeps them in step): the
// breaker's rejection, a full compartment, a timeout or deadline, and any
// other error.
var FailureKinds = []string{"open", "bulkhead", "timeout", "error"}

// Values of idempotency_degraded.
const (
	DegradedRefuse = "refuse"
	DegradedServe  = "serve"
)

// Values of criticality.
const (
	CriticalityHigh   = "high"
	CriticalityNormal = "normal"
	CriticalityLow    = "low"
)

// Directive is one parsed directive attached to an interface or a method. When
// several //baldur:protect lines annotate the same node their keys are merged
// into one Directive (a key written twice is an error).
type Directive struct {
	Kind   Kind
	Pos    token.Pos // the "//" of the first directive line
	Policy Policy    // Protect only
	// SkipNames lists the methods named by //baldur:skip Name1 Name2 on an
	// interface; empty for a bare //baldur:skip.
	SkipNames    []string
	SkipNamesPos []token.Pos
}

// String writes the keys that are set as directive arguments, in the order
// of the key table (the README's), such as "name=payments retry=3 timeout=5s".
// Parsing the result gives p back, less the positions; baldurgen -explain can
// print it.
func (p Policy) String() string {
	var b strings.Builder
	for i := range keys {
		if t := keys[i].Text(&p); t != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t)
		}
	}
	return b.String()
}

// Merge returns the method policy layered on the interface policy: every key
// set on the method wins.
//
// A method that switches a feature off also drops the interface's tuning of
// that feature (every key whose Requires names it), unless the method writes
// that tuning itself: retry=off drops backoff, bulkhead=off drops
// bulkhead_wait, and idempotency=off drops idem_ttl, idempotency_fail_open,
// idempotency_replay, idempotency_degraded and operation. Without this,
// lifting a feature on one method would make Check reject the interface's
// own keys.
func Merge(iface, method Policy) Policy {
	out := iface
	for i := range keys {
		keys[i].field.merge(&out, &method)
	}
	for i := range keys {
		k := &keys[i]
		if k.Requires == "" {
			continue
		}
		if dep := KeyByName(k.Requires); dep.IsSet(&method) && !dep.On(&method) {
			k.field.take(&out, &method)
		}
	}
	return out
}

// Check reports keys that cannot take effect in a merged policy because the
// key they tune (Key.Requires) is not set or is off, such as backoff without
// retry, and the combinations a key's Conflict refuses, such as
// idempotency_degraded=refuse with idempotency_fail_open=on, which ask for
// opposite things when Redis is gone. Errors are positioned at the key, in
// source order. Rules that depend on the method's types are the generator's.
func Check(fset *token.FileSet, p Policy, errs *scanner.ErrorList) {
	checkTable(fset, &p, errs)
}

// state says why a required key does not take effect, or "" when it does.
func state(set, on bool) string {
	switch {
	case !set:
		return "not set"
	case !on:
		return "off"
	}
	return ""
}
