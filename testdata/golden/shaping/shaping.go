// Package shaping: the load-shaping keys, each on its own and together; an
// interface-level rate is one bucket for the service, a method's own rate a
// bucket of its own.
package shaping

import "context"

//baldur:protect name=quotes rate=100/s burst=20
type Quotes interface {
	// Get shares the service's bucket.
	Get(ctx context.Context, sku string) (int64, error)
	// List waits up to 50ms for a token: tuning the rate gives it a bucket
	// of its own, with the same rate and burst.
	//baldur:protect rate_wait=50ms
	List(ctx context.Context) ([]string, error)
	// Refresh has a fleet-wide limit of its own.
	//baldur:protect rate=30/m rate_scope=fleet
	Refresh(ctx context.Context) error
	// Ping is not limited.
	//baldur:protect rate=off
	Ping(ctx context.Context) error
}

//baldur:protect name=ledger retry=3 retry_budget=20%
type Ledger interface {
	// Post retries within the service's budget, throttles and limits its
	// concurrency adaptively.
	//baldur:protect throttle=adaptive concurrency=adaptive
	Post(ctx context.Context, entry string) error
	// Read retries without a budget.
	//baldur:protect retry_budget=off
	Read(ctx context.Context, id string) (string, error)
	// Settle shares its budget with every process on the store.
	//baldur:protect retry_budget=20% retry_budget_scope=fleet
	Settle(ctx context.Context, id string) error
	// Audit lifts the retry, and with it the budget.
	//baldur:protect retry=off
	Audit(ctx context.Context) error
}

// Feed has no breaker: load shaping alone still wraps a method.
//
//baldur:protect name=feed breaker=off
type Feed interface {
	//baldur:protect throttle=adaptive
	Pull(ctx context.Context) error
	//baldur:protect concurrency=adaptive
	Push(ctx context.Context) error
	//baldur:protect rate=10/s
	Poll(ctx context.Context) error
	// Idle has nothing left on: delegated.
	Idle(ctx context.Context) error
}
