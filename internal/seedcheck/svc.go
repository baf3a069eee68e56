// Package seedcheck drives the seed's compartments, fallback_on= and
// deadline= through a generated wrapper: two interfaces share a named
// compartment, a fallback answers only its rejection, and a deadline bounds
// a retried call.
package seedcheck

import "context"

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Orders writes to the database compartment.
//
//baldur:protect name=orders compartment=database
type Orders interface {
	// Save holds its slot until ctx ends or release is closed.
	Save(ctx context.Context, release <-chan struct{}) error
}

// Ledger shares the database compartment; its fallback answers only a
// compartment-full rejection.
//
//baldur:protect name=ledger compartment=database fallback=postLater fallback_on=bulkhead
type Ledger interface {
	Post(ctx context.Context, cents int64) (string, error)
}

func postLater(ctx context.Context, cents int64, err error) (string, error) {
	return "later", nil
}

// Slow is retried, and bounded as a whole by its deadline.
//
//baldur:protect name=slow retry=50 backoff=const(1ms) timeout=5ms deadline=60ms
type Slow interface {
	Fetch(ctx context.Context) error
}
