// Package rwc embeds io.ReadWriteCloser: methods from another package,
// without a context (the wrapper uses context.Background()).
package rwc

import "io"

// Conn is an io.ReadWriteCloser with one more method.
//
//baldur:protect name=conn
type Conn interface {
	io.ReadWriteCloser
	Flush() error
}
