// Package funcs: a func handed back may run the call's work later, under
// the timeout's context, which is cancelled as the call returns.
package funcs

import "context"

// Release is a named func type.
type Release func() error

// Lease holds a func in a field.
type Lease struct {
	ID    string
	Renew func(ctx context.Context) error
}

//baldur:protect timeout=1s
type Locker interface {
	Lock(ctx context.Context, name string) (unlock func(), err error)
	Acquire(ctx context.Context, name string) (Release, error)
	Lease(ctx context.Context, name string) (Lease, error)
	// Skipped: delegated untouched.
	//baldur:skip
	TryLock(ctx context.Context, name string) (func(), error)
	Holder(ctx context.Context, name string) (string, error)
}
