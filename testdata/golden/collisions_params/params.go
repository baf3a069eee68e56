// Package params names parameters like the wrapper's locals and imports
// (ctx, err, w, z, inner, runtime, context, time, permit, cancel, actx, r0,
// attempt) and a method like the wrapper's field: all are renamed.
package params

import "context"

// Weird has every awkward name.
//
//baldur:protect retry=2
type Weird interface {
	//baldur:protect fallback=fb timeout=1s
	A(ctx context.Context, err error, w, z, inner string, runtime, time int) (int, error)
	//baldur:protect timeout=1s
	B(context context.Context, permit, cancel, actx, r0, attempt, perr bool) (string, error)
	C(w int, ctx string) (string, error)
	inner() error
	zA() error
	D(fb string) error
	E(int64 string) (int64, error)
}

func fb(_ context.Context, _ error, _, _, _ string, _, _ int, err error) (int, error) { return 0, err }
