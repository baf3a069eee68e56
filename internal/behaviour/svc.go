// Package behaviour holds a protected interface whose generated wrapper is
// driven by tests against fake inner implementations: it pins down what each
// policy does when it runs for real, through generated code.
package behaviour

import (
	"context"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Quote is a value the fake service returns.
type Quote struct {
	Symbol string
	Cents  int64
	// FallbackFor is the error the fallback answered for; nil for real quotes.
	FallbackFor error
}

// Pricer is the dependency under test.
//
//baldur:protect name=pricer retry=3 backoff=const(1ms)
type Pricer interface {
	// Price retries and falls back to the last known price.
	//baldur:protect fallback=lastPrice
	Price(ctx context.Context, symbol string) (Quote, error)

	// Slow is bounded by a timeout and never retried.
	//baldur:protect retry=off timeout=20ms
	Slow(ctx context.Context, symbol string) (Quote, error)

	// Limited admits two calls at a time.
	//baldur:protect retry=off bulkhead=2
	Limited(ctx context.Context, symbol string) error

	// Hot is the allocation-free path: breaker + retry + bulkhead.
	//baldur:protect bulkhead=64
	Hot(ctx context.Context, n int) (int, error)

	// Plain has the default policy only (breaker).
	//baldur:protect retry=off
	Plain(ctx context.Context) error

	// Count has no error result: retry=off lifts the interface's retry, the
	// implicit breaker does not reach it, and it is delegated as it is.
	//baldur:protect retry=off
	Count() int
}

// lastPrice answers Price when every attempt failed or the breaker is open.
func lastPrice(_ context.Context, symbol string, err error) (Quote, error) {
	return Quote{Symbol: symbol, Cents: -1, FallbackFor: err}, nil
}
