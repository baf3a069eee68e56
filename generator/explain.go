package generator

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/baldur-go/baldur/runtime/backoff"
)

// Chain spells the composed policies in the order a call meets them, such as
// "idempotency(orderID) → breaker → rate(100/s, burst 20) → retry(3,
// exp(100ms,10s), budget 20%) → timeout(5s) → dlq" (load shaping between the
// breaker and the bulkhead: the README's "Load shaping" argues the order);
// a cached method starts with "cache(30s, key req.ID, stale 5m)";
// idempotency lists its options when set: "idempotency(req.ID, operation
// place-order, window 10m, fail-open, replay)".
func (s zoneSpec) Chain() string {
	var p []string
	if s.Cache > 0 {
		args := []string{backoff.ShortDuration(s.Cache)}
		if s.CacheKey != "" {
			args = append(args, "key "+s.CacheKey)
		}
		if s.StaleIfError > 0 {
			args = append(args, "stale "+backoff.ShortDuration(s.StaleIfError))
		}
		p = append(p, "cache("+strings.Join(args, ", ")+")")
	}
	if s.Idempotency != "" {
		args := []string{s.Idempotency}
		if s.Operation != "" && s.Operation != s.Method {
			args = append(args, "operation "+s.Operation)
		}
		if s.IdemTTL > 0 {
			args = append(args, "window "+backoff.ShortDuration(s.IdemTTL))
		}
		if s.IdemFailOpen {
			args = append(args, "fail-open")
		}
		if s.IdemReplay {
			args = append(args, "replay")
		}
		if s.IdemDegraded != "" {
			args = append(args, "degraded "+s.IdemDegraded)
		}
		p = append(p, "idempotency("+strings.Join(args, ", ")+")")
	}
	if s.Breaker {
		var args []string
		if s.BreakerThreshold > 0 {
			args = append(args, fmt.Sprintf("threshold %d", s.BreakerThreshold))
		}
		if s.BreakerRecovery > 0 {
			args = append(args, "recovery "+backoff.ShortDuration(s.BreakerRecovery))
		}
		if len(args) > 0 {
			p = append(p, "breaker("+strings.Join(args, ", ")+")")
		} else {
			p = append(p, "breaker")
		}
	}
	if s.Rate != "" {
		args := []string{s.Rate}
		if s.Burst > 0 {
			args = append(args, fmt.Sprintf("burst %d", s.Burst))
		}
		if s.RateWait > 0 {
			args = append(args, "wait "+backoff.ShortDuration(s.RateWait))
		}
		if s.RateBucket != "" {
			args = append(args, "in "+s.RateBucket)
		}
		if s.RateScope == "fleet" {
			args = append(args, "fleet")
		}
		p = append(p, "rate("+strings.Join(args, ", ")+")")
	}
	if s.Throttle != "" {
		p = append(p, "throttle("+s.Throttle+")")
	}
	if s.Concurrency != "" {
		p = append(p, "concurrency("+s.Concurrency+")")

	}
	if s.Bulkhead == 0 && s.Compartment != "" {
		p = append(p, "bulkhead(compartment "+s.Compartment+")")
	}
	if s.Bulkhead > 0 {
		b := fmt.Sprintf("bulkhead(%d", s.Bulkhead)
		if s.Compartment != "" {
			b += " in " + s.Compartment
		}
		if s.BulkheadWait > 0 {
			b += ", wait " + backoff.ShortDuration(s.BulkheadWait)
		}
		p = append(p, b+")")
	}
	if s.Attempts > 1 {
		r := fmt.Sprintf("retry(%d, %s", s.Attempts, s.Backoff)
		if s.RetryBudget != "" {
			r += ", budget " + s.RetryBudget
			if s.RetryBudgetScope == "fleet" {
				r += " fleet"
			}
		}
		p = append(p, r+")")
	}
	if s.Hedge > 0 {
		p = append(p, fmt.Sprintf("hedge(%d, after %s)", s.Hedge, cmp.Or(s.HedgeDelay, "p95")))
	}
	if s.Timeout > 0 {
		p = append(p, "timeout("+backoff.ShortDuration(s.Timeout)+")")
	}
	if s.Deadline > 0 {
		p = append(p, "deadline("+backoff.ShortDuration(s.Deadline)+")")
	}
	if s.Fallback != "" {
		fb := s.Fallback
		if s.FallbackOn != "" {
			fb += " on " + s.FallbackOn
		}
		p = append(p, "fallback("+fb+")")
	}
	if s.DLQ {
		p = append(p, "dlq")
	}
	if s.Criticality != "" {
		p = append(p, "criticality("+s.Criticality+")")
	}
	return strings.Join(p, " → ")
}

