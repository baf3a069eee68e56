// Package dlq: parked arguments must be data that encoding/json carries
// back into the parameter; chan, func and interface parameters (other than
// a leading context), and whatever hides them or loses data on the way,
// are errors naming the parameter and the field.
package dlq

import (
	"context"
	"io"
	"math/big"
	"net/url"
	"time"
	"unsafe"
)

// Body holds an interface in a field.
type Body struct {
	Name   string
	Reader io.Reader
}

// Envelope nests Body two levels down.
type Envelope struct{ Inner struct{ Body *Body } }

// Hidden has an unexported field JSON would leave out.
type Hidden struct {
	id   string
	Name string
}

// OneWay encodes itself but cannot decode.
type OneWay struct{ n int }

// MarshalJSON encodes n.
func (o OneWay) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

// Fine is data: time, big numbers, a func JSON is told to skip.
type Fine struct {
	At    time.Time
	Total *big.Int
	Cb    func() `json:"-"`
	note  string `json:"-"`
}

//baldur:protect dlq
type Svc interface {
	Chan(ctx context.Context, ch chan int) error
	Func(ctx context.Context, cb func() error) error
	Iface(ctx context.Context, r io.Reader) error
	Err(ctx context.Context, cause error) error
	Nested(ctx context.Context, m map[string][]func()) error
	CtxSecond(id string, ctx context.Context) error
	Variadic(ctx context.Context, fns ...func()) error
	Unnamed(context.Context, chan<- string) error
	//baldur:protect dlq=off
	Lifted(ctx context.Context, ch chan int) error
	Fine(ctx context.Context, id string, n *int, b []byte, m map[string]int, f Fine, fs []*Fine) error
	Field(ctx context.Context, b Body) error
	Deep(ctx context.Context, e []Envelope) error
	Unexported(ctx context.Context, h map[string]Hidden) error
	OneWayJSON(ctx context.Context, o *OneWay) error
	Complex(ctx context.Context, c complex128) error
	Unsafe(ctx context.Context, p unsafe.Pointer) error
	FloatKeys(ctx context.Context, m map[float64]string) error
	StructKeys(ctx context.Context, m map[struct{ A int }]string) error
	Foreign(ctx context.Context, u *url.URL) error
}
