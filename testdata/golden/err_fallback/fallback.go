// Package fallback: the fallback must exist in the package with the
// method's parameters plus err error and the method's results; every way
// of getting it wrong is reported, saying what differs.
package fallback

import "context"

//baldur:protect
type Svc interface {
	//baldur:protect fallback=missing
	Missing(ctx context.Context) error
	//baldur:protect fallback=notAFunc
	NotAFunc(ctx context.Context) error
	//baldur:protect fallback=noErr
	NoErr(ctx context.Context, id string) (int, error)
	//baldur:protect fallback=wrongParam
	WrongParam(ctx context.Context, id string) (int, error)
	//baldur:protect fallback=wrongResult
	WrongResult(ctx context.Context, id string) (int, error)
	//baldur:protect fallback=fewerResults
	FewerResults(ctx context.Context, id string) (int, error)
	//baldur:protect fallback=variadic
	Variadic(ctx context.Context, ids ...string) error
	//baldur:protect fallback=generic
	Generic(ctx context.Context) error
}

var notAFunc = func(context.Context, error) error { return nil }

func noErr(context.Context, string) (int, error)                { return 0, nil }
func wrongParam(context.Context, int, error) (int, error)       { return 0, nil }
func wrongResult(context.Context, string, error) (int64, error) { return 0, nil }
func fewerResults(context.Context, string, error) error         { return nil }
func variadic(context.Context, error, ...string) error          { return nil }
func generic[T any](context.Context, error) error               { return nil }

//baldur:protect
type Repo[K comparable, V any] interface {
	//baldur:protect fallback=plain
	Plain(ctx context.Context, k K) (V, error)
	//baldur:protect fallback=oneParam
	OneParam(ctx context.Context, k K) (V, error)
	//baldur:protect fallback=tighter
	Tighter(ctx context.Context, k K) (V, error)
}

func plain(context.Context, string, error) (int, error)             { return 0, nil }
func oneParam[K comparable](context.Context, K, error) (int, error) { return 0, nil }
func tighter[K ~string, V any](_ context.Context, _ K, err error) (V, error) {
	var v V
	return v, err
}

var _ = notAFunc
