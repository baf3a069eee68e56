// Package fallbackon: fallback_on= makes a fallback answer only some
// failures; the others reach the caller.
package fallbackon

import "context"

//baldur:protect name=prices compartment=external_api fallback=cachedPrice fallback_on=bulkhead
type Prices interface {
	// Price: only a compartment-full rejection is answered from the cache.
	Price(ctx context.Context, sku string) (int64, error)
	//baldur:protect fallback_on=open,timeout,bulkhead timeout=2s
	Quote(ctx context.Context, sku string) (int64, error)
	//baldur:protect fallback_on=error
	Guess(ctx context.Context, sku string) (int64, error)
}

func cachedPrice(ctx context.Context, sku string, err error) (int64, error) { return 0, err }
