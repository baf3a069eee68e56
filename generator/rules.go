package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/baldur-go/baldur/annotations"

	"github.com/baldur-go/baldur/runtime/backoff"
)

// The rules of the README's "Rules at the edges" that depend on a method's
// types: what an explicit key asks for must be something the method can
// honour, or it is a positioned error.

// onKey is a key written explicitly and switched on.
type onKey struct {
	key, text string
	pos       token.Pos
}

// explicitOn lists the keys written on the interface or the method that ask
// for a policy (the key table's Feature rows); only these can be refused,
// never the implicit breaker.
func explicitOn(p annotations.Policy) []onKey {
	var out []onKey
	for _, k := range annotations.Keys() {
		if k.Feature && k.On(&p) {
			out = append(out, onKey{k.Name, k.Text(&p), k.Pos(&p)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// rule checks one method against the keys that depend on its types.
type rule struct {
	a        *analyzer
	it       *ifaceInfo
	m        *methodInfo
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
	k := annotations.KeyByName(key)
	return k != nil && k.IsSet(&r.method)
}

// timeout: the deadline travels in the first context.Context, and its cancel
// runs when the method returns, which would kill anything of the results
// the caller still uses afterwards (see outlives): a channel, a stream, a
// reader, an iterator or other func, or such a part held in a field or
// reached through a method.
func (r rule) timeout(o annotations.Opt[time.Duration]) { r.contextBound("timeout", o) }

// contextBound checks a bound that travels in the context, timeout= or
// deadline=, as timeout describes.
func (r rule) contextBound(key string, o annotations.Opt[time.Duration]) {
	r.contextBoundAt(key, key+"="+backoff.ShortDuration(o.Val), o.Pos, "a "+key+" travels in",
		"the caller's own context deadline can bound the call instead")
}

// contextBoundAt is contextBound for the key written as text at pos; uses
// says what the key does with the context, instead ends the message with the
// way out.
func (r rule) contextBoundAt(key, text string, pos token.Pos, uses, instead string) {
	if r.m.Ctx < 0 {
		r.a.errs.errorf(pos, "%s cannot apply to %s: %s a context.Context first parameter, and %s has none; %s",
			text, r.m.Name, uses, r.m.Name, r.lift(key))
	}
	for i, t := range r.m.Results[:len(r.m.Results)-1] {
		if part, ok := r.a.outlives(t); ok {
			r.a.errs.errorf(pos, "%s cannot apply to %s: it returns %s (result %d, %s), which outlives the call, and the %s's context is cancelled as soon as %s returns; %s; %s",
				text, r.m.Name, part.what, i+1, part.detail, key, r.m.Name, r.lift(key), instead)
		}
	}
}

// hedge: the losing attempts are cancelled through their context, so a
// hedge needs one, and no result that outlives the call (as timeout).
func (r rule) hedge(o annotations.Opt[int]) {
	r.contextBoundAt("hedge", "hedge="+strconv.Itoa(o.Val), o.Pos, "a hedge cancels the losing attempts through",
		"hedging needs results that are data in hand")
}

// outlivesTheCall reports whether a result of the method outlives the call
// (see timeout), so that no context of the wrapper's may bound it.
func (r rule) outlivesTheCall() bool {
	for _, t := range r.m.Results[:len(r.m.Results)-1] {
		if _, ok := r.a.outlives(t); ok {
			return true
		}
	}
	return false
}

// dlq: the arguments are parked durably for a typed replay, so each one
// (but a leading context) must be data. It returns the argument record, or
// nil after an error.
func (r rule) dlq(pos token.Pos) *dlqInfo {
	out := &dlqInfo{}
	fields, keys := make(names), make(names)
	for _, p := range r.m.Params {
		keys[p.Name] = true // unnamed parameters' keys must not take a name
	}
	var sig strings.Builder
	sig.WriteString("baldur dlq v1\n")
	ok := true
	for i, p := range r.m.Params {
		if i == r.m.Ctx {
			continue
		}
		if why := notData(p.Type, r.a.pkg.Types, false); why != "" {
			if isContext(p.Type) {
				why += " (only a leading context.Context is left out)"
			}
			r.a.errs.errorf(pos, "dlq cannot park parameter %s of %s: its type %s %s, which cannot be stored and replayed; %s",
				paramLabel(i, p.Name), r.m.Name, r.a.typeString(p.Type), why, r.lift("dlq"))
			ok = false
			continue
		}
		key := p.Name
		if key == "" {
			key = keys.take("a" + strconv.Itoa(i))
		}
		out.Fields = append(out.Fields, argField{Param: i, Name: fields.take(exportedName(key)), JSON: key})
		t := types.TypeString(p.Type, (*types.Package).Path)
		if r.m.Variadic && i == len(r.m.Params)-1 {
			t = "..." + types.TypeString(p.Type.(*types.Slice).Elem(), (*types.Package).Path)
		}
		fmt.Fprintf(&sig, "%s %s\n", key, t)
	}
	if !ok {
		return nil
	}
	sum := sha256.Sum256([]byte(sig.String()))
	out.Signature = hex.EncodeToString(sum[:8])
	return out
}

// exportedName turns a parameter name into an exported field name: orderID
// → OrderID; a name that cannot start with a capital (_x, 名) gets an X.
func exportedName(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	if up := string(unicode.ToUpper(r)) + name[size:]; token.IsExported(up) {
		return up
	}
	return "X" + name
}

// keyPath resolves the key path of idempotency= or cache_key= (key) through fields, at any depth, promoted
// fields and pointers included, down to a string, an integer or a
// fmt.Stringer, and returns how the wrapper reads it, or nil after an error.
//
// String and integer kinds win over a String method: they are exact and
// cost no call (an enum type with a String method is keyed by its number).
// Embedded fields are spelled out (req.Meta.RequestID) so that an embedded
// pointer can be checked for nil; a nil pointer or interface anywhere on
// the path fails the call with runtime.ErrNoKey.
func (r rule) keyPath(key string, o annotations.Opt[string]) *keyPath {
	segs := strings.Split(o.Val, ".")
	k := &keyPath{Param: -1}
	var t types.Type
	var names []string
	for i, p := range r.m.Params {
		if p.Name == segs[0] {
			t, k.Param = p.Type, i
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
		r.a.errs.errorf(o.Pos, "%s=%s: %s has no parameter %s (%s)", key, o.Val, r.m.Name, segs[0], have)
		return nil
	}
	path := segs[0]    // as written, for errors
	spelled := segs[0] // with embedded fields, for nil checks
	// through follows pointers: a nil check at each level, and an explicit
	// dereference where Go would not follow one (a pointer to a pointer, or
	// all of them when all is set, to reach a basic value).
	through := func(all bool) {
		at := spelled
		for {
			p, ok := t.Underlying().(*types.Pointer)
			if !ok {
				return
			}
			k.Steps = append(k.Steps, keyStep{Kind: keyNilCheck, Path: at})
			t = p.Elem()
			if _, inner := t.Underlying().(*types.Pointer); !inner && !all {
				return
			}
			k.Steps = append(k.Steps, keyStep{Kind: keyDeref})
			at = "*" + at
		}
	}
	for _, f := range segs[1:] {
		base := deref(t)
		if _, ok := base.Underlying().(*types.Struct); !ok {
			r.a.errs.errorf(o.Pos, "%s=%s: %s is %s, which has no fields", key, o.Val, path, r.a.typeString(t))
			return nil
		}
		obj, index, _ := types.LookupFieldOrMethod(base, true, r.a.pkg.Types, f)
		_, ok := obj.(*types.Var)
		switch {
		case obj == nil:
			r.a.errs.errorf(o.Pos, "%s=%s: %s (%s) has no field %s", key, o.Val, path, r.a.typeString(t), f)
			return nil
		case !ok:
			r.a.errs.errorf(o.Pos, "%s=%s: %s.%s is a method; want a field", key, o.Val, path, f)
			return nil
		}
		through(false)
		for i, idx := range index {
			fld := t.Underlying().(*types.Struct).Field(idx)
			last := i == len(index)-1
			_, isPtr := fld.Type().Underlying().(*types.Pointer)
			switch {
			case last || fld.Exported() || fld.Pkg() == r.a.pkg.Types:
				k.Steps = append(k.Steps, keyStep{Kind: keySelect, Field: fld.Name()})
				spelled += "." + fld.Name()
			case isPtr:
				r.a.errs.errorf(o.Pos, "%s=%s: %s is reached through the embedded pointer %s of package %s, which the wrapper cannot check for nil",
					key, o.Val, path+"."+f, fld.Name(), fld.Pkg().Path())
				return nil
			}
			// An unexported embedded value of another package is left out:
			// the selector goes through it by promotion.
			t = fld.Type()
			if !last {
				through(false)
			}
		}
		path += "." + f
	}
	// String and integer kinds, through pointers.
	if b, ok := deref(t).Underlying().(*types.Basic); ok && b.Info()&(types.IsString|types.IsInteger) != 0 {
		through(true)
		switch {
		case b.Info()&types.IsString != 0:
			k.Conv = keyString
		case b.Info()&types.IsUnsigned != 0:
			k.Conv = keyUint
		default:
			k.Conv = keyInt
		}
		k.Type = t
		return k
	}
	// A fmt.Stringer: the value, a pointer to it, or an interface.
	field := t
	for at := spelled; ; at = "*" + at {
		_, isTP := types.Unalias(t).(*types.TypeParam)
		_, isPtr := t.Underlying().(*types.Pointer)
		_, isIface := t.Underlying().(*types.Interface)
		switch {
		case types.Implements(t, stringer):
			if (isPtr || isIface) && !isTP {
				k.Steps = append(k.Steps, keyStep{Kind: keyNilCheck, Path: at})
			}
			k.Conv, k.Type = keyStringer, t
			return k
		case !isPtr && !isIface && types.Implements(types.NewPointer(t), stringer):
			// A pointer receiver: the field or parameter is addressable.
			k.Conv, k.Type = keyStringer, t
			return k
		case isPtr:
			k.Steps = append(k.Steps, keyStep{Kind: keyNilCheck, Path: at}, keyStep{Kind: keyDeref})
			t = t.Underlying().(*types.Pointer).Elem()
		default:
			r.a.errs.errorf(o.Pos, "%s=%s: %s is %s; want a string, an integer or a fmt.Stringer", key, o.Val, path, r.a.typeString(field))
			return nil
		}
	}
}

// fingerprint decides, by type, which arguments the idempotency fingerprint
// reads (see unfingerprinted): the others are left out by name, never
// hashed as a fixed string, and -explain lists both.
func (r rule) fingerprint() []fpArg {
	var out []fpArg
	for i, p := range r.m.Params {
		if i == r.m.Ctx {
			continue
		}
		name := p.Name
		if name == "" {
			name = fmt.Sprintf("parameter %d", i+1)
		}
		why, unseen := unfingerprinted(p.Type)
		for j := range unseen {
			unseen[j] = name + unseen[j]
		}
		out = append(out, fpArg{Param: i, Name: name, Out: why, Unseen: unseen})
	}
	return out
}

// idemNames: the gate namespaces keys by service and operation, which must
// be printable ASCII without spaces, ':', '{' or '}' (idem.MaxNameLen bytes
// at most). Labels written in a directive are checked by their parser; a
// default taken from a Go identifier may hold other letters.
func (r rule) idemNames(p annotations.Policy, service, operation string) {
	if !p.Name.Set && !idemName(service) {
		r.a.errs.errorf(p.Idempotency.Pos, "idempotency=%s: the service name %q (from the interface name) is not a valid idempotency domain: want printable ASCII without spaces, ':', '{' or '}'; set name=<label> on %s",
			p.Idempotency.Val, service, r.it.Name)
	}
	if !p.Operation.Set && !idemName(operation) {
		r.a.errs.errorf(p.Idempotency.Pos, "idempotency=%s: the operation %q (the method name) is not a valid idempotency operation: want printable ASCII without spaces, ':', '{' or '}'; set operation=<label> on %s",
			p.Idempotency.Val, operation, r.m.Name)
	}
}

func idemName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == ':' || c == '{' || c == '}' || c >= 0x7f {
			return false
		}
	}
	return true
}

// replay: the results of the first execution are stored with encoding/json
// and decoded for duplicates, so each one (but the error) must be data that
// JSON carries back into the same type (unexported fields come back zero).
func (r rule) replay(pos token.Pos) {
	for i, t := range r.m.Results[:len(r.m.Results)-1] {
		if why := notJSON(t); why != "" {
			r.a.errs.errorf(pos, "idempotency_replay cannot store result %d of %s: its type %s %s, which cannot be encoded and replayed; %s",
				i+1, r.m.Name, r.a.typeString(t), why, r.lift("idempotency_replay"))
		}
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
