// Package cache: keys written explicitly, on the interface or the method,
// that a method without an error result cannot honour are errors.
package cache

import (
	"context"
	"fmt"
)

//baldur:protect retry=3 dlq
type Cache interface {
	fmt.Stringer
	Get(ctx context.Context, key string) ([]byte, bool)
	//baldur:protect retry=off dlq=off breaker=on
	Len() int
	//baldur:protect retry=off dlq=off idempotency=key fallback=peekFallback bulkhead=2 timeout=1s
	Peek(ctx context.Context, key string) string
	Put(ctx context.Context, key string, v []byte) error
}

func peekFallback(context.Context, string, error) string { return "" }
