// Package cache: the result cache (cache=, cache_key=, stale_if_error=)
// keyed by one parameter, several, none, a cache_key= path through
// pointers, an integer and a Stringer; with retry, timeout, deadline and a
// fallback; a method without a context; a generic interface.
package cache

import (
	"context"
	"time"
)

type Account struct {
	ID      string
	Balance int64
}

type Query struct {
	Tenant *Tenant
	Page   int
}

type Tenant struct {
	ID   string
	Shop uint32
}

type Region struct{ Name string }

func (r Region) String() string { return r.Name }

type Window struct {
	From, To int64
	Zone     [2]byte
}

//baldur:protect name=accounts cache=30s stale_if_error=5m retry=3 timeout=2s
type Accounts interface {
	// Get is keyed by its one parameter: a string, no allocation on a hit.
	Get(ctx context.Context, id string) (*Account, error)
	// Search is keyed by a struct of its parameters.
	Search(ctx context.Context, prefix string, limit int, w Window) ([]Account, int, error)
	// Count has no parameter but the context: one entry.
	Count(ctx context.Context) (int64, error)
	// ByQuery is keyed by a path through pointers; a nil on it runs the
	// call uncached.
	//baldur:protect cache_key=q.Tenant.ID deadline=10s fallback=emptyPage
	ByQuery(ctx context.Context, q *Query) ([]Account, error)
	// ByShop is keyed by an unsigned integer field.
	//baldur:protect cache_key=q.Tenant.Shop stale_if_error=off
	ByShop(ctx context.Context, q Query, at time.Time) ([]Account, error)
	// InRegion is keyed by a Stringer.
	//baldur:protect cache_key=r cache=1m
	InRegion(ctx context.Context, r Region, opts ...string) ([]Account, error)
	// Close is not cached: it returns only an error.
	//baldur:protect cache=off
	Close(ctx context.Context) error
	// Rate has no context.
	//baldur:protect timeout=off
	Rate(currency string) (float64, error)
}

func emptyPage(ctx context.Context, q *Query, err error) ([]Account, error) { return nil, nil }

// Store is generic: the key and results carry the type parameter.
//
//baldur:protect name=store cache=10s breaker=off
type Store[T any] interface {
	Load(ctx context.Context, key string, version int) (T, error)
}
