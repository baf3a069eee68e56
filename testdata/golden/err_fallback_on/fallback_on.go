// Package fallbackon: misuses of fallback_on= are positioned errors and
// nothing is written.
package fallbackon

import "context"

//baldur:protect name=shop fallback=fb
type Shop interface {
	//baldur:protect fallback_on=bulkhead,opne bulkhead=2
	Unknown(ctx context.Context) error
	//baldur:protect fallback_on=open,,timeout
	Empty(ctx context.Context) error
	//baldur:protect fallback_on=timeout,bulkhead
	NoBulkhead(ctx context.Context) error
	//baldur:protect breaker=off fallback_on=open
	NoBreaker(ctx context.Context) error
	//baldur:protect fallback=off fallback_on=open
	FallbackOff(ctx context.Context) error
}

//baldur:protect name=bare
type Bare interface {
	//baldur:protect fallback_on=open
	NoFallback(ctx context.Context) error
}

func fb(ctx context.Context, err error) error { return err }
