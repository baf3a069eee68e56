// Package failopen: idempotency_fail_open per method, and for a whole
// service on the interface (every method then needs idempotency=).
package failopen

import "context"

// Mailer sends mail; a duplicate mail is better than none.
//
//baldur:protect name=mailer
type Mailer interface {
	//baldur:protect idempotency=msgID idempotency_fail_open
	Send(ctx context.Context, msgID string, body []byte) error
	//baldur:protect idempotency=msgID
	SendStrict(ctx context.Context, msgID string, body []byte) error
}

// Notifier fails open on every method: the interface says so.
//
//baldur:protect name=notifier idempotency_fail_open idem_ttl=2m
type Notifier interface {
	//baldur:protect idempotency=id
	Notify(ctx context.Context, id int64) error
	//baldur:protect idempotency=id idempotency_fail_open=off
	NotifyStrict(ctx context.Context, id int64) error
}
