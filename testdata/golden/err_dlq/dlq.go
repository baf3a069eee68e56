// Package dlq: parked arguments must be data; chan, func and interface
// parameters (other than a leading context) are errors naming the parameter.
package dlq

import (
	"context"
	"io"
)

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
	Fine(ctx context.Context, id string, n *int, b []byte, m map[string]int) error
}
