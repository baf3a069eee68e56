// Package sealed: an interface sealed with an unexported method can still be
// wrapped in its own package; the unexported method is delegated.
package sealed

import "context"

// Shape is sealed: only this package can implement it.
//
//baldur:protect
type Shape interface {
	Area(ctx context.Context) (float64, error)
	sealed()
	validate(ctx context.Context) error
}
