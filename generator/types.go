package generator

import (
	"fmt"
	"go/token"
	"go/types"
	"strings"
	"time"
	"unicode"
)

// Questions analysis asks about go/types types.

var errorType = types.Universe.Lookup("error").Type()

// stringer is fmt.Stringer, built here so that no loaded package has to import fmt.
var stringer = types.NewInterfaceType([]*types.Func{
	types.NewFunc(token.NoPos, nil, "String", types.NewSignatureType(nil, nil, nil, nil,
		types.NewTuple(types.NewParam(token.NoPos, nil, "", types.Typ[types.String])), false)),
}, nil).Complete()

func isError(t types.Type) bool { return types.Identical(t, errorType) }

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return false
	}
	return n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

func isChan(t types.Type) bool {
	_, ok := t.Underlying().(*types.Chan)
	return ok
}

// isStream: a result with a Recv method, such as a gRPC client stream.
func isStream(t types.Type) bool {
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, "Recv")
	_, ok := obj.(*types.Func)
	return ok
}

// deref strips every level of pointer.
func deref(t types.Type) types.Type {
	for {
		p, ok := t.Underlying().(*types.Pointer)
		if !ok {
			return t
		}
		t = p.Elem()
	}
}

// notJSON says why encoding/json cannot carry a value of type t there and
// back into the same type, or "": replayed results make that round trip.
// Types with their own MarshalJSON or MarshalText (time.Time, big.Int) are
// trusted; otherwise channels, funcs, interfaces and complex numbers are
// refused wherever they sit, in exported struct fields too.
func notJSON(t types.Type) string {
	seen := make(map[types.Type]bool)
	var walk func(t types.Type, nested bool) string
	walk = func(t types.Type, nested bool) string {
		t = types.Unalias(t)
		if seen[t] {
			return ""
		}
		seen[t] = true
		if _, ok := t.(*types.TypeParam); ok {
			return "" // the instantiation decides; EncodeResults reports it
		}
		for _, m := range []string{"MarshalJSON", "MarshalText"} {
			if obj, _, _ := types.LookupFieldOrMethod(t, true, nil, m); obj != nil {
				if _, ok := obj.(*types.Func); ok {
					return ""
				}
			}
		}
		is := "is "
		if nested {
			is = "holds "
		}
		switch u := t.Underlying().(type) {
		case *types.Basic:
			if u.Info()&types.IsComplex != 0 {
				return is + "a complex number"
			}
		case *types.Chan:
			return is + "a channel"
		case *types.Signature:
			return is + "a func"
		case *types.Interface:
			return is + "an interface"
		case *types.Pointer:
			return walk(u.Elem(), true)
		case *types.Slice:
			return walk(u.Elem(), true)
		case *types.Array:
			return walk(u.Elem(), true)
		case *types.Map:
			if why := walk(u.Key(), true); why != "" {
				return why
			}
			return walk(u.Elem(), true)
		case *types.Struct:
			for i := 0; i < u.NumFields(); i++ {
				if f := u.Field(i); f.Exported() || f.Anonymous() {
					if why := walk(f.Type(), true); why != "" {
						return why
					}
				}
			}
		}
		return ""
	}
	return walk(t, false)
}

// notData says why a value of type t cannot be parked in the DLQ, or "".
// nested: t is inside a pointer, slice, array or map of the parameter.
func notData(t types.Type, nested bool) string {
	t = types.Unalias(t)
	if _, ok := t.(*types.TypeParam); ok {
		return "" // the instantiation decides; the runtime's codec reports it
	}
	is := "is "
	if nested {
		is = "holds "
	}
	switch u := t.Underlying().(type) {
	case *types.Chan:
		return is + "a channel"
	case *types.Signature:
		return is + "a func"
	case *types.Interface:
		return is + "an interface"
	case *types.Pointer:
		return notData(u.Elem(), true)
	case *types.Slice:
		return notData(u.Elem(), true)
	case *types.Array:
		return notData(u.Elem(), true)
	case *types.Map:
		if why := notData(u.Key(), true); why != "" {
			return why
		}
		return notData(u.Elem(), true)
	}
	return ""
}

