package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore is a memory store closed after the runtime (cleanups run last-in first-out).
func memStore(t *testing.T) *store.Memory {
	mem := store.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	return mem
}

type fixture struct {
	pricer Pricer
	server *priceServer
	rt     *runtime.Runtime
	clock  *clock.Fake
}

// newFixture serves Pricer on a loopback port and dials it through the
// protected client; breaker time is a fake clock.
func newFixture(t *testing.T) fixture {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv, ps := serve(lis)
	t.Cleanup(srv.Stop)
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	rt, err := runtime.New(t.Context(), runtime.Config{
		Store:      memStore(t),
		Breaker:    runtime.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: 10 * time.Second, HalfOpenMaxCalls: 1},
		Classifier: Classify,
		Clock:      fake,
		Logger:     slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	pricer, conn, err := Dial(lis.Addr().String(), rt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return fixture{pricer: pricer, server: ps, rt: rt, clock: fake}
}

func (f fixture) state(t *testing.T) breaker.State {
	t.Helper()
	b, ok := f.rt.Breaker("pricer")
	require.True(t, ok, "the wrapper built the pricer breaker")
	return b.State()
}

func TestBreakerOpensOnUnavailableRejectsFastAndCloses(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	p, err := f.pricer.GetPrice(ctx, wrapperspb.String("BLDR"))
	require.NoError(t, err)
	assert.Equal(t, int64(4_200), p.GetValue())

	f.server.failing.Store(true)
	for range 3 {
		_, err := f.pricer.GetPrice(ctx, wrapperspb.String("BLDR"))
		assert.Equal(t, codes.Unavailable, status.Code(err))
	}
	require.Equal(t, breaker.Open, f.state(t))
	served := f.server.calls.Load()

	_, err = f.pricer.GetPrice(ctx, wrapperspb.String("BLDR"))
	require.ErrorIs(t, err, runtime.ErrOpen)
	var open *runtime.OpenError
	require.ErrorAs(t, err, &open)
	assert.Equal(t, "GetPrice", open.Method)
	assert.Equal(t, served, f.server.calls.Load(), "a rejected call never reaches the server")

	f.server.failing.Store(false)
	f.clock.Advance(10 * time.Second)
	require.Equal(t, breaker.HalfOpen, f.state(t))
	p, err = f.pricer.GetPrice(ctx, wrapperspb.String("ACME"))
	require.NoError(t, err)
	assert.Equal(t, int64(1_337), p.GetValue())
	assert.Equal(t, breaker.Closed, f.state(t))
}

func TestRequestErrorsDoNotOpenTheBreaker(t *testing.T) {
	f := newFixture(t)
	for range 10 {
		_, err := f.pricer.GetPrice(t.Context(), wrapperspb.String("NOPE"))
		assert.Equal(t, codes.NotFound, status.Code(err))
	}
	assert.Equal(t, int64(10), f.server.calls.Load())
	assert.Equal(t, breaker.Closed, f.state(t))
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want runtime.Outcome
	}{
		{status.Error(codes.Unavailable, "down"), runtime.Failure},
		{status.Error(codes.DeadlineExceeded, "slow"), runtime.Failure},
		{status.Error(codes.ResourceExhausted, "quota"), runtime.Failure},
		{&runtime.TimeoutError{Err: status.Error(codes.DeadlineExceeded, "slow")}, runtime.Failure},
		{status.Error(codes.InvalidArgument, "bad"), runtime.Success},
		{status.Error(codes.NotFound, "nope"), runtime.Success},
		{status.Error(codes.PermissionDenied, "no"), runtime.Success},
		{status.Error(codes.Canceled, "bye"), runtime.Ignored},
	} {
		got, ok := Classify(tc.err)
		assert.True(t, ok, tc.err)
		assert.Equal(t, tc.want, got, tc.err)
	}
	_, ok := Classify(errors.New("not a status"))
	assert.False(t, ok, "errors without a status fall through to the default rules")
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	assert.Equal(t, `BLDR: 4200 cents, breaker CLOSED
NOPE: NotFound, breaker CLOSED
BLDR: Unavailable, breaker CLOSED
BLDR: Unavailable, breaker CLOSED
BLDR: Unavailable, breaker OPEN
BLDR: rejected, breaker OPEN
BLDR: 4200 cents, breaker CLOSED
`, out.String())
}
