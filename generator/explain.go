package generator

import (
	"fmt"
	"strings"
)

// Chain spells the composed policies in the order a call meets them, such as
// "idempotency(orderID) → breaker → retry(3, exp(100ms,10s)) → timeout(5s) → dlq";
// idempotency lists its options when set: "idempotency(req.ID, operation
// place-order, window 10m, fail-open, replay)".
func (s Spec) Chain() string {
	var p []string
	if s.Idempotency != "" {
		args := []string{s.Idempotency}
		if s.Operation != "" && s.Operation != s.Method {
			args = append(args, "operation "+s.Operation)
		}
		if s.IdemTTL > 0 {
			args = append(args, "window "+shortDuration(s.IdemTTL))
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
		p = append(p, "breaker")
	}
	if s.Bulkhead > 0 {
		b := fmt.Sprintf("bulkhead(%d", s.Bulkhead)
		if s.Compartment != "" {
			b += " in " + s.Compartment
		}
		if s.BulkheadWait > 0 {
			b += ", wait " + shortDuration(s.BulkheadWait)
		}
		p = append(p, b+")")
	}
	if s.Attempts > 1 {
		p = append(p, fmt.Sprintf("retry(%d, %s)", s.Attempts, s.Backoff))
	}
	if s.Timeout > 0 {
		p = append(p, "timeout("+shortDuration(s.Timeout)+")")
	}
	if s.Fallback != "" {
		p = append(p, "fallback("+s.Fallback+")")
	}
	if s.DLQ {
		p = append(p, "dlq")
	}
	return strings.Join(p, " → ")
}

// Explain writes, per protected interface, each method's composed policy
// chain and the methods delegated untouched with the reason:
//
//	example.com/shop/payments.PaymentGateway → ProtectedPaymentGateway
//	  payments.Charge: idempotency(orderID) → breaker → retry(3, exp(100ms,10s)) → timeout(5s) → dlq
//	  payments.Ping: delegated untouched (//baldur:skip)
func (r *Result) Explain() string {
	var b strings.Builder
	for _, pkg := range r.Packages {
		for _, f := range pkg.Files {
			for _, it := range f.Interfaces {
				fmt.Fprintf(&b, "%s.%s → %s\n", pkg.Path, it.Name, it.Wrapper)
				for _, m := range it.Methods {
					if m.Delegated {
						fmt.Fprintf(&b, "  %s.%s: delegated untouched (%s)\n", it.Service, m.Name, m.Why)
					} else {
						fmt.Fprintf(&b, "  %s.%s: %s\n", m.Spec.Service, m.Name, m.Spec.Chain())
					}
				}
			}
		}
	}
	return b.String()
}
