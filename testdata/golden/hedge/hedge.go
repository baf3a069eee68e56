// Package hedge: hedge= on methods declared safe to repeat (idempotent, or
// idempotency=), with every result shape (none, one, several), with retry and
// its budget, a timeout, a deadline and a fallback; hedge=off lifts it.
package hedge

import (
	"context"
	"time"
)

//baldur:protect name=search retry=3 retry_budget=20% hedge=2 hedge_delay=50ms idempotent
type Search interface {
	// Query hedges at 50ms: one result.
	Query(ctx context.Context, q string) ([]string, error)
	// Count has several results; its delay follows the p95 of its latencies.
	//baldur:protect hedge_delay=p95 timeout=2s
	Count(ctx context.Context, q string, opts ...string) (int, time.Time, error)
	// Touch has no result but the error, and a deadline.
	//baldur:protect hedge=1 deadline=5s
	Touch(ctx context.Context) error
	// Write lifts the hedge.
	//baldur:protect hedge=off idempotent=off
	Write(ctx context.Context, doc string) error
}

// Orders hedges an idempotent method through its idempotency key.
//
//baldur:protect name=orders
type Orders interface {
	//baldur:protect idempotency=id hedge=1 hedge_delay=20ms fallback=cachedOrder
	Get(ctx context.Context, id string) (string, error)
}

func cachedOrder(ctx context.Context, id string, err error) (string, error) { return "", err }
