//go:build wireinject

package main

import (
	"github.com/google/wire"

	"github.com/baldur-go/baldur/runtime"
)

// InitializeApp builds the App; wire writes its body into wire_gen.go.
func InitializeApp(rt *runtime.Runtime) *App {
	wire.Build(
		NewWarehouseClient, // the raw implementation, as its concrete type
		ProvideInventory,   // Inventory = the protected wrapper around it
		NewShop,
		wire.Struct(new(App), "*"),
	)
	return nil
}
