// Package variadic: ...T parameters are forwarded with "...", and the
// fallback receives them as []T.
package variadic

import "context"

// Logger has variadic methods.
//
//baldur:protect retry=3
type Logger interface {
	//baldur:protect fallback=logFallback
	Log(ctx context.Context, format string, args ...any) error
	Tags(tags ...string) (int, error)
	//baldur:skip
	Flush(names ...string)
}

func logFallback(_ context.Context, _ string, _ []any, err error) error { return err }
