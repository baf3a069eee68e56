// Package modecheck pins down what every policy does in each operator mode
// (LIVE, DRY_RUN, DISABLED) through a generated wrapper: the README's table
// "Policies in each mode" is checked cell by cell in modes_test.go.
package modecheck

import "context"

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Service has one method per policy, each with that policy alone besides the
// service's breaker (on by default).
//
//baldur:protect name=modes
type Service interface {
	// Plain has the breaker only.
	Plain(ctx context.Context) error

	// Flaky retries.
	//baldur:protect retry=3 backoff=const(1ms)
	Flaky(ctx context.Context) error

	// Slow is bounded by a timeout.
	//baldur:protect timeout=20ms
	Slow(ctx context.Context) error

	// Quote falls back to a fixed answer.
	//baldur:protect fallback=fixedQuote
	Quote(ctx context.Context, sku string) (int64, error)

	// Limited admits one call at a time.
	//baldur:protect bulkhead=1
	Limited(ctx context.Context) error

	// Charge refuses a duplicate order.
	//baldur:protect idempotency=orderID
	Charge(ctx context.Context, orderID string) error

	// Ship parks its failures in the dead-letter queue.
	//baldur:protect dlq
	Ship(ctx context.Context, parcel string) error

	// Metered admits one call an hour.
	//baldur:protect rate=1/h burst=1
	Metered(ctx context.Context) error

	// Shed throttles adaptively.
	//baldur:protect breaker=off throttle=adaptive
	Shed(ctx context.Context) error

	// Adaptive limits its calls in flight adaptively.
	//baldur:protect breaker=off concurrency=adaptive
	Adaptive(ctx context.Context) error

	// Cached answers from its cache for an hour.
	//baldur:protect cache=1h
	Cached(ctx context.Context, sku string) (int64, error)

	// Budgeted retries within a budget.
	//baldur:protect breaker=off retry=3 backoff=const(1ms) retry_budget=20%
	Budgeted(ctx context.Context) error

	// Hedged sends one more attempt after 10ms without an answer.
	//baldur:protect breaker=off hedge=1 hedge_delay=10ms idempotent
	Hedged(ctx context.Context) (string, error)
}

// fixedQuote answers Quote when the pricing fails.
func fixedQuote(_ context.Context, _ string, _ error) (int64, error) { return -1, nil }
