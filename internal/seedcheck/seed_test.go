package seedcheck

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newRuntime(t *testing.T, cfg runtime.Config) *runtime.Runtime {
	t.Helper()
	cfg.Store, cfg.Logger = store.NewMemory(), slog.New(slog.DiscardHandler)
	rt, err := runtime.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

type orders struct{ entered chan struct{} }

func (o orders) Save(ctx context.Context, release <-chan struct{}) error {
	o.entered <- struct{}{}
	select {
	case <-release:
	case <-ctx.Done():
	}
	return nil
}

type ledger struct{ err error }

func (l ledger) Post(context.Context, int64) (string, error) { return "posted", l.err }

// TestACompartmentIsSharedAcrossInterfacesAndItsRejectionFallsBack: Orders
// holds the only slot of the database compartment; Ledger, another
// interface naming the same compartment, is refused, and its fallback
// (fallback_on=bulkhead) answers; a failure of Ledger itself reaches the caller.
func TestACompartmentIsSharedAcrossInterfacesAndItsRejectionFallsBack(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, runtime.Config{Compartments: map[string]runtime.Compartment{"database": {Active: 1}}})
	o := NewProtectedOrders(orders{entered: make(chan struct{}, 1)}, rt)
	down := errors.New("ledger down")
	l := NewProtectedLedger(ledger{}, rt)
	failing := NewProtectedLedger(ledger{err: down}, rt)

	got, err := l.Post(context.Background(), 100)
	require.NoError(t, err)
	assert.Equal(t, "posted", got, "a free compartment: the inner method answers")

	release := make(chan struct{})
	done := make(chan error, 1)
	inner := o.inner.(orders)
	go func() { done <- o.Save(context.Background(), release) }()
	await.Signal(t, inner.entered, "Orders.Save holding the database slot")

	got, err = l.Post(context.Background(), 100)
	require.NoError(t, err)
	assert.Equal(t, "later", got, "the compartment is full: the fallback answers the rejection")

	close(release)
	require.NoError(t, await.Recv(t, done, "Orders.Save"))

	_, err = failing.Post(context.Background(), 100)
	require.ErrorIs(t, err, down, "fallback_on=bulkhead: the method's own failure passes through")
}

type slow struct{ attempts *atomic.Int32 }

func (s slow) Fetch(ctx context.Context) error {
	s.attempts.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// TestADeadlineBoundsTheRetriedCall: each attempt times out after 5ms and is
// retried (retry=50), until the 60ms deadline ends the call.
func TestADeadlineBoundsTheRetriedCall(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, runtime.Config{Breaker: runtime.BreakerConfig{FailureThreshold: 1000}})
	var attempts atomic.Int32
	s := NewProtectedSlow(slow{attempts: &attempts}, rt)
	var err error
	await.Done(t, func() { err = s.Fetch(context.Background()) }, "Slow.Fetch under its deadline")
	require.ErrorIs(t, err, runtime.ErrTimeout)
	assert.Greater(t, attempts.Load(), int32(1), "timeout= ended attempts that were retried")
	assert.Less(t, attempts.Load(), int32(50), "the deadline ended the call before retry= did")
}
