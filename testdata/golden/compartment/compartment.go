// Package compartment: methods of several interfaces share the runtime's
// named compartments (compartment=), a method lifts the interface's with
// compartment=off and takes a bulkhead of its own.
package compartment

import "context"

//baldur:protect name=orders compartment=database
type Orders interface {
	Save(ctx context.Context, id string) error
	Load(ctx context.Context, id string) (string, error)
	//baldur:protect compartment=off bulkhead=3
	Export(ctx context.Context) error
	//baldur:protect compartment=cache
	Cached(ctx context.Context, id string) (string, error)
}

//baldur:protect name=ledger
type Ledger interface {
	//baldur:protect compartment=database
	Post(ctx context.Context, id string, cents int64) error
	//baldur:protect compartment=external_api
	Rate(ctx context.Context, currency string) (float64, error)
}
