package bench

import "context"

// Everything is the row with every hot-path policy on at once (and per-call
// counting and the memory store set in the benchmark's runtime).
//
//baldur:protect name=everything
type Everything interface {
	// Do has breaker, retry, timeout, bulkhead and idempotency.
	//baldur:protect retry=3 timeout=1s bulkhead=1024 idempotency=key
	Do(ctx context.Context, key int64, n int) (int, error)
}

type everything struct{}

func (everything) Do(_ context.Context, _ int64, n int) (int, error) { return n + 1, nil }
