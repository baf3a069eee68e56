// Package sealed has an interface only it can implement.
package sealed

// Sealed has an unexported method.
type Sealed interface {
	Do() error
	seal()
}
