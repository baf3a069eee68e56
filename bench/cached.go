package bench

import "context"

// Cached is the dependency of the result-cache rows: breaker + retry, then
// cache= (compare with BenchmarkBaldurBreakerRetry).
//
//baldur:protect name=cached retry=3
type Cached interface {
	// Hit is keyed by its string parameter; the rows call it with one key,
	// so every call but the first is a hit.
	//baldur:protect cache=1h
	Hit(ctx context.Context, key string) (int, error)
	// Miss keeps a result for a nanosecond: every call misses, runs breaker
	// + retry and stores its result.
	//baldur:protect cache=1ns
	Miss(ctx context.Context, key string) (int, error)
}

type cached struct{}

func (cached) Hit(_ context.Context, key string) (int, error)  { return len(key), nil }
func (cached) Miss(_ context.Context, key string) (int, error) { return len(key), nil }
