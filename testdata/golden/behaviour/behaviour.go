// Package behaviour is the interface whose recorded wrapper the generator's
// behaviour tests run against fake inner implementations and a real runtime.
package behaviour

import (
	"context"
	"fmt"
)

// Backend has one method per policy under test.
//
//baldur:protect name=backend
type Backend interface {
	// Get has the implicit breaker only.
	Get(ctx context.Context, key string) (string, error)
	//baldur:protect retry=3 backoff=const(1us)
	Retry(ctx context.Context, key string) (string, error)
	//baldur:protect timeout=20ms
	Slow(ctx context.Context) error
	//baldur:protect fallback=lookupFallback
	Lookup(ctx context.Context, key string) (string, error)
	//baldur:protect bulkhead=1
	Exclusive(ctx context.Context) error
	//baldur:protect retry=3 backoff=const(1us) bulkhead=4
	Hot(ctx context.Context, n int) (int, error)
	// Count has no error result: delegated.
	Count() int
}

// lookupFallback answers Lookup with the error it was given.
func lookupFallback(_ context.Context, key string, err error) (string, error) {
	return fmt.Sprintf("fallback %s: %v", key, err), nil
}