// unwritable says why the generated file, in package a.pkg, cannot spell t,
// or "" when it can.
func (a *analyzer) unwritable(t types.Type) string {
	self := a.pkg.Types
	var walk func(t types.Type) string
	named := func(obj *types.TypeName, targs *types.TypeList) string {
		if pkg := obj.Pkg(); pkg != nil && pkg != self {
			if !obj.Exported() {
				return fmt.Sprintf("type %s.%s is unexported", pkg.Path(), obj.Name())
			}
			if !importable(pkg.Path(), self.Path()) {
				return fmt.Sprintf("type %s.%s is in an internal package this package cannot import", pkg.Path(), obj.Name())
			}
		}
		if pkg := obj.Pkg(); pkg != nil && obj.Parent() != nil && obj.Parent() != pkg.Scope() {
			return fmt.Sprintf("type %s is declared inside a function", obj.Name())
		}
		for i := 0; i < targs.Len(); i++ {
			if why := walk(targs.At(i)); why != "" {
				return why
			}
		}
		return ""
	}
	walk = func(t types.Type) string {
		switch t := t.(type) {
		case *types.Alias:
			return named(t.Obj(), t.TypeArgs())
		case *types.Named:
			return named(t.Obj(), t.TypeArgs())
		case *types.Basic:
			if t.Kind() == types.Invalid {
				a.unresolved = true
				return "its type could not be resolved; fix the compile errors first"
			}
		case *types.Pointer:
			return walk(t.Elem())
		case *types.Slice:
			return walk(t.Elem())
		case *types.Array:
			return walk(t.Elem())
		case *types.Chan:
			return walk(t.Elem())
		case *types.Map:
			if why := walk(t.Key()); why != "" {
				return why
			}
			return walk(t.Elem())
		case *types.Signature:
			for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
				for i := 0; i < tup.Len(); i++ {
					if why := walk(tup.At(i).Type()); why != "" {
						return why
					}
				}
			}
		case *types.Struct:
			for i := 0; i < t.NumFields(); i++ {
				f := t.Field(i)
				if !f.Exported() && f.Pkg() != self {
					return fmt.Sprintf("its struct type has the unexported field %s of package %s", f.Name(), f.Pkg().Path())
				}
				if why := walk(f.Type()); why != "" {
					return why
				}
			}
		case *types.Interface:
			for i := 0; i < t.NumExplicitMethods(); i++ {
				m := t.ExplicitMethod(i)
				if !m.Exported() && m.Pkg() != self {
					return fmt.Sprintf("its interface type has the unexported method %s of package %s", m.Name(), m.Pkg().Path())
				}
				if why := walk(m.Type()); why != "" {
					return why
				}
			}
			for i := 0; i < t.NumEmbeddeds(); i++ {
				if why := walk(t.EmbeddedType(i)); why != "" {
					return why
				}
			}
		case *types.Union:
			for i := 0; i < t.Len(); i++ {
				if why := walk(t.Term(i).Type()); why != "" {
					return why
				}
			}
		}
		return ""
	}
	return walk(t)
}

// importable applies the go command's internal-directory rule.
func importable(path, from string) bool {
	i := strings.LastIndex(path, "/internal/")
	switch {
	case i >= 0:
	case strings.HasSuffix(path, "/internal"):
		i = len(path) - len("/internal")
	case path == "internal" || strings.HasPrefix(path, "internal/"):
		return !strings.Contains(from, ".") // the standard library's own
	default:
		return true
	}
	root := path[:i]
	return from == root || strings.HasPrefix(from, root+"/")
}

// snakeCase: PaymentGateway → payment_gateway, HTTPClient → http_client.
func snakeCase(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]))
			nextLower := i > 0 && i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// shortDuration writes 5s, 1m, 1h30m rather than 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
