// Package deadline: deadline= bounds the whole call, attempts and backoff
// together; methods with a context and no timeout= of their own take the
// runtime's default timeout (BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS).
package deadline

import "context"

//baldur:protect name=shipping retry=5 timeout=2s deadline=10s
type Shipping interface {
	Book(ctx context.Context, parcel string) (string, error)
	//baldur:protect deadline=off
	Track(ctx context.Context, parcel string) (string, error)
	//baldur:protect timeout=off deadline=30s fallback=noLabel
	Label(ctx context.Context, parcel string) ([]byte, error)
}

// Mailer has no timeout= anywhere: its methods with a context take the
// default timeout; the one without a context cannot.
//
//baldur:protect name=mailer
type Mailer interface {
	Send(ctx context.Context, to string) error
	Flush() error
	//baldur:protect timeout=off
	Slow(ctx context.Context) error
	// Watch returns a channel: no default timeout may cancel it.
	Watch(ctx context.Context) (<-chan string, error)
}

func noLabel(ctx context.Context, parcel string, err error) ([]byte, error) { return nil, err }
