// Package named: named results in the interface; the wrapper uses its own
// locals, so their names (even err) cannot clash.
package named

import "context"

// Reader names its results.
//
//baldur:protect retry=2
type Reader interface {
	Read(ctx context.Context, p []byte) (n int, err error)
	Pair(ctx context.Context) (a, b string, err error)
	Only(ctx context.Context) (err error)
	//baldur:skip
	Peek() (b byte, ok bool)
}
