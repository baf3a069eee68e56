// Package idem: idempotency key paths through fields at any depth, promoted
// fields, pointers, to strings, integers and fmt.Stringers.
package idem

import (
	"context"
	"math/big"
)

// OrderID is a named string.
type OrderID string

// Ref is a fmt.Stringer through a pointer receiver.
type Ref struct{ n int }

func (r *Ref) String() string { return "ref" }

// Meta is embedded: its fields are promoted.
type Meta struct {
	RequestID string
	Seq       uint64
}

// Order is reached through a pointer.
type Order struct {
	ID    OrderID
	Total *big.Int
}

// Request is the argument of every method.
type Request struct {
	Meta
	Order   *Order
	Ref     Ref
	Attempt int8
}

// Orders keys each method differently.
//
//baldur:protect
type Orders interface {
	//baldur:protect idempotency=id
	ByParam(ctx context.Context, id string) error
	//baldur:protect idempotency=req.Order.ID operation=place-order
	ByPointerPath(ctx context.Context, req *Request) error
	//baldur:protect idempotency=req.RequestID
	ByPromoted(ctx context.Context, req Request) error
	//baldur:protect idempotency=req.Seq
	ByUint(ctx context.Context, req *Request) error
	//baldur:protect idempotency=req.Ref
	ByStringer(ctx context.Context, req Request) error
	//baldur:protect idempotency=req.Order.Total
	ByBigInt(ctx context.Context, req Request) error
	//baldur:protect idempotency=n
	ByInt(ctx context.Context, n *int) error
	//baldur:protect idempotency=req.Attempt dlq
	ByInt8(ctx context.Context, req Request) error
}
