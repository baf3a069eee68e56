// Package hedge: misuses of hedge= are positioned errors and nothing is
// written.
package hedge

import "context"

type Stream interface {
	Recv() (string, error)
}

//baldur:protect name=shop
type Shop interface {
	//baldur:protect hedge=2
	NotSafe(ctx context.Context) error
	//baldur:protect hedge=2 idempotent dlq
	Parked(ctx context.Context, id string) error
	//baldur:protect hedge=1 idempotent
	NoContext(id string) error
	//baldur:protect hedge=1 idempotent
	Watch(ctx context.Context) (<-chan string, error)
	//baldur:protect hedge=1 idempotent
	Tail(ctx context.Context) (Stream, error)
	//baldur:protect hedge=1 idempotent
	NoError(ctx context.Context) int
	//baldur:protect hedge=11 idempotent
	TooMany(ctx context.Context) error
	//baldur:protect hedge=1 hedge_delay=p10 idempotent
	BadDelay(ctx context.Context) error
	//baldur:protect hedge_delay=50ms
	NoHedge(ctx context.Context) error
}

// Feed hedges every method from the interface; a method without a context
// must lift it.
//
//baldur:protect name=feed hedge=1 idempotent
type Feed interface {
	Pull(ctx context.Context) error
	Legacy() error
}
