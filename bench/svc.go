// Package bench measures the generated wrapper's hot path against a direct
// call and against the Go peers doing the same job (sony/gobreaker v2,
// failsafe-go). Run it with `make bench`.
package bench

import "context"

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Adder is the dependency every benchmark calls.
//
//baldur:protect name=adder
type Adder interface {
	// Breaker is protected by the breaker alone (the default).
	Breaker(ctx context.Context, n int) (int, error)
	// Retry adds retry.
	//baldur:protect retry=3
	Retry(ctx context.Context, n int) (int, error)
	// Timeout adds a per-attempt timeout (which allocates: context.WithTimeout).
	//baldur:protect retry=3 timeout=1s
	Timeout(ctx context.Context, n int) (int, error)
	// Bulkhead adds a bulkhead to breaker + retry.
	//baldur:protect retry=3 bulkhead=1024
	Bulkhead(ctx context.Context, n int) (int, error)
}

type adder struct{}

func (adder) Breaker(_ context.Context, n int) (int, error)  { return n + 1, nil }
func (adder) Retry(_ context.Context, n int) (int, error)    { return n + 1, nil }
func (adder) Timeout(_ context.Context, n int) (int, error)  { return n + 1, nil }
func (adder) Bulkhead(_ context.Context, n int) (int, error) { return n + 1, nil }
