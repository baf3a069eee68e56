// Package hidden exports an interface whose method mentions an unexported type.
package hidden

type secret struct{}

// Getter cannot be spelled outside this package.
type Getter interface {
	Get() (secret, error)
}
