// Package noctx: methods without a leading context.Context run their
// policies under context.Background(); a context elsewhere is just a parameter.
package noctx

import "context"

// Mailer has no context parameters first.
//
//baldur:protect retry=4 backoff=const(250ms)
type Mailer interface {
	Send(to, body string) error
	Queue(id int, ctx context.Context) (string, error)
}
