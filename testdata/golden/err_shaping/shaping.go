// Package shaping: misuses of the load-shaping keys are positioned errors
// and nothing is written.
package shaping

import "context"

//baldur:protect name=shop
type Shop interface {
	//baldur:protect rate=100
	NoPeriod(ctx context.Context) error
	//baldur:protect rate=10/d
	BadPeriod(ctx context.Context) error
	//baldur:protect rate=0/s
	NoCalls(ctx context.Context) error
	//baldur:protect burst=5 rate_wait=1s rate_scope=fleet
	NoRate(ctx context.Context) error
	//baldur:protect rate=5/s rate_scope=region burst=0 rate_wait=forever
	BadTuning(ctx context.Context) error
	//baldur:protect retry_budget=20%
	NoRetry(ctx context.Context) error
	//baldur:protect retry=3 retry_budget=150%
	BadBudget(ctx context.Context) error
	//baldur:protect throttle=on concurrency=vegas
	BadModes(ctx context.Context) error
	//baldur:protect bulkhead=4 concurrency=adaptive
	BothBounds(ctx context.Context) error
	//baldur:protect rate=5/s throttle=adaptive concurrency=adaptive
	NoError(ctx context.Context) int
}

// Bounded has a bulkhead on the interface; a method asking for an adaptive
// limit as well must lift it.
//
//baldur:protect name=bounded bulkhead=8
type Bounded interface {
	//baldur:protect concurrency=adaptive
	Send(ctx context.Context) error
	//baldur:protect bulkhead=off concurrency=adaptive
	Lifted(ctx context.Context) error
}