// Explain writes, per protected interface, each method's composed policy
// chain and the methods delegated untouched with the reason:
//
//	example.com/shop/payments.PaymentGateway → ProtectedPaymentGateway
//	  payments.Charge: idempotency(orderID) → breaker → retry(3, exp(100ms,10s)) → timeout(5s) → dlq
//	    fingerprint reads: orderID, cents
//	  payments.Ping: delegated untouched (//baldur:skip)
//
// Under an idempotent method it says which arguments the fingerprint reads,
// which it leaves out and why, and when key reuse cannot be detected at all.
func (r *Result) Explain() string {
	var b strings.Builder
	for _, pkg := range r.packages {
		for _, f := range pkg.Files {
			for _, it := range f.Interfaces {
				fmt.Fprintf(&b, "%s.%s → %s\n", pkg.Path, it.Name, it.Wrapper)
				for _, m := range it.Methods {
					if m.Delegated {
						fmt.Fprintf(&b, "  %s.%s: delegated untouched (%s)\n", it.Service, m.Name, m.Why)
					} else {
						fmt.Fprintf(&b, "  %s.%s: %s\n", m.Spec.Service, m.Name, m.Spec.Chain())
						for _, line := range m.fingerprintNotes() {
							fmt.Fprintf(&b, "    %s\n", line)
						}
					}
				}
			}
		}
	}
	return b.String()
}

// fingerprintNotes spells what the idempotency fingerprint of m reads and
// leaves out, for -explain and the generated code's comments:
//
//	fingerprint reads: in (not the content of in.Body)
//	fingerprint leaves out: optFns (holds a func, which encoding/json cannot encode)
//	key reuse cannot be detected: every argument but the key is left out of the fingerprint
//
// Nothing without idempotency=.
func (m *methodInfo) fingerprintNotes() []string {
	if m.Key == nil {
		return nil
	}
	var read, out []string
	for _, a := range m.Fingerprint {
		switch {
		case a.Out != "":
			out = append(out, a.Name+" ("+a.Out+")")
		case len(a.Unseen) > 0:
			read = append(read, a.Name+" (not the content of "+strings.Join(a.Unseen, ", ")+")")
		default:
			read = append(read, a.Name)
		}
	}
	if len(read) == 0 {
		read = []string{"nothing"}
	}
	notes := []string{"fingerprint reads: " + strings.Join(read, ", ")}
	if len(out) > 0 {
		notes = append(notes, "fingerprint leaves out: "+strings.Join(out, "; "))
	}
	if m.keyReuseBlind() {
		notes = append(notes, "key reuse cannot be detected: every argument but the key is left out of the fingerprint")
	}
	return notes
}

// fingerprintGaps: the fingerprint of m leaves out an argument or cannot
// see part of one.
func (m *methodInfo) fingerprintGaps() bool {
	for _, a := range m.Fingerprint {
		if a.Out != "" || len(a.Unseen) > 0 {
			return true
		}
	}
	return false
}

// keyReuseBlind: m has arguments besides its key, and the fingerprint reads
// none of them, so a key reused with other arguments passes as a duplicate.
// A key read from a field of its parameter leaves the rest of that
// parameter to the fingerprint.
func (m *methodInfo) keyReuseBlind() bool {
	whole := true // the key is its parameter, not a field of it
	for _, s := range m.Key.Steps {
		if s.Kind == keySelect {
			whole = false
		}
	}
	others := 0
	for _, a := range m.Fingerprint {
		if a.Param == m.Key.Param && whole {
			continue
		}
		others++
		if a.Out == "" {
			return false
		}
	}
	return others > 0
}
