// Package idemcheck drives generated idempotent wrappers end to end: the
// wrapper in svc_baldur.go is what baldurgen writes for svc.go, and the tests
// run it against a real runtime on the memory store, a failing store and the
// shared Redis, checking what callers see through errors.Is and errors.As.
package idemcheck

import (
	"context"
	"fmt"
	"io"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Receipt is what a charge returns.
type Receipt struct {
	ID      string
	OrderID string
	Cents   int64
}

// Order is reached through a pointer on the key path.
type Order struct {
	ID string
}

// PlaceRequest carries its key at req.Order.ID.
type PlaceRequest struct {
	Order *Order
	Note  string
}

// UploadOptions are per-call options, passed as funcs.
type UploadOptions struct {
	Region string
}

// Payments is the dependency under test; each method exercises one
// idempotency option.
//
//baldur:protect name=idemcheck
type Payments interface {
	// Charge refuses duplicates (fail-closed, no replay).
	//baldur:protect idempotency=orderID
	Charge(ctx context.Context, orderID string, cents int64) (Receipt, error)

	// Place reads its key through a pointer; PlaceAgain is another entry
	// point of the same logical operation.
	//baldur:protect idempotency=req.Order.ID operation=place
	Place(ctx context.Context, req *PlaceRequest) (Receipt, error)
	//baldur:protect idempotency=req.Order.ID operation=place
	PlaceAgain(ctx context.Context, req *PlaceRequest) (Receipt, error)

	// ChargeReplay answers duplicates with the first results.
	//baldur:protect idempotency=orderID idempotency_replay
	ChargeReplay(ctx context.Context, orderID string, cents int64) (Receipt, error)

	// Rate replays a float, which JSON cannot store when it is NaN.
	//baldur:protect idempotency=orderID idempotency_replay
	Rate(ctx context.Context, orderID string) (float64, error)

	// ChargeOpen runs unguarded when the store is unreachable.
	//baldur:protect idempotency=orderID idempotency_fail_open
	ChargeOpen(ctx context.Context, orderID string, cents int64) (Receipt, error)

	// ChargeRetry holds its key across its attempts.
	//baldur:protect idempotency=orderID retry=3 backoff=const(1ms)
	ChargeRetry(ctx context.Context, orderID string, cents int64) (Receipt, error)

	// ByNumber is keyed by an integer.
	//baldur:protect idempotency=n
	ByNumber(ctx context.Context, n int64) error

	// Window honours a running claim for one minute only.
	//baldur:protect idempotency=orderID idem_ttl=1m
	Window(ctx context.Context, orderID string) error

	// Upload's fingerprint reads cents and leaves out body, a reader, and
	// opts, funcs; UploadBare is the same operation without them, so a
	// duplicate across the two shows they add nothing to the fingerprint.
	//baldur:protect idempotency=orderID operation=upload
	Upload(ctx context.Context, orderID string, cents int64, body io.Reader, opts ...func(*UploadOptions)) error
	//baldur:protect idempotency=orderID operation=upload
	UploadBare(ctx context.Context, orderID string, cents int64) error

	// Label's fingerprint reads a fmt.Stringer by its String method.
	//baldur:protect idempotency=orderID
	Label(ctx context.Context, orderID string, label fmt.Stringer) error
}
