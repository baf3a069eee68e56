package generator

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/testdata/golden/behaviour"
)

// These tests run the recorded wrapper of testdata/golden/behaviour (kept
// up to date by TestGolden) against fake inner implementations and a real
// runtime: they pin down what the generated code does, not just its text.

var errBoom = errors.New("boom")

// fakeBackend answers each method with the function set for it.
type fakeBackend struct {
	get       func(ctx context.Context, key string) (string, error)
	retry     func(ctx context.Context, key string) (string, error)
	slow      func(ctx context.Context) error
	lookup    func(ctx context.Context, key string) (string, error)
	exclusive func(ctx context.Context) error
	calls     atomic.Int64
}

func (f *fakeBackend) Get(ctx context.Context, key string) (string, error) {
	f.calls.Add(1)
	return f.get(ctx, key)
}

func (f *fakeBackend) Retry(ctx context.Context, key string) (string, error) {
	f.calls.Add(1)
	return f.retry(ctx, key)
}

func (f *fakeBackend) Slow(ctx context.Context) error { f.calls.Add(1); return f.slow(ctx) }

func (f *fakeBackend) Lookup(ctx context.Context, key string) (string, error) {
	f.calls.Add(1)
	return f.lookup(ctx, key)
}

func (f *fakeBackend) Exclusive(ctx context.Context) error { f.calls.Add(1); return f.exclusive(ctx) }

func (f *fakeBackend) Hot(_ context.Context, n int) (int, error) { return n + 1, nil }

func (f *fakeBackend) Count() int { return 42 }

func newBackend(t *testing.T, inner *fakeBackend, b runtime.BreakerConfig) (behaviour.Backend, *runtime.Runtime, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt, err := runtime.New(context.Background(), runtime.Config{
		Breaker:  b,
		Clock:    clk,
		StateDir: t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return behaviour.ProtectBackend(inner, rt), rt, clk
}

func TestWrapperBreakerOpensAfterTheThreshold(t *testing.T) {
	inner := &fakeBackend{get: func(context.Context, string) (string, error) { return "", errBoom }}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 3})
	ctx := context.Background()
	for range 3 {
		_, err := w.Get(ctx, "k")
		require.ErrorIs(t, err, errBoom)
	}
	_, err := w.Get(ctx, "k")
	require.ErrorIs(t, err, runtime.ErrOpen)
	var open *runtime.OpenError
	require.ErrorAs(t, err, &open)
	assert.Equal(t, "backend", open.Service)
	assert.EqualValues(t, 3, inner.calls.Load(), "an open breaker must not call the inner method")

	// The breaker belongs to the service: every method of it is refused.
	inner.lookup = func(context.Context, string) (string, error) { return "fresh", nil }
	got, err := w.Lookup(ctx, "k")
	require.NoError(t, err, "the fallback answers for the open breaker")
	assert.Contains(t, got, "circuit breaker")
	assert.EqualValues(t, 3, inner.calls.Load())
}

func TestWrapperBreakerProbesAfterRecovery(t *testing.T) {
	inner := &fakeBackend{get: func(context.Context, string) (string, error) { return "", errBoom }}
	w, _, clk := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Minute, HalfOpenMaxCalls: 1})
	ctx := context.Background()
	for range 2 {
		_, _ = w.Get(ctx, "k")
	}
	_, err := w.Get(ctx, "k")
	require.ErrorIs(t, err, runtime.ErrOpen)

	// A failed probe re-opens.
	clk.Advance(time.Minute)
	_, err = w.Get(ctx, "k")
	require.ErrorIs(t, err, errBoom, "the probe reaches the inner method")
	_, err = w.Get(ctx, "k")
	require.ErrorIs(t, err, runtime.ErrOpen)

	// A successful probe closes.
	clk.Advance(time.Minute)
	inner.get = func(context.Context, string) (string, error) { return "ok", nil }
	got, err := w.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "ok", got)
	for range 5 {
		_, err = w.Get(ctx, "k")
		require.NoError(t, err)
	}
}

