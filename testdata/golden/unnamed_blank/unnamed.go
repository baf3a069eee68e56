// Package unnamed: unnamed and blank parameters get names so that the
// wrapper can forward them; a fallback still receives them in order.
package unnamed

import "context"

// Sender mixes unnamed, blank and named parameters.
//
//baldur:protect
type Sender interface {
	Send(context.Context, string, []byte) error
	//baldur:protect fallback=resendFallback
	Resend(_ context.Context, _ string, a0 int, _ ...bool) (int, error)
	Close() error
}

func resendFallback(context.Context, string, int, []bool, error) (int, error) { return 0, nil }
