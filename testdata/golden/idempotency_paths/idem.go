// Package idem: idempotency key paths through fields at any depth, promoted
// fields, pointers, to strings, integers and fmt.Stringers; and the
// fingerprint of every argument kind.
package idem

import (
	"context"
	"fmt"
	"math/big"
	"time"
)

// OrderID is a named string.
type OrderID string

// Ref is a fmt.Stringer through a pointer receiver.
type Ref struct{ n int }

func (r *Ref) String() string { return fmt.Sprint("ref-", r.n) }

// Status is an integer with a String method: the number is the key.
type Status int

func (s Status) String() string { return "status" }

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

// Request is the argument of most methods.
type Request struct {
	Meta
	Order   *Order
	Ref     Ref
	Attempt int8
}

// Envelope embeds a pointer: the wrapper checks it for nil.
type Envelope struct {
	*Meta
	Status Status
	Named  OrderPtr
}

// OrderPtr is a named pointer type.
type OrderPtr *Order

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
	//baldur:protect idempotency=req.Attempt
	ByInt8(ctx context.Context, req Request) error
	//baldur:protect idempotency=env.RequestID
	ByEmbeddedPointer(ctx context.Context, env Envelope) error
	//baldur:protect idempotency=env.Status
	ByEnum(ctx context.Context, env *Envelope) error
	//baldur:protect idempotency=env.Named.ID
	ByNamedPointer(ctx context.Context, env Envelope) error
	//baldur:protect idempotency=req.Order.ID
	ByPointerToPointer(ctx context.Context, req **Request) error
	//baldur:protect idempotency=id
	ByPointerToPointerInt(ctx context.Context, id **uint32) error
	//baldur:protect idempotency=s
	ByInterface(ctx context.Context, s fmt.Stringer) error
	//baldur:protect idempotency=ref
	ByPointerStringer(ctx context.Context, ref *Ref) error
	//baldur:protect idempotency=id
	NoContext(id string, n int) error
	//baldur:protect idempotency=claim
	ParamsNamedLikeLocals(ctx context.Context, claim string, fp int, res []byte, enc bool, strconv uint) (int, error)
	//baldur:protect idempotency=id
	Kinds(ctx context.Context, id OrderID, i int, i64 int64, u8 uint8, ok bool, f32 float32, f64 float64,
		c64 complex64, c128 complex128, b []byte, at time.Time, ch chan int, fn func(), m map[string]int, req *Request, xs ...string) error
}
