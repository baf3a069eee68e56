// Package generics: interfaces with type parameters, including constraint
// unions, and instantiated generic embeds such as Store[User].
package generics

import "context"

// User is a stored value.
type User struct{ Name string }

// Store is generic and protected itself; the directive on Put also applies
// where Store is embedded.
//
//baldur:protect
type Store[T any] interface {
	//baldur:protect retry=off
	Put(ctx context.Context, key string, v T) error
	Get(ctx context.Context, key string) (T, error)
}

// Users embeds an instantiated generic interface.
//
//baldur:protect retry=2
type Users interface {
	Store[User]
	Count(ctx context.Context) (int, error)
}

// Repo is generic itself, embeds a generic embed over its own parameter,
// and its fallback is a generic function with the same type parameters.
//
//baldur:protect name=repo
type Repo[K comparable, V any] interface {
	Store[V]
	//baldur:protect fallback=findFallback
	Find(ctx context.Context, k K) (V, error)
	Keys(ctx context.Context) ([]K, map[K]V, error)
}

func findFallback[K comparable, V any](_ context.Context, _ K, err error) (V, error) {
	var zero V
	return zero, err
}

// Number is a constraint with a type set.
type Number interface{ ~int | ~int64 | ~float64 }

// Summer's type parameter has a union constraint, and one written inline.
//
//baldur:protect timeout=1s
type Summer[N Number, M interface{ ~string | ~[]byte }] interface {
	Sum(ctx context.Context, xs ...N) (N, error)
	Label(ctx context.Context, m M) (M, error)
}
