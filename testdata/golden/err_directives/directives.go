// Package directives: directives in the wrong place, on the wrong kind of
// type, malformed, or asking for names the package already uses.
package directives

import "context"

//baldur:protect
func NotAType() {}

//baldur:protect retry=3
type Struct struct{}

//baldur:protect
type Alias = interface{ Do() error }

//baldur:protect
type Empty interface{}

//baldur:protect
type Constraint interface {
	~int | ~string
}

type Unprotected interface {
	//baldur:protect retry=2
	Do(ctx context.Context) error
}

//baldur:protect retyr=3 timeout=5 backoff=exp(1s)
type Malformed interface {
	//baldur:protect backoff=const(1s)
	Do(ctx context.Context) error
}

// ProtectedTaken is declared by hand, so Taken's wrapper cannot be.
type ProtectedTaken struct{}

//baldur:protect
type Taken interface {
	Do(ctx context.Context) error
}

type Trailing interface {
	Do(ctx context.Context) error //baldur:protect retry=2
}

var _ = 1 //baldur:skip
