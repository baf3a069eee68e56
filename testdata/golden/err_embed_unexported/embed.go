// Package embed: an interface embedding another package's interface with
// unexported methods cannot be implemented here, so it cannot be wrapped.
package embed

import "github.com/baldur-go/baldur/testdata/golden/err_embed_unexported/sealed"

//baldur:protect
type Wrapped interface {
	sealed.Sealed
	More() error
}
