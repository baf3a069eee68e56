// Package lift: interface-level keys are explicit, so methods that cannot
// honour them must lift them: key=off on the method, //baldur:skip on the
// method, or //baldur:skip Name on the interface for embedded methods.
package lift

import (
	"context"
	"fmt"
)

// Account embeds fmt.Stringer, whose String has no error result.
//
//baldur:protect retry=3 timeout=2s dlq
//baldur:skip String
type Account interface {
	fmt.Stringer
	Debit(ctx context.Context, cents int64) error
	//baldur:protect retry=off timeout=off dlq=off
	Name() string
	//baldur:skip
	Watch(ctx context.Context) (<-chan int64, error)
	//baldur:protect timeout=off dlq=off
	Subscribe(ctx context.Context, fn func(int64)) (<-chan int64, error)
}
