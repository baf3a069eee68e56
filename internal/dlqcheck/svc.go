// Package dlqcheck drives generated dead-letter wrappers end to end: the
// wrapper in svc_baldur.go is what baldurgen writes for svc.go, and the tests
// run it against a real runtime on the memory and the embedded store,
// checking what is parked, what a replay calls, and what callers see.
package dlqcheck

import (
	"context"
	"time"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Address is nested in Customer, by value, pointer, slice and map.
type Address struct {
	Street string
	Lines  []string
	Geo    *[2]float64
}

// Customer nests every kind a parked argument may hold.
type Customer struct {
	Name    string
	Address *Address
	Tags    map[string][]int
	Since   time.Time
	Nick    *string
	Homes   map[int64]Address
	Prefs   struct{ Deep map[string]*Address }
	Blob    []byte
	Skipped func() `json:"-"`
}

// Receipt is what a charge returns.
type Receipt struct {
	OrderID string
	Cents   int64
}

// Orders is the dependency under test; every method parks its failures.
//
//baldur:protect name=dlqcheck dlq retry=2 backoff=const(1ms)
type Orders interface {
	// Place takes nested data of every kind.
	Place(ctx context.Context, c Customer, items []Address, at time.Time, note *string) (string, error)

	// Charge is idempotent: its replay goes through the gate too.
	//baldur:protect idempotency=orderID
	Charge(ctx context.Context, orderID string, cents int64) (Receipt, error)

	// Tag is variadic.
	Tag(ctx context.Context, id string, tags ...string) error

	// Flush has no context: a replay brings one.
	Flush(batch map[int64][]byte) error

	// Quote parks only when its fallback fails too.
	//baldur:protect fallback=cachedQuote
	Quote(ctx context.Context, sku string) (int64, error)
}

// OrdersV2 is the next deployment of Orders: Place gained a parameter, so
// entries parked by Orders.Place no longer fit it.
//
//baldur:protect name=dlqcheck dlq
type OrdersV2 interface {
	Place(ctx context.Context, c Customer, items []Address, at time.Time, note *string, priority int) (string, error)
}

// quoteCache is what cachedQuote answers from; an empty cache fails.
var quoteCache = map[string]int64{"cached-sku": 42}

// cachedQuote answers Quote from the cache while pricing is down.
func cachedQuote(_ context.Context, sku string, err error) (int64, error) {
	if v, ok := quoteCache[sku]; ok {
		return v, nil
	}
	return 0, err
}
