// Package durations: durations are written in the largest exact unit, and
// backoff=const and exp(...) map to runtime.Backoff.
package durations

import "context"

// Timer has one method per duration shape.
//
//baldur:protect name=timer.v2 breaker=off
type Timer interface {
	//baldur:protect timeout=1500ms
	Ms(ctx context.Context) error
	//baldur:protect timeout=90s retry=2 backoff=exp(1us,1h)
	Mixed(ctx context.Context) error
	//baldur:protect timeout=1h30m retry=100 backoff=const(2m)
	Long(ctx context.Context) error
	//baldur:protect retry=1
	OneAttempt(ctx context.Context) error
	// Everything off: delegated.
	Off(ctx context.Context) error
	//baldur:protect breaker=on
	On(ctx context.Context) error
}
