package generator

import (
	"fmt"
	"go/types"

	"github.com/dave/jennifer/jen"
)

// Spelling go/types types as jennifer code, qualified with the names the
// emitter chose for the file's imports.

// walkType calls named for every type name t mentions and unsafe when it
// mentions unsafe.Pointer.
func walkType(t types.Type, named func(*types.TypeName), unsafe func()) {
	var walk func(types.Type)
	walkList := func(l *types.TypeList) {
		for i := 0; i < l.Len(); i++ {
			walk(l.At(i))
		}
	}
	walkTuple := func(l *types.Tuple) {
		for i := 0; i < l.Len(); i++ {
			walk(l.At(i).Type())
		}
	}
	walk = func(t types.Type) {
		switch t := t.(type) {
		case *types.Basic:
			if t.Kind() == types.UnsafePointer {
				unsafe()
			}
		case *types.Alias:
			named(t.Obj())
			walkList(t.TypeArgs())
		case *types.Named:
			named(t.Obj())
			walkList(t.TypeArgs())
		case *types.TypeParam:
			named(t.Obj())
		case *types.Pointer:
			walk(t.Elem())
		case *types.Slice:
			walk(t.Elem())
		case *types.Array:
			walk(t.Elem())
		case *types.Chan:
			walk(t.Elem())
		case *types.Map:
			walk(t.Key())
			walk(t.Elem())
		case *types.Signature:
			walkTuple(t.Params())
			walkTuple(t.Results())
		case *types.Struct:
			for i := 0; i < t.NumFields(); i++ {
				walk(t.Field(i).Type())
			}
		case *types.Interface:
			for i := 0; i < t.NumExplicitMethods(); i++ {
				walk(t.ExplicitMethod(i).Type())
			}
			for i := 0; i < t.NumEmbeddeds(); i++ {
				walk(t.EmbeddedType(i))
			}
		case *types.Union:
			for i := 0; i < t.Len(); i++ {
				walk(t.Term(i).Type())
			}
		}
	}
	walk(t)
}

// refs adds to set the identifiers t is spelled with that a local variable
// could shadow: package names, the package's own type names, predeclared
// types and type parameters.
func (e *emitter) refs(t types.Type, set map[string]bool) {
	walkType(t, func(obj *types.TypeName) {
		switch p := obj.Pkg(); {
		case p == nil, p.Path() == e.self:
			set[obj.Name()] = true
		default:
			set[e.imports[p.Path()]] = true
		}
	}, func() { set[e.imports["unsafe"]] = true })
	walkBasic(t, set)
}

// walkBasic adds the predeclared type names t uses.
func walkBasic(t types.Type, set map[string]bool) {
	switch t := t.(type) {
	case *types.Basic:
		set[t.Name()] = true
	case *types.Pointer:
		walkBasic(t.Elem(), set)
	case *types.Slice:
		walkBasic(t.Elem(), set)
	case *types.Array:
		walkBasic(t.Elem(), set)
	case *types.Chan:
		walkBasic(t.Elem(), set)
	case *types.Map:
		walkBasic(t.Key(), set)
		walkBasic(t.Elem(), set)
	case *types.Named:
		for i := 0; i < t.TypeArgs().Len(); i++ {
			walkBasic(t.TypeArgs().At(i), set)
		}
	case *types.Signature:
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for i := 0; i < tup.Len(); i++ {
				walkBasic(tup.At(i).Type(), set)
			}
		}
	case *types.Struct:
		for i := 0; i < t.NumFields(); i++ {
			walkBasic(t.Field(i).Type(), set)
		}
	}
}

func (e *emitter) qual(path, name string) *jen.Statement {
	if path == e.self {
		return jen.Id(name)
	}
	return jen.Qual(path, name)
}

func (e *emitter) rt(name string) *jen.Statement { return jen.Qual(RuntimePath, name) }

