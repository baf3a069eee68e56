// Package noerr: the implicit breaker reaches only methods whose last
// result is error; the others are delegated untouched (and -explain says why).
package noerr

import "context"

// Cache has methods with and without an error result.
//
//baldur:protect
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Len() int
	Reset()
	Put(ctx context.Context, key string, v []byte) error
	// error must be the last result to count.
	Swap(key string) (error, bool)
}
