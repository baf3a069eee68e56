// Package compartment: misuses of compartment= are positioned errors and
// nothing is written.
package compartment

import "context"

//baldur:protect name=shop
type Shop interface {
	//baldur:protect compartment=Database
	BadName(ctx context.Context) error
	//baldur:protect compartment
	Bare(ctx context.Context) error
	//baldur:protect compartment=database bulkhead=4
	Both(ctx context.Context) error
	//baldur:protect compartment=database bulkhead_wait=1s
	Wait(ctx context.Context) error
	//baldur:protect compartment=cache
	NoError(ctx context.Context) string
}

// Mixed shares a compartment on the interface; a method adding a bulkhead
// of its own without lifting it is a contradiction.
//
//baldur:protect name=mixed compartment=database
type Mixed interface {
	//baldur:protect bulkhead=2
	Own(ctx context.Context) error
}
