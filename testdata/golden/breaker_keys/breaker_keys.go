// Package breaker_keys: the service's breaker tuned on the interface
// (breaker_threshold, breaker_recovery), which every method's ZoneSpec
// carries, beside a bulkhead an operator may resize at run time.
package breaker_keys

import "context"

// Ledger's breaker opens after 10 failures and probes after 30s.
//
//baldur:protect name=ledger breaker_threshold=10 breaker_recovery=30s bulkhead=8
type Ledger interface {
	Post(ctx context.Context, entry string) error

	// Audit has no breaker: the tuning does not reach it.
	//baldur:protect breaker=off
	Audit(ctx context.Context, entry string) error
}
