// Package replay: idempotency_replay stores the first successful results in
// an anonymous struct of them and returns them to duplicates; a fallback's
// answer is never stored; generic results round-trip too.
package replay

import "context"

// Receipt is what a charge returns.
type Receipt struct {
	ID    string
	Cents int64
}

// Charges replays the first answer to duplicates.
//
//baldur:protect name=charges retry=2 backoff=const(10ms)
type Charges interface {
	//baldur:protect idempotency=orderID idempotency_replay idem_ttl=90s
	Charge(ctx context.Context, orderID string, cents int64) (Receipt, int64, error)
	//baldur:protect idempotency=orderID idempotency_replay
	Refund(ctx context.Context, orderID string) error
	//baldur:protect idempotency=orderID idempotency_replay retry=off fallback=quoteLater
	Quote(ctx context.Context, orderID string) (*Receipt, error)
	//baldur:protect idempotency=orderID idempotency_replay=off
	NoReplay(ctx context.Context, orderID string) (Receipt, error)
	// Collide names its parameters like the wrapper's locals and builtins.
	//baldur:protect idempotency=orderID idempotency_replay
	Collide(ctx context.Context, orderID string, res int, enc []byte, string bool, claim float64) (int, error)
}

func quoteLater(_ context.Context, _ string, err error) (*Receipt, error) { return nil, err }

// Cache is generic: its results struct holds a T.
//
//baldur:protect name=cache
type Cache[T any] interface {
	//baldur:protect idempotency=key idempotency_replay
	Put(ctx context.Context, key string, v T) (T, bool, error)
}
