// Package deadline: misuses of deadline= are positioned errors and nothing
// is written.
package deadline

import "context"

//baldur:protect name=shop
type Shop interface {
	//baldur:protect deadline=5s
	NoContext(id string) error
	//baldur:protect deadline=5s
	Stream(ctx context.Context) (<-chan string, error)
	//baldur:protect timeout=5s deadline=3s
	Shorter(ctx context.Context) error
	//baldur:protect deadline=0s
	Zero(ctx context.Context) error
	//baldur:protect deadline=25h
	TooLong(ctx context.Context) error
	//baldur:protect deadline=1s
	NoError(ctx context.Context) string
}

// Slow bounds every call on the interface, below a method's own timeout.
//
//baldur:protect name=slow deadline=1s
type Slow interface {
	//baldur:protect timeout=2s
	Fetch(ctx context.Context) error
}
