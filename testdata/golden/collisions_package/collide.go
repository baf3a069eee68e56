// Package collide declares package-level names that the generated file
// would import or use (runtime, backoff, context, time, errors, ctx,
// inner, w, z, err): imports are aliased and locals renamed so that it still compiles.
package collide

import (
	stdctx "context"
	htemplate "html/template"
	ttemplate "text/template"
)

var context = "not the package"

func runtime() {}

var time = 3

var backoff = "not the package"

type errors struct{}

// z is a type named like the wrapper's zone local.
type z struct{}

// err is a type named like the wrapper's error local.
type err struct{}

var (
	ctx   = 1
	inner = 2
	w     = 3
)

// Clash uses those names in its signatures.
//
//baldur:protect retry=2 backoff=const(5ms) timeout=1s
type Clash interface {
	Get(c stdctx.Context) (z, error)
	Err(c stdctx.Context) (err, error)
	Errs(c stdctx.Context, e errors) error
	//baldur:protect timeout=off
	NoCtx() error
	// Two packages named template, and a parameter named like both.
	Render(c stdctx.Context, template *ttemplate.Template, h *htemplate.Template) (*htemplate.Template, error)
	// Park's replay signature const would be protectedClashParkSignature,
	// which the package declares, and its parameter takes the next name.
	//baldur:protect dlq
	Park(c stdctx.Context, protectedClashParkSignature1 string) error
}

// protectedClashParkSignature is named like the generated signature const.
var protectedClashParkSignature = "taken"

var _, _, _, _, _ = context, time, ctx, inner + w, protectedClashParkSignature

func _() { runtime() }
