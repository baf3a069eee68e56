// Package pricerpb is the client and server API of the quotes.v1.Pricer gRPC
// service, written by hand in the shape protoc-gen-go-grpc gives it. Its
// messages are protobuf well-known types, so the default proto codec carries
// them and the example needs no protoc.
package pricerpb

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Pricer_GetPrice_FullMethodName is the method's wire name.
const Pricer_GetPrice_FullMethodName = "/quotes.v1.Pricer/GetPrice"

// PricerClient is the client API for the Pricer service.
type PricerClient interface {
	// GetPrice returns the last price of a symbol, in cents.
	GetPrice(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (*wrapperspb.Int64Value, error)
}

type pricerClient struct{ cc grpc.ClientConnInterface }

// NewPricerClient returns a client of the Pricer service over cc.
func NewPricerClient(cc grpc.ClientConnInterface) PricerClient { return &pricerClient{cc} }

func (c *pricerClient) GetPrice(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (*wrapperspb.Int64Value, error) {
	out := new(wrapperspb.Int64Value)
	if err := c.cc.Invoke(ctx, Pricer_GetPrice_FullMethodName, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// PricerServer is the server API for the Pricer service.
type PricerServer interface {
	GetPrice(context.Context, *wrapperspb.StringValue) (*wrapperspb.Int64Value, error)
}

// RegisterPricerServer registers srv on s.
func RegisterPricerServer(s grpc.ServiceRegistrar, srv PricerServer) {
	s.RegisterService(&Pricer_ServiceDesc, srv)
}

func _Pricer_GetPrice_Handler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(PricerServer).GetPrice(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: Pricer_GetPrice_FullMethodName}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(PricerServer).GetPrice(ctx, req.(*wrapperspb.StringValue))
	}
	return interceptor(ctx, in, info, handler)
}

// Pricer_ServiceDesc is the grpc.ServiceDesc for the Pricer service.
var Pricer_ServiceDesc = grpc.ServiceDesc{
	ServiceName: "quotes.v1.Pricer",
	HandlerType: (*PricerServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "GetPrice", Handler: _Pricer_GetPrice_Handler},
	},
	Streams:  []grpc.StreamDesc{},
	Metadata: "quotes/v1/pricer.proto",
}
