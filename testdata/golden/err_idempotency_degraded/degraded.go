// Package degraded: misuses of idempotency_degraded are positioned errors
// and nothing is written.
package degraded

import "context"

//baldur:protect name=shop
type Shop interface {
	//baldur:protect idempotency=id idempotency_degraded=refuze
	BadValue(ctx context.Context, id string) error
	//baldur:protect idempotency_degraded=refuse
	NoIdempotency(ctx context.Context, id string) error
	//baldur:protect idempotency=id idempotency_fail_open idempotency_degraded=refuse
	Contradiction(ctx context.Context, id string) error
	//baldur:protect idempotency=off idempotency_degraded=serve
	Off(ctx context.Context, id string) error
}

// Strict refuses on the interface; a method that fails open contradicts it.
//
//baldur:protect name=strict idempotency_degraded=refuse
type Strict interface {
	//baldur:protect idempotency=id idempotency_fail_open
	Send(ctx context.Context, id string) error
}
