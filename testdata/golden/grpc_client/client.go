// Package greeter is a hand-written gRPC client interface, shaped like
// protoc-gen-go-grpc's output: types from another module, a variadic
// ...grpc.CallOption, and a server stream, which a timeout must not reach.
package greeter

import (
	"context"

	"google.golang.org/grpc"
)

// HelloRequest is the request message.
type HelloRequest struct{ Name string }

// HelloReply is the response message.
type HelloReply struct{ Message string }

// GreeterClient is the client API for the Greeter service.
//
//baldur:protect name=greeter retry=3 backoff=exp(50ms,2s)
type GreeterClient interface {
	//baldur:protect timeout=3s
	SayHello(ctx context.Context, in *HelloRequest, opts ...grpc.CallOption) (*HelloReply, error)
	StreamHellos(ctx context.Context, in *HelloRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[HelloReply], error)
}
