// Command grpc shows a gRPC client protected by baldur: the service's client
// interface (pricerpb.PricerClient, as protoc-gen-go-grpc writes it) is embedded
// in an annotated interface, and the generated wrapper goes around the real
// client. A classifier teaches the breaker which status codes mean "the server
// is in trouble".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/baldur-go/baldur/examples/grpc/pricerpb"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Pricer is the Pricer service's client, protected. No retry here: gRPC
// retries through its own service config; baldur adds the breaker and a
// per-attempt deadline.
//
//baldur:protect name=pricer timeout=1s
type Pricer interface {
	pricerpb.PricerClient
}

// Classify counts gRPC status codes for the breaker: the codes that say the
// server or the network is struggling are failures; the ones that say the
// request itself was wrong are answers (successes, not retried). Errors
// without a status fall through to the runtime's default rules.
func Classify(err error) (runtime.Outcome, bool) {
	s, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	switch s.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Aborted, codes.Internal, codes.Unknown, codes.DataLoss:
		return runtime.Failure, true
	case codes.Canceled:
		return runtime.Ignored, true
	default: // InvalidArgument, NotFound, AlreadyExists, PermissionDenied, ...
		return runtime.Success, true
	}
}

// Dial connects to the Pricer service at addr and wraps the client with its
// policies.
func Dial(addr string, rt *runtime.Runtime) (Pricer, *grpc.ClientConn, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("dial pricer: %w", err)
	}
	return NewProtectedPricer(pricerpb.NewPricerClient(conn), rt), conn, nil
}

// priceServer is an in-process Pricer server that can be switched to failing.
type priceServer struct {
	failing atomic.Bool
	calls   atomic.Int64
}

var prices = map[string]int64{"BLDR": 4_200, "ACME": 1_337}

func (s *priceServer) GetPrice(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.Int64Value, error) {
	s.calls.Add(1)
	if s.failing.Load() {
		return nil, status.Error(codes.Unavailable, "price feed down")
	}
	p, ok := prices[in.GetValue()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no symbol %q", in.GetValue())
	}
	return wrapperspb.Int64(p), nil
}

// serve starts a Pricer server on lis; stop it with GracefulStop.
func serve(lis net.Listener) (*grpc.Server, *priceServer) {
	srv := grpc.NewServer()
	ps := &priceServer{}
	pricerpb.RegisterPricerServer(srv, ps)
	go func() { _ = srv.Serve(lis) }()
	return srv, ps
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run fails the server, lets the breaker open, then recovers it.
func run(ctx context.Context, out io.Writer) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, ps := serve(lis)
	defer srv.GracefulStop()

	halfOpen := make(chan struct{}, 1)
	// The demo keeps breaker state in memory; a service leaves Store unset
	// (embedded store under StateDir) or sets RedisURL.
	mem := store.NewMemory()
	defer mem.Close()
	rt, err := runtime.New(ctx, runtime.Config{
		Store:      mem,
		Breaker:    runtime.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: 200 * time.Millisecond, HalfOpenMaxCalls: 1},
		Classifier: Classify,
		Logger:     slog.New(slog.DiscardHandler),
		OnBreakerChange: func(t breaker.Transition) {
			if t.To == breaker.HalfOpen {
				select {
				case halfOpen <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	pricer, conn, err := Dial(lis.Addr().String(), rt)
	if err != nil {
		return err
	}
	defer conn.Close()

	call := func(symbol string) {
		p, err := pricer.GetPrice(ctx, wrapperspb.String(symbol))
		b, _ := rt.Breaker("pricer")
		switch {
		case errors.Is(err, runtime.ErrOpen):
			fmt.Fprintf(out, "%s: rejected, breaker %s\n", symbol, b.State())
		case err != nil:
			fmt.Fprintf(out, "%s: %s, breaker %s\n", symbol, status.Code(err), b.State())
		default:
			fmt.Fprintf(out, "%s: %d cents, breaker %s\n", symbol, p.GetValue(), b.State())
		}
	}
	call("BLDR")
	call("NOPE") // NotFound: an answer, not a failure
	ps.failing.Store(true)
	for range 4 {
		call("BLDR")
	}
	ps.failing.Store(false)
	<-halfOpen // RecoveryTimeout later the breaker admits a probe
	call("BLDR")
	return nil
}
