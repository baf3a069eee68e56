// Package unwritable: a wrapper in this package cannot spell another
// package's unexported types, so the interface cannot be wrapped.
package unwritable

import "github.com/baldur-go/baldur/testdata/golden/err_unwritable/hidden"

//baldur:protect
type Wrapped interface {
	hidden.Getter
}
