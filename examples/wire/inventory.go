// Command wire shows a baldur-protected dependency wired by google/wire: the
// raw implementation is provided as its concrete type, and the interface is
// bound to the protected wrapper, so every consumer of the interface gets the
// protected one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/store"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Inventory tells how many units of a product are in stock.
//
//baldur:protect name=inventory
type Inventory interface {
	Stock(ctx context.Context, sku string) (int, error)
}

// WarehouseClient is the raw Inventory: the warehouse system, which can go down.
type WarehouseClient struct {
	down  atomic.Bool
	stock map[string]int
}

// NewWarehouseClient connects to the warehouse.
func NewWarehouseClient() *WarehouseClient {
	return &WarehouseClient{stock: map[string]int{"mug": 12, "tee": 0}}
}

var errWarehouseDown = errors.New("warehouse unreachable")

// Stock implements Inventory.
func (w *WarehouseClient) Stock(_ context.Context, sku string) (int, error) {
	if w.down.Load() {
		return 0, errWarehouseDown
	}
	return w.stock[sku], nil
}

// SetDown simulates an outage.
func (w *WarehouseClient) SetDown(down bool) { w.down.Store(down) }

// ProvideInventory binds Inventory to the protected wrapper around the raw
// client. wire needs this one-line adapter: the generated ProtectInventory takes
// an Inventory, and that type is the protected one's to provide.
func ProvideInventory(raw *WarehouseClient, rt *runtime.Runtime) Inventory {
	return ProtectInventory(raw, rt)
}

// Shop is a consumer: it depends on the interface only.
type Shop struct{ inv Inventory }

// NewShop builds the shop.
func NewShop(inv Inventory) *Shop { return &Shop{inv: inv} }

// InStock reports whether a product can be ordered.
func (s *Shop) InStock(ctx context.Context, sku string) (bool, error) {
	n, err := s.inv.Stock(ctx, sku)
	if err != nil {
		return false, fmt.Errorf("check stock of %s: %w", sku, err)
	}
	return n > 0, nil
}

// App is what the injector builds: the shop, and the warehouse so that the
// demo and the tests can take it down.
type App struct {
	Shop      *Shop
	Warehouse *WarehouseClient
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run asks the shop while the warehouse is up, then down.
func run(ctx context.Context, out io.Writer) error {
	// The demo keeps breaker state in memory; a service uses runtime.FromEnv.
	mem := store.NewMemory()
	defer mem.Close()
	rt, err := runtime.New(ctx, runtime.Config{
		Store:   mem,
		Breaker: runtime.BreakerConfig{FailureThreshold: 2},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	app := InitializeApp(rt)
	ask := func(sku string) {
		ok, err := app.Shop.InStock(ctx, sku)
		switch {
		case errors.Is(err, runtime.ErrOpen):
			fmt.Fprintf(out, "%s: warehouse not asked, the breaker is open\n", sku)
		case err != nil:
			fmt.Fprintln(out, err)
		default:
			fmt.Fprintf(out, "%s: in stock %v\n", sku, ok)
		}
	}
	ask("mug")
	app.Warehouse.SetDown(true)
	for range 3 {
		ask("mug")
	}
	return nil
}
