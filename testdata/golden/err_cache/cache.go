// Package cache: result-cache misuse, each a positioned error and nothing written.
package cache

import (
	"context"
	"io"
	"time"
)

type Req struct{ ID string }

type Item struct {
	Body io.ReadCloser
}

//baldur:protect name=bad
type Bad interface {
	//baldur:protect cache=30s
	NoResult(ctx context.Context, id string) error
	//baldur:protect cache=30s
	Chan(ctx context.Context, id string) (<-chan int, error)
	//baldur:protect cache=30s
	Reader(ctx context.Context, id string) (io.Reader, error)
	//baldur:protect cache=30s
	Body(ctx context.Context, id string) (*Item, error)
	//baldur:protect cache=30s
	Func(ctx context.Context, id string) (func() int, error)
	//baldur:protect cache=30s
	Pointer(ctx context.Context, r *Req) (string, error)
	//baldur:protect cache=30s
	Slice(ctx context.Context, ids []string) (string, error)
	//baldur:protect cache=30s
	Iface(ctx context.Context, v any) (string, error)
	//baldur:protect cache=30s
	Time(ctx context.Context, at time.Time) (string, error)
	//baldur:protect cache=30s
	Variadic(ctx context.Context, ids ...string) (string, error)
	//baldur:protect cache=30s cache_key=r.Missing
	NoField(ctx context.Context, r *Req) (string, error)
	//baldur:protect cache=30s cache_key=other
	NoParam(ctx context.Context, r *Req) (string, error)
	//baldur:protect cache=30s dlq
	WithDLQ(ctx context.Context, id string) (string, error)
	//baldur:protect cache=30s idempotency=id
	WithIdem(ctx context.Context, id string) (string, error)
	//baldur:protect cache_key=id
	KeyAlone(ctx context.Context, id string) (string, error)
	//baldur:protect stale_if_error=5m
	StaleAlone(ctx context.Context, id string) (string, error)
	//baldur:protect cache=0s
	Zero(ctx context.Context, id string) (string, error)
	//baldur:protect cache=25h
	TooLong(ctx context.Context, id string) (string, error)
	//baldur:protect cache=30s stale_if_error=200h
	StaleTooLong(ctx context.Context, id string) (string, error)
	//baldur:protect cache
	Bare(ctx context.Context, id string) (string, error)
}

//baldur:protect cache=1m
type NoErr interface {
	Get(id string) string
}
