package dlq

import "context"

// Cache is generic: its replayer's signature carries the type arguments.
//
//baldur:protect name=cache dlq
type Cache[K comparable, V any] interface {
	Put(ctx context.Context, key K, value V) error
	PutAll(ctx context.Context, values map[string]V, keys ...K) (int, error)
}