func TestWrapperRetriesUntilSuccess(t *testing.T) {
	var n atomic.Int64
	inner := &fakeBackend{retry: func(context.Context, string) (string, error) {
		if n.Add(1) < 3 {
			return "", errBoom
		}
		return "third time", nil
	}}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 100})
	got, err := w.Retry(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, "third time", got)
	assert.EqualValues(t, 3, inner.calls.Load())
}

func TestWrapperRetryGivesUpAfterTheAttempts(t *testing.T) {
	inner := &fakeBackend{retry: func(context.Context, string) (string, error) { return "", errBoom }}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 100})
	_, err := w.Retry(context.Background(), "k")
	require.ErrorIs(t, err, errBoom)
	assert.EqualValues(t, 3, inner.calls.Load(), "retry=3 is three attempts in total")
}

func TestWrapperRetryStopsOnPermanent(t *testing.T) {
	inner := &fakeBackend{retry: func(context.Context, string) (string, error) {
		return "", runtime.Permanent(errBoom)
	}}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 100})
	_, err := w.Retry(context.Background(), "k")
	require.ErrorIs(t, err, errBoom)
	assert.EqualValues(t, 1, inner.calls.Load())
}

func TestWrapperTimeoutCancelsTheAttempt(t *testing.T) {
	var sawDeadline atomic.Bool
	inner := &fakeBackend{slow: func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		sawDeadline.Store(ok)
		<-ctx.Done() // only the wrapper's timeout ends this
		return ctx.Err()
	}}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 100})
	ctx := context.Background()
	err := w.Slow(ctx)
	require.ErrorIs(t, err, runtime.ErrTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, sawDeadline.Load())
	assert.NoError(t, ctx.Err(), "the caller's context is untouched")
}

func TestWrapperFallbackReceivesTheError(t *testing.T) {
	inner := &fakeBackend{lookup: func(context.Context, string) (string, error) { return "", errBoom }}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 100})
	got, err := w.Lookup(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, "fallback k: boom", got)

	inner.lookup = func(context.Context, string) (string, error) { return "fresh", nil }
	got, err = w.Lookup(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, "fresh", got, "no fallback on success")
}

func TestWrapperBulkheadRejectsWhenFull(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	inner := &fakeBackend{exclusive: func(context.Context) error {
		entered <- struct{}{}
		<-release
		return nil
	}}
	w, _, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 100})
	done := make(chan error)
	go func() { done <- w.Exclusive(context.Background()) }()
	<-entered

	err := w.Exclusive(context.Background())
	require.ErrorIs(t, err, runtime.ErrBulkheadFull)
	var full *runtime.BulkheadFullError
	require.ErrorAs(t, err, &full)
	assert.Equal(t, "backend.Exclusive", full.Compartment, "a method-level bulkhead= is its own compartment")

	close(release)
	require.NoError(t, <-done)
	go func() { done <- w.Exclusive(context.Background()) }() // release stays closed: returns at once
	<-entered
	require.NoError(t, <-done, "the slot is free again")
}

func TestWrapperKillSwitchBypassesEveryPolicy(t *testing.T) {
	inner := &fakeBackend{get: func(context.Context, string) (string, error) { return "", errBoom }}
	w, rt, _ := newBackend(t, inner, runtime.BreakerConfig{FailureThreshold: 1})
	_, _ = w.Get(context.Background(), "k")
	_, err := w.Get(context.Background(), "k")
	require.ErrorIs(t, err, runtime.ErrOpen)

	rt.SetEnabled(false)
	inner.get = func(context.Context, string) (string, error) { return "direct", nil }
	got, err := w.Get(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, "direct", got)
}

func TestWrapperDelegatesMethodsWithoutErrorResult(t *testing.T) {
	w, _, _ := newBackend(t, &fakeBackend{}, runtime.BreakerConfig{})
	assert.Equal(t, 42, w.Count())
}

// The hot-path promise: breaker + retry + bulkhead, success path, no allocation.
func TestWrapperSuccessPathDoesNotAllocate(t *testing.T) {
	w, _, _ := newBackend(t, &fakeBackend{}, runtime.BreakerConfig{})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if n, err := w.Hot(ctx, 1); n != 2 || err != nil {
			t.Fatalf("Hot = %d, %v", n, err)
		}
	})
	assert.Zero(t, allocs)
}
