// Package payments is the README's directive example, end to end.
package payments

import "context"

// Receipt is what a charge returns.
type Receipt struct{ ID string }

// PaymentGateway talks to the card processor.
//
//baldur:protect name=payments retry=3 timeout=5s
type PaymentGateway interface {
	// Charge charges an order exactly once.
	//baldur:protect idempotency=orderID dlq
	Charge(ctx context.Context, orderID string, cents int64) (Receipt, error)

	//baldur:protect retry=off fallback=cachedBalance
	Balance(ctx context.Context, account string) (int64, error)

	//baldur:skip
	Ping(ctx context.Context) error
}

// cachedBalance answers Balance while the processor is down.
func cachedBalance(_ context.Context, _ string, _ error) (int64, error) { return 0, nil }
