// Package timeout: a timeout needs a leading context.Context, and is refused
// on methods returning a channel or a stream (a result with a Recv method).
package timeout

import (
	"context"

	"google.golang.org/grpc"
)

// Events is a stream: it has Recv.
type Events interface {
	Recv() (string, error)
}

type Reply struct{}

//baldur:protect timeout=5s
type Feed interface {
	NoCtx(id string) error
	CtxSecond(id string, ctx context.Context) error
	Chan(ctx context.Context) (<-chan string, error)
	Stream(ctx context.Context) (Events, error)
	//baldur:protect timeout=1s
	GRPC(ctx context.Context, opts ...grpc.CallOption) (grpc.ServerStreamingClient[Reply], error)
	//baldur:protect timeout=off
	Fine(id string) error
}
