// Package skip: //baldur:skip on an interface names methods, and every name
// must be one of its methods; a skipped method cannot also be protected.
package skip

import (
	"context"
	"io"
)

//baldur:protect
//baldur:skip Close Nope
type Conn interface {
	io.Closer
	//baldur:skip Close
	Ping(ctx context.Context) error
}

//baldur:protect
//baldur:skip Send
type Sender interface {
	//baldur:protect retry=2
	Send(ctx context.Context) error
}

//baldur:protect
//baldur:skip
type Bare interface {
	Do() error
}

//baldur:skip Do
type NoProtect interface {
	Do() error
}
