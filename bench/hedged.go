package bench

import "context"

// Hedged is the dependency of the hedging rows: breaker + retry + hedge=2
// after 50ms, quiet (every call answers long before the delay).
//
//baldur:protect name=hedged retry=3
type Hedged interface {
	// Hedge hedges after a fixed 50ms.
	//baldur:protect hedge=2 hedge_delay=50ms idempotent
	Hedge(ctx context.Context, n int) (int, error)
	// HedgeP95 hedges after the p95 of its latencies (sampled on every call).
	//baldur:protect hedge=2 hedge_delay=p95 idempotent
	HedgeP95(ctx context.Context, n int) (int, error)
}

type hedged struct{}

func (hedged) Hedge(_ context.Context, n int) (int, error)    { return n + 1, nil }
func (hedged) HedgeP95(_ context.Context, n int) (int, error) { return n + 1, nil }
