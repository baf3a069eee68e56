// Package idem: idempotency paths that do not resolve to a string, an
// integer or a fmt.Stringer name the path and the type found.
package idem

import (
	"context"
	"fmt"
	"math/big"
)

type Order struct {
	ID    string
	Price float64
	Items []string
	Big   *big.Int
}

func (o Order) Key() string { return o.ID }

type Request struct {
	Order Order
}

//baldur:protect
type Svc interface {
	//baldur:protect idempotency=orderID
	NoParam(ctx context.Context, id string) error
	//baldur:protect idempotency=req.Nope
	NoField(ctx context.Context, req Request) error
	//baldur:protect idempotency=req.Order
	Struct(ctx context.Context, req *Request) error
	//baldur:protect idempotency=req.Order.Price
	Float(ctx context.Context, req Request) error
	//baldur:protect idempotency=req.Order.Items
	Slice(ctx context.Context, req Request) error
	//baldur:protect idempotency=req.Order.Key
	Method(ctx context.Context, req Request) error
	//baldur:protect idempotency=id.Len
	NotStruct(ctx context.Context, id string) error
	//baldur:protect idempotency=req.Order.Big.abs
	Unexported(ctx context.Context, req Request) error
	//baldur:protect idempotency=x
	Blank(ctx context.Context, _ string) error
	//baldur:protect idempotency=id idempotency_replay
	ReplayChan(ctx context.Context, id string) (<-chan int, error)
	//baldur:protect idempotency=id idempotency_replay
	ReplayInterface(ctx context.Context, id string) (int, fmt.Stringer, error)
	//baldur:protect idempotency=id idempotency_replay
	ReplayComplex(ctx context.Context, id string) ([]Point, error)
	//baldur:protect idempotency=id idem_ttl=500us
	TinyWindow(ctx context.Context, id string) error
	//baldur:protect idempotency=id
	Überweisen(ctx context.Context, id string) error
	//baldur:protect idempotency=id operation=transfer
	ÜberweisenLabelled(ctx context.Context, id string) error
}

// Point holds a complex number, which encoding/json refuses.
type Point struct{ At complex128 }
