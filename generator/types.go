package generator

import (
	"fmt"
	"go/token"
	"go/types"
	"reflect"
	"strings"
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

// reader is io.Reader, built here like stringer.
var reader = types.NewInterfaceType([]*types.Func{
	types.NewFunc(token.NoPos, nil, "Read", types.NewSignatureType(nil, nil, nil,
		types.NewTuple(types.NewParam(token.NoPos, nil, "p", types.NewSlice(types.Typ[types.Byte]))),
		types.NewTuple(types.NewParam(token.NoPos, nil, "n", types.Typ[types.Int]), types.NewParam(token.NoPos, nil, "err", errorType)), false)),
}, nil).Complete()

// isReader: t, or a pointer to it, has io.Reader's Read method.
func isReader(t types.Type) bool {
	if types.Implements(t, reader) {
		return true
	}
	_, isPtr := t.Underlying().(*types.Pointer)
	return !isPtr && !types.IsInterface(t) && types.Implements(types.NewPointer(t), reader)
}

// isIter: iter.Seq or iter.Seq2, by name (an alias of it included).
func isIter(t types.Type) bool {
	var obj *types.TypeName
	switch n := t.(type) {
	case *types.Alias:
		if isIter(n.Rhs()) {
			return true
		}
		obj = n.Obj()
	case *types.Named:
		obj = n.Obj()
	default:
		return false
	}
	return obj.Pkg() != nil && obj.Pkg().Path() == "iter" && (obj.Name() == "Seq" || obj.Name() == "Seq2")
}

// Outliving is a part of a result the caller uses after the call returns,
// which therefore cannot live under a context the wrapper cancels as the
// call returns: What names the kind ("a channel", "a reader in a field"),
// Detail the type and where in it the part sits.
type outliving struct{ what, detail string }

// outlives says which part of a result of type t outlives the call: t
// itself, or at the top level an exported field (promoted ones included)
// or a method of it. Recognised: channels, funcs (iterators among them),
// streams (a Recv method), interfaces with io.Reader's Read, and types
// with a method returning a channel (a watch's ResultChan). A concrete type
// with a Read method (a *bytes.Buffer) is data already in hand and passes,
// as does a type that reads lazily through other methods (a *sql.Rows).
func (a *analyzer) outlives(t types.Type) (outliving, bool) {
	if o, ok := a.outlivesItself(t); ok {
		return o, true
	}
	s, ok := deref(t).Underlying().(*types.Struct)
	if !ok {
		return outliving{}, false
	}
	var found outliving
	seen := map[*types.Struct]bool{}
	var fields func(s *types.Struct, prefix string) bool
	fields = func(s *types.Struct, prefix string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		for i := 0; i < s.NumFields(); i++ {
			f := s.Field(i)
			if !f.Exported() && !f.Anonymous() {
				continue
			}
			if f.Exported() {
				if o, ok := a.outlivesItself(f.Type()); ok {
					found = outliving{
						what:   o.what + " in a field",
						detail: fmt.Sprintf("%s, whose field %s%s is %s", a.typeString(t), prefix, f.Name(), o.detail),
					}
					return true
				}
			}
			if inner, ok := deref(f.Type()).Underlying().(*types.Struct); ok && f.Anonymous() {
				if fields(inner, prefix) {
					return true
				}
			}
		}
		return false
	}
	return found, fields(s, "")
}

// outlivesItself is outlives for t alone, not its fields.
func (a *analyzer) outlivesItself(t types.Type) (outliving, bool) {
	ts := a.typeString(t)
	switch {
	case isChan(t):
		return outliving{"a channel", ts}, true
	case isIter(t):
		return outliving{"an iterator", ts}, true
	case isFunc(t):
		return outliving{"a func", ts}, true
	case isStream(t):
		return outliving{"a stream", ts + ", has a Recv method"}, true
	case types.IsInterface(t) && types.Implements(t, reader):
		return outliving{"a reader", ts}, true
	}
	if name, ch := chanMethod(t); name != "" {
		return outliving{"a channel through a method", fmt.Sprintf("%s, whose %s returns %s", ts, name, a.typeString(ch))}, true
	}
	return outliving{}, false
}

func isFunc(t types.Type) bool {
	_, ok := t.Underlying().(*types.Signature)
	return ok
}

// chanMethod finds an exported method of t (or of *t) with a channel
// result, first by name, and returns its name and that result's type.
func chanMethod(t types.Type) (string, types.Type) {
	if _, isPtr := t.Underlying().(*types.Pointer); !isPtr && !types.IsInterface(t) {
		t = types.NewPointer(t)
	}
	ms := types.NewMethodSet(t)
	for i := 0; i < ms.Len(); i++ {
		fn, ok := ms.At(i).Obj().(*types.Func)
		if !ok || !fn.Exported() {
			continue
		}
		res := fn.Type().(*types.Signature).Results()
		for j := 0; j < res.Len(); j++ {
			if isChan(res.At(j).Type()) {
				return fn.Name(), res.At(j).Type()
			}
		}
	}
	return "", nil
}

// unfingerprinted says why the idempotency fingerprint leaves out an
// argument of type t, or "" when it reads it; unseen lists the parts of a
// fingerprinted argument whose content it cannot see (readers in fields,
// which JSON encodes without what they would read), as paths after the
// argument's name (".Body", ".Parts[].Body").
//
// Left out: channels, funcs, unsafe pointers, readers (a reader's content
// is consumed by the call, not by a fingerprint), interfaces other than
// fmt.Stringer (which is fingerprinted by its String method), and values
// encoding/json refuses by their type (a func or channel in an exported
// field, a complex number inside, a map keyed by a struct): hashing those
// would add the same error text for every call.
func unfingerprinted(t types.Type) (why string, unseen []string) {
	t = types.Unalias(t)
	if _, ok := t.(*types.TypeParam); ok {
		return "", nil // the instantiation decides; HashJSON hashes the encoding error
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if u.Kind() == types.UnsafePointer {
			return "is an unsafe.Pointer, an address rather than data", nil
		}
		return "", nil
	case *types.Chan:
		return "is a channel", nil
	case *types.Signature:
		return "is a func", nil
	case *types.Interface:
		switch {
		case types.Implements(t, stringer):
			return "", nil
		case types.Implements(t, reader):
			return "is a reader, whose content the call consumes", nil
		}
		return "is an interface other than fmt.Stringer", nil
	}
	if isTime(t) {
		return "", nil
	}
	if !marshals(t) && isReader(t) {
		return "is a reader, whose content the call consumes", nil
	}
	seen := make(map[types.Type]bool)
	var walk func(t types.Type, path string) string
	walk = func(t types.Type, path string) string {
		t = types.Unalias(t)
		if _, ok := t.(*types.TypeParam); ok || marshals(t) {
			return ""
		}
		at := ""
		if strings.Contains(path, ".") {
			at = " (field " + strings.TrimPrefix(path, ".") + ")"
		}
		switch u := t.Underlying().(type) {
		case *types.Basic:
			switch {
			case u.Info()&types.IsComplex != 0:
				return "holds a complex number" + at + ", which encoding/json cannot encode"
			case u.Kind() == types.UnsafePointer:
				return "holds an unsafe.Pointer" + at + ", which encoding/json cannot encode"
			}
		case *types.Chan:
			return "holds a channel" + at + ", which encoding/json cannot encode"
		case *types.Signature:
			return "holds a func" + at + ", which encoding/json cannot encode"
		case *types.Interface:
			if path != "" && types.Implements(t, reader) {
				unseen = append(unseen, path)
			}
		case *types.Pointer:
			return walk(u.Elem(), path)
		case *types.Slice:
			return walk(u.Elem(), path+"[]")
		case *types.Array:
			return walk(u.Elem(), path+"[]")
		case *types.Map:
			if k := u.Key(); !jsonKey(k) && !hasMethod(k, "MarshalText") {
				return "holds a map keyed by " + types.TypeString(k, (*types.Package).Name) + at + ", which encoding/json cannot encode"
			}
			return walk(u.Elem(), path+"[]")
		case *types.Struct:
			if seen[t] {
				return "" // a cycle through a pointer
			}
			seen[t] = true
			if path != "" && isReader(t) {
				unseen = append(unseen, path)
				return ""
			}
			for i := 0; i < u.NumFields(); i++ {
				f := u.Field(i)
				if !f.Exported() && !f.Anonymous() || reflect.StructTag(u.Tag(i)).Get("json") == "-" {
					continue
				}
				if f.Anonymous() && !f.Exported() {
					if _, isStruct := deref(f.Type()).Underlying().(*types.Struct); !isStruct {
						continue
					}
				}
				if why := walk(f.Type(), path+"."+f.Name()); why != "" {
					return why
				}
			}
		}
		return ""
	}
	if why := walk(t, ""); why != "" {
		return why, nil
	}
	return "", unseen
}

// marshals: t or *t encodes itself with MarshalJSON or MarshalText.
func marshals(t types.Type) bool { return hasMethod(t, "MarshalJSON") || hasMethod(t, "MarshalText") }

func isTime(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
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

// notData says why a value of type t cannot be parked in the DLQ, or "":
// encoding/json must carry it to the store and back into the same type, so
// that a replay calls the method with the arguments of the failed call.
// Channels, funcs, interfaces (which decode as maps), complex numbers,
// unsafe pointers and maps keyed by anything but strings, integers or text
// marshalers are refused wherever they sit. Types with their own
// MarshalJSON or MarshalText are trusted when they can also unmarshal.
//
// Unexported struct fields are left out by JSON, so a replay would see them
// zeroed: in the types of package self they are refused (the user can
// export them, tag them json:"-" to say so, or add the methods); in other
// packages' types only a struct that would lose everything (unexported
// fields and nothing else) is, since their bookkeeping fields (a protobuf
// message's state) are theirs to keep. nested: t is inside a pointer,
// slice, array or map of the parameter.
func notData(t types.Type, self *types.Package, nested bool) string {
	seen := make(map[types.Type]bool)
	qual := func(p *types.Package) string {
		if p == self {
			return ""
		}
		return p.Name()
	}
	var walk func(t types.Type, nested bool, field string) string
	walk = func(t types.Type, nested bool, field string) string {
		t = types.Unalias(t)
		if _, ok := t.(*types.TypeParam); ok {
			return "" // the instantiation decides; Park reports what JSON refuses
		}
		is := "is "
		if nested {
			is = "holds "
		}
		at := ""
		if field != "" {
			at = " (field " + field + ")"
		}
		if _, ok := t.Underlying().(*types.Interface); ok {
			return is + "an interface" + at
		}
		if seen[t] {
			return ""
		}
		seen[t] = true
		for _, m := range [][2]string{{"MarshalJSON", "UnmarshalJSON"}, {"MarshalText", "UnmarshalText"}} {
			if hasMethod(t, m[0]) {
				if hasMethod(t, m[1]) || hasMethod(t, "UnmarshalJSON") {
					return ""
				}
				if !nested {
					return "has " + m[0] + " but no " + m[1] + " to decode it back"
				}
				return "holds " + types.TypeString(t, qual) + at + ", with " + m[0] + " but no " + m[1] + " to decode it back"
			}
		}
		switch u := t.Underlying().(type) {
		case *types.Basic:
			switch {
			case u.Info()&types.IsComplex != 0:
				return is + "a complex number" + at
			case u.Kind() == types.UnsafePointer:
				return is + "an unsafe pointer" + at
			}
		case *types.Chan:
			return is + "a channel" + at
		case *types.Signature:
			return is + "a func" + at
		case *types.Pointer:
			return walk(u.Elem(), true, field)
		case *types.Slice:
			return walk(u.Elem(), true, field)
		case *types.Array:
			return walk(u.Elem(), true, field)
		case *types.Map:
			if !jsonKey(u.Key()) {
				return is + "a map keyed by " + types.TypeString(u.Key(), qual) + at +
					" (encoding/json keys maps by strings, integers or text marshalers)"
			}
			return walk(u.Elem(), true, field)
		case *types.Struct:
			own := true // declared in self, or a struct literal type
			if n, ok := t.(*types.Named); ok && n.Obj().Pkg() != self {
				own = false
			}
			lost, kept := "", false // the first field JSON leaves out; whether any is kept
			for i := 0; i < u.NumFields(); i++ {
				f := u.Field(i)
				if reflect.StructTag(u.Tag(i)).Get("json") == "-" {
					continue // left out on purpose
				}
				name := f.Name()
				if field != "" {
					name = field + "." + name
				}
				if !f.Exported() {
					lostName := f.Name()
					if nested || field != "" {
						lostName = types.TypeString(t, qual) + "." + lostName
					}
					elem := f.Type()
					if p, ok := elem.Underlying().(*types.Pointer); ok && f.Anonymous() {
						if _, isStruct := p.Elem().Underlying().(*types.Struct); isStruct {
							return is + "an embedded pointer to the unexported struct " + name + at + " (encoding/json cannot fill it)"
						}
					}
					if _, isStruct := elem.Underlying().(*types.Struct); !f.Anonymous() || !isStruct {
						if lost == "" {
							lost = lostName
						}
						continue
					}
				}
				kept = true
				if why := walk(f.Type(), true, name); why != "" {
					return why
				}
			}
			if lost != "" && (own || !kept) {
				has := "has"
				if nested || field != "" {
					has = "holds"
				}
				return has + " the unexported field " + lost + " (encoding/json leaves it out: export it, tag it json:\"-\" or give " +
					types.TypeString(t, qual) + " MarshalJSON and UnmarshalJSON)"
			}
		}
		return ""
	}
	return walk(t, nested, "")
}

// hasMethod reports whether t or *t has the exported method name.
func hasMethod(t types.Type, name string) bool {
	obj, _, _ := types.LookupFieldOrMethod(t, true, nil, name)
	_, ok := obj.(*types.Func)
	return ok
}

// jsonKey: encoding/json encodes map keys of string and integer kinds, and
// of types with MarshalText.
func jsonKey(t types.Type) bool {
	if b, ok := t.Underlying().(*types.Basic); ok && b.Info()&(types.IsString|types.IsInteger) != 0 {
		return true
	}
	return hasMethod(t, "MarshalText") && hasMethod(t, "UnmarshalText")
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
