package main

import (
	"context"
	"fmt"
	"sync"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Receipt is what the card processor returns for a charge.
type Receipt struct {
	ID      string
	OrderID string
	Cents   int64
}

// PaymentGateway talks to the card processor.
//
//baldur:protect name=payments retry=3 backoff=exp(20ms,200ms) timeout=2s
type PaymentGateway interface {
	// Charge charges an order exactly once: a second charge of the same order
	// is refused as a duplicate, on every process sharing the store. A charge
	// that fails is parked in the dead-letter queue and replayed later.
	//baldur:protect idempotency=orderID dlq
	Charge(ctx context.Context, orderID string, cents int64) (Receipt, error)

	// Balance reads an account balance; when the processor cannot answer, the
	// last balance we saw answers instead.
	//baldur:protect retry=off fallback=cachedBalance
	Balance(ctx context.Context, account string) (int64, error)

	//baldur:skip
	Ping(ctx context.Context) error
}

// Entry is one ledger line.
type Entry struct {
	OrderID string
	Cents   int64
}

// Ledger records charges in the books. It is slow, so at most two writes run at once.
//
//baldur:protect name=ledger bulkhead=2
type Ledger interface {
	Record(ctx context.Context, e Entry) error
}

// balances remembers the last balance read per account, for cachedBalance.
var balances sync.Map

// cachedBalance answers Balance when the processor cannot: the last balance seen.
func cachedBalance(_ context.Context, account string, err error) (int64, error) {
	if v, ok := balances.Load(account); ok {
		return v.(int64), nil
	}
	return 0, fmt.Errorf("no cached balance for %s: %w", account, err)
}
