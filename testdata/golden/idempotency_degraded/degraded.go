// Package degraded: idempotency_degraded for a whole service (on the
// interface) and per method; a method may serve where its service refuses.
package degraded

import "context"

// Payments would rather refuse a charge than risk running it twice while
// Redis is gone.
//
//baldur:protect name=payments idempotency_degraded=refuse
type Payments interface {
	//baldur:protect idempotency=orderID
	Charge(ctx context.Context, orderID string, cents int64) error
	//baldur:protect idempotency=orderID idempotency_degraded=serve
	Quote(ctx context.Context, orderID string) (int64, error)
}

// Mailer serves while degraded, except for the one method that must not
// send twice.
//
//baldur:protect name=mailer
type Mailer interface {
	//baldur:protect idempotency=msgID
	Send(ctx context.Context, msgID string) error
	//baldur:protect idempotency=msgID idempotency_degraded=refuse idem_ttl=5m
	SendInvoice(ctx context.Context, msgID string) error
}
