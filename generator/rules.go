package generator

import (
	"fmt"
	"go/token"
	"go/types"
	"sort"
	"strings"
	"time"

	"github.com/baldur-go/baldur/annotations"
)

// The rules of DESIGN.md "Rules at the edges" that depend on a method's
// types: what an explicit key asks for must be something the method can
// honour, or it is a positioned error.

// onKey is a key written explicitly and switched on.
type onKey struct {
	key, text string
	pos       token.Pos
}

// explicitOn lists the keys written on the interface or the method that ask
// for a policy; only these can be refused, never the implicit breaker.
func explicitOn(p annotations.Policy) []onKey {
	var out []onKey
	if p.Breaker.Set && p.Breaker.Val {
		out = append(out, onKey{"breaker", "breaker=on", p.Breaker.Pos})
	}
	if p.Retry.Set && p.Retry.Val > 0 {
		out = append(out, onKey{"retry", fmt.Sprintf("retry=%d", p.Retry.Val), p.Retry.Pos})
	}
	if p.Timeout.Set && p.Timeout.Val > 0 {
		out = append(out, onKey{"timeout", "timeout=" + shortDuration(p.Timeout.Val), p.Timeout.Pos})
	}
	if p.Fallback.Set && p.Fallback.Val != "" {
		out = append(out, onKey{"fallback", "fallback=" + p.Fallback.Val, p.Fallback.Pos})
	}
	if p.Idempotency.Set && p.Idempotency.Val != "" {
		out = append(out, onKey{"idempotency", "idempotency=" + p.Idempotency.Val, p.Idempotency.Pos})
	}
	if p.DLQ.Set && p.DLQ.Val {
		out = append(out, onKey{"dlq", "dlq=on", p.DLQ.Pos})
	}
	if p.Bulkhead.Set && p.Bulkhead.Val > 0 {
		out = append(out, onKey{"bulkhead", fmt.Sprintf("bulkhead=%d", p.Bulkhead.Val), p.Bulkhead.Pos})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// rule checks one method against the keys that depend on its types.
type rule struct {
	a        *analyzer
	it       *Interface
	m        *Method
	method   annotations.Policy // the method's own directive
	embedded bool
}

// lift says how to switch key off for this method only.
func (r rule) lift(key string) string {
	switch {
	case r.embedded:
		return fmt.Sprintf("lift it with //baldur:skip %s on the interface", r.m.Name)
	case r.onMethod(key):
		return fmt.Sprintf("remove %s from the directive of %s, or put //baldur:skip on it", key, r.m.Name)
	default:
		return fmt.Sprintf("lift it with %s=off or //baldur:skip on %s", key, r.m.Name)
	}
}

func (r rule) onMethod(key string) bool {
	p := r.method
	switch key {
	case "breaker":
		return p.Breaker.Set
	case "retry":
		return p.Retry.Set
	case "timeout":
		return p.Timeout.Set
	case "fallback":
		return p.Fallback.Set
	case "idempotency":
		return p.Idempotency.Set
	case "dlq":
		return p.DLQ.Set
	case "bulkhead":
		return p.Bulkhead.Set
	}
	return false
}

// timeout: the deadline travels in the first context.Context, and its cancel
// runs when the method returns, which would kill a channel or stream the
// method hands back.
func (r rule) timeout(o annotations.Opt[time.Duration]) {
	text := "timeout=" + shortDuration(o.Val)
	if r.m.Ctx < 0 {
		r.a.errs.errorf(o.Pos, "%s cannot apply to %s: a timeout travels in a context.Context first parameter, and %s has none; %s",
			text, r.m.Name, r.m.Name, r.lift("timeout"))
	}
	for i, t := range r.m.Results[:len(r.m.Results)-1] {
		switch {
		case isChan(t):
			r.a.errs.errorf(o.Pos, "%s cannot apply to %s: it returns a channel (result %d, %s), and the timeout's context is cancelled as soon as %s returns; %s",
				text, r.m.Name, i+1, r.a.typeString(t), r.m.Name, r.lift("timeout"))
		case isStream(t):
			r.a.errs.errorf(o.Pos, "%s cannot apply to %s: it returns a stream (result %d, %s, has a Recv method), and the timeout's context is cancelled as soon as %s returns; %s",
				text, r.m.Name, i+1, r.a.typeString(t), r.m.Name, r.lift("timeout"))
		}
	}
}

// dlq: the arguments are parked durably for a typed replay, so each one
// (but a leading context) must be data.
func (r rule) dlq(pos token.Pos) {
	for i, p := range r.m.Params {
		if i == r.m.Ctx {
			continue
		}
		if why := notData(p.Type, false); why != "" {
			if isContext(p.Type) {
				why += " (only a leading context.Context is left out)"
			}
			r.a.errs.errorf(pos, "dlq cannot park parameter %s of %s: its type %s %s, which cannot be stored and replayed; %s",
				paramLabel(i, p.Name), r.m.Name, r.a.typeString(p.Type), why, r.lift("dlq"))
		}
	}
}

// idempotency resolves the key path through fields, at any depth, promoted
// fields and pointers included, down to a string, an integer or a fmt.Stringer.
func (r rule) idempotency(o annotations.Opt[string]) {
	segs := strings.Split(o.Val, ".")
	var t types.Type
	var names []string
	for _, p := range r.m.Params {
		if p.Name == segs[0] {
			t = p.Type
		}
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	if t == nil {
		have := "it has no named parameters"
		if len(names) > 0 {
			have = "it has " + strings.Join(names, ", ")
		}
		r.a.errs.errorf(o.Pos, "idempotency=%s: %s has no parameter %s (%s)", o.Val, r.m.Name, segs[0], have)
		return
	}
	path := segs[0]
	for _, f := range segs[1:] {
		base := deref(t)
		if _, ok := base.Underlying().(*types.Struct); !ok {
			r.a.errs.errorf(o.Pos, "idempotency=%s: %s is %s, which has no fields", o.Val, path, r.a.typeString(t))
			return
		}
		obj, _, _ := types.LookupFieldOrMethod(base, true, r.a.pkg.Types, f)
		v, ok := obj.(*types.Var)
		switch {
		case obj == nil:
			r.a.errs.errorf(o.Pos, "idempotency=%s: %s (%s) has no field %s", o.Val, path, r.a.typeString(t), f)
			return
		case !ok:
			r.a.errs.errorf(o.Pos, "idempotency=%s: %s.%s is a method; want a field", o.Val, path, f)
			return
		}
		t = v.Type()
		path += "." + f
	}
	if !keyType(t) {
		r.a.errs.errorf(o.Pos, "idempotency=%s: %s is %s; want a string, an integer or a fmt.Stringer", o.Val, path, r.a.typeString(t))
	}
}

// fallback checks that the function exists in the package with the
// method's parameters (a variadic ...T as []T) plus err error, and the
// method's results; for a generic interface it must take the same type
// parameters. It reports whether the call needs explicit type arguments.
func (r rule) fallback(sig *types.Signature, o annotations.Opt[string]) (generic bool) {
	a, name := r.a, o.Val
	obj := a.pkg.Types.Scope().Lookup(name)
	if obj == nil {
		a.errs.errorf(o.Pos, "fallback=%s: no function %s in package %s", name, name, a.pkg.Name)
		return false
	}
	fn, ok := obj.(*types.Func)
	if !ok {
		a.errs.errorf(o.Pos, "fallback=%s: %s is %s, not a function", name, name, objectKind(obj))
		return false
	}
	want := r.wantFallback(sig)
	have := fn.Type().(*types.Signature)
	haveStr := "func " + name + strings.TrimPrefix(a.typeString(have), "func")
	tps := r.it.TypeParams
	switch n := have.TypeParams().Len(); {
	case n > 0 && len(tps) == 0:
		a.errs.errorf(o.Pos, "fallback=%s: %s is a generic function, but %s has no type parameters; want %s, have %s",
			name, name, r.it.Name, r.wantString(name, sig), haveStr)
		return false
	case n == 0 && len(tps) > 0:
		a.errs.errorf(o.Pos, "fallback=%s: %s is generic, so %s must be a generic function with the same type parameters %s; have %s",
			name, r.it.Name, name, r.typeParamList(), haveStr)
		return false
	case n != len(tps):
		a.errs.errorf(o.Pos, "fallback=%s: %s has %s, want those of %s %s; have %s",
			name, name, plural(n, "type parameter"), r.it.Name, r.typeParamList(), haveStr)
		return false
	case n > 0:
		targs := make([]types.Type, len(tps))
		for i, tp := range tps {
			targs[i] = tp
		}
		inst, err := types.Instantiate(nil, have, targs, true)
		if err != nil {
			a.errs.errorf(o.Pos, "fallback=%s: the type parameters of %s do not fit those of %s %s: %v",
				name, name, r.it.Name, r.typeParamList(), err)
			return false
		}
		have = inst.(*types.Signature)
		generic = true
	}
	wantStr := r.wantString(name, sig)
	if have.Variadic() {
		a.errs.errorf(o.Pos, "fallback=%s: %s must not be variadic: it receives a variadic ...T as []T; want %s, have %s", name, name, wantStr, haveStr)
		return false
	}
	if diff := a.sigDiff(want, have); diff != "" {
		a.errs.errorf(o.Pos, "fallback=%s: %s has the wrong signature: %s; want %s, have %s", name, name, diff, wantStr, haveStr)
		return false
	}
	return generic
}

func (r rule) wantFallback(sig *types.Signature) *types.Signature {
	var params []*types.Var
	for i := 0; i < sig.Params().Len(); i++ {
		params = append(params, sig.Params().At(i))
	}
	params = append(params, types.NewParam(token.NoPos, nil, "err", errorType))
	return types.NewSignatureType(nil, nil, nil, types.NewTuple(params...), sig.Results(), false)
}

// wantString spells the expected fallback, with the method's parameter names.
func (r rule) wantString(name string, sig *types.Signature) string {
	var b strings.Builder
	b.WriteString("func " + name)
	if tps := r.it.TypeParams; len(tps) > 0 {
		b.WriteString(r.typeParamList())
	}
	b.WriteString("(")
	for i := 0; i < sig.Params().Len(); i++ {
		v := sig.Params().At(i)
		if v.Name() != "" && v.Name() != "_" {
			b.WriteString(v.Name() + " ")
		}
		b.WriteString(r.a.typeString(v.Type()) + ", ")
	}
	b.WriteString("err error)")
	res := sig.Results()
	switch {
	case res.Len() == 1:
		b.WriteString(" " + r.a.typeString(res.At(0).Type()))
	case res.Len() > 1:
		var rs []string
		for i := 0; i < res.Len(); i++ {
			rs = append(rs, r.a.typeString(res.At(i).Type()))
		}
		b.WriteString(" (" + strings.Join(rs, ", ") + ")")
	}
	return b.String()
}

// typeParamList spells the interface's type parameters, such as [K comparable, V any].
func (r rule) typeParamList() string {
	var ps []string
	for _, tp := range r.it.TypeParams {
		ps = append(ps, tp.Obj().Name()+" "+r.a.typeString(tp.Constraint()))
	}
	return "[" + strings.Join(ps, ", ") + "]"
}

func (a *analyzer) sigDiff(want, have *types.Signature) string {
	wp, hp := want.Params(), have.Params()
	if wp.Len() != hp.Len() {
		return fmt.Sprintf("it takes %s, want %d (the method's parameters plus err error)", plural(hp.Len(), "parameter"), wp.Len())
	}
	for i := 0; i < wp.Len(); i++ {
		if !types.Identical(wp.At(i).Type(), hp.At(i).Type()) {
			return fmt.Sprintf("parameter %d is %s, want %s", i+1, a.typeString(hp.At(i).Type()), a.typeString(wp.At(i).Type()))
		}
	}
	wr, hr := want.Results(), have.Results()
	if wr.Len() != hr.Len() {
		return fmt.Sprintf("it returns %s, want %d (the method's results)", plural(hr.Len(), "result"), wr.Len())
	}
	for i := 0; i < wr.Len(); i++ {
		if !types.Identical(wr.At(i).Type(), hr.At(i).Type()) {
			return fmt.Sprintf("result %d is %s, want %s", i+1, a.typeString(hr.At(i).Type()), a.typeString(wr.At(i).Type()))
		}
	}
	return ""
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