// typ spells t.
func (e *emitter) typ(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			return jen.Qual("unsafe", "Pointer")
		}
		return jen.Id(t.Name())
	case *types.Alias:
		return e.typeName(t.Obj(), t.TypeArgs())
	case *types.Named:
		return e.typeName(t.Obj(), t.TypeArgs())
	case *types.TypeParam:
		return jen.Id(t.Obj().Name())
	case *types.Pointer:
		return jen.Op("*").Add(e.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(e.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(e.typ(t.Elem()))
	case *types.Map:
		return jen.Map(e.typ(t.Key())).Add(e.typ(t.Elem()))
	case *types.Chan:
		elem := e.typ(t.Elem())
		switch t.Dir() {
		case types.SendOnly:
			return jen.Chan().Op("<-").Add(elem)
		case types.RecvOnly:
			return jen.Op("<-").Chan().Add(elem)
		}
		if c, ok := t.Elem().(*types.Chan); ok && c.Dir() == types.RecvOnly {
			return jen.Chan().Parens(elem) // chan (<-chan T), not chan<- (chan T)
		}
		return jen.Chan().Add(elem)
	case *types.Signature:
		return jen.Func().Add(e.signature(t))
	case *types.Struct:
		fields := make([]jen.Code, t.NumFields())
		for i := range fields {
			f := t.Field(i)
			var s *jen.Statement
			if f.Embedded() {
				s = e.typ(f.Type())
			} else {
				s = jen.Id(f.Name()).Add(e.typ(f.Type()))
			}
			if tag := t.Tag(i); tag != "" {
				s.Add(jen.Lit(tag))
			}
			fields[i] = s
		}
		return jen.Struct(fields...)
	case *types.Interface:
		if t.IsImplicit() && t.NumEmbeddeds() == 1 {
			return e.typ(t.EmbeddedType(0)) // [T ~int | ~string]
		}
		var items []jen.Code
		for i := 0; i < t.NumEmbeddeds(); i++ {
			items = append(items, e.typ(t.EmbeddedType(i)))
		}
		for i := 0; i < t.NumExplicitMethods(); i++ {
			m := t.ExplicitMethod(i)
			items = append(items, jen.Id(m.Name()).Add(e.signature(m.Type().(*types.Signature))))
		}
		return jen.Interface(items...)
	case *types.Union:
		s := jen.Null()
		for i := 0; i < t.Len(); i++ {
			if i > 0 {
				s.Op("|")
			}
			if t.Term(i).Tilde() {
				s.Op("~")
			}
			s.Add(e.typ(t.Term(i).Type()))
		}
		return s
	}
	panic(fmt.Sprintf("baldurgen: cannot spell type %T %v", t, t)) // analysis refuses what it cannot write
}

// constraint spells a type parameter's constraint; interface{ ~a | ~b }
// is written as its one union, as the source most likely had it. A leading
// * stays wrapped: [T *X] would parse as an array length.
func (e *emitter) constraint(t types.Type) *jen.Statement {
	if i, ok := t.(*types.Interface); ok && i.NumExplicitMethods() == 0 && i.NumEmbeddeds() == 1 {
		emb := i.EmbeddedType(0)
		if u, ok := emb.(*types.Union); ok {
			for k := 0; k < u.Len(); k++ {
				if _, ptr := u.Term(k).Type().(*types.Pointer); ptr {
					return e.typ(t)
				}
			}
			return e.typ(u)
		}
	}
	return e.typ(t)
}

func (e *emitter) typeName(obj *types.TypeName, targs *types.TypeList) *jen.Statement {
	var s *jen.Statement
	if obj.Pkg() == nil {
		s = jen.Id(obj.Name())
	} else {
		s = e.qual(obj.Pkg().Path(), obj.Name())
	}
	if targs.Len() > 0 {
		args := make([]jen.Code, targs.Len())
		for i := range args {
			args[i] = e.typ(targs.At(i))
		}
		s.Types(args...)
	}
	return s
}

// signature spells a func type's parameters and results, without names.
func (e *emitter) signature(sig *types.Signature) *jen.Statement {
	params := make([]jen.Code, sig.Params().Len())
	for i := range params {
		t := sig.Params().At(i).Type()
		if sig.Variadic() && i == len(params)-1 {
			params[i] = jen.Op("...").Add(e.typ(t.(*types.Slice).Elem()))
		} else {
			params[i] = e.typ(t)
		}
	}
	s := jen.Params(params...)
	return s.Add(e.results(tupleTypes(sig.Results())))
}

func tupleTypes(t *types.Tuple) []types.Type {
	out := make([]types.Type, t.Len())
	for i := range out {
		out[i] = t.At(i).Type()
	}
	return out
}

// results spells a result list: nothing, one type, or a parenthesised list.
func (e *emitter) results(ts []types.Type) *jen.Statement {
	switch len(ts) {
	case 0:
		return jen.Null()
	case 1:
		return e.typ(ts[0])
	}
	rs := make([]jen.Code, len(ts))
	for i, t := range ts {
		rs[i] = e.typ(t)
	}
	return jen.Params(rs...)
}
