package bench

import "context"

// Shaped is the dependency of the load-shaping rows: breaker + retry, then
// one load-shaping policy per method, quiet (far below the rate, nothing
// failing, under the concurrency limit).
//
//baldur:protect name=shaped retry=3
type Shaped interface {
	// Rate adds a rate limit it never reaches.
	//baldur:protect rate=1000000000/s burst=1000000
	Rate(ctx context.Context, n int) (int, error)
	// Throttle adds client-side adaptive throttling.
	//baldur:protect throttle=adaptive
	Throttle(ctx context.Context, n int) (int, error)
	// Concurrency adds the adaptive concurrency limit.
	//baldur:protect concurrency=adaptive
	Concurrency(ctx context.Context, n int) (int, error)
	// Budget adds a retry budget.
	//baldur:protect retry_budget=20%
	Budget(ctx context.Context, n int) (int, error)
}

type shaped struct{}

func (shaped) Rate(_ context.Context, n int) (int, error)        { return n + 1, nil }
func (shaped) Throttle(_ context.Context, n int) (int, error)    { return n + 1, nil }
func (shaped) Concurrency(_ context.Context, n int) (int, error) { return n + 1, nil }
func (shaped) Budget(_ context.Context, n int) (int, error)      { return n + 1, nil }
