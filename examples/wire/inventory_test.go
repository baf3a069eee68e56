package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	mem := store.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	rt, err := runtime.New(t.Context(), runtime.Config{
		Store:   mem,
		Breaker: runtime.BreakerConfig{FailureThreshold: 2},
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

func TestInjectorBindsTheProtectedInventory(t *testing.T) {
	rt := newRuntime(t)
	app := InitializeApp(rt)
	assert.IsType(t, &ProtectedInventory{}, app.Shop.inv, "the shop got the wrapper, not the raw client")

	ok, err := app.Shop.InStock(t.Context(), "mug")
	require.NoError(t, err)
	assert.True(t, ok)
	b, found := rt.Breaker("inventory")
	require.True(t, found, "the call went through the wrapper")
	assert.Equal(t, breaker.Closed, b.State())

	app.Warehouse.SetDown(true)
	for range 2 {
		_, err := app.Shop.InStock(t.Context(), "mug")
		require.ErrorIs(t, err, errWarehouseDown)
	}
	assert.Equal(t, breaker.Open, b.State())
	_, err = app.Shop.InStock(t.Context(), "mug")
	require.ErrorIs(t, err, runtime.ErrOpen)
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	assert.Equal(t, `mug: in stock true
check stock of mug: warehouse unreachable
check stock of mug: warehouse unreachable
mug: warehouse not asked, the breaker is open
`, out.String())
}
