package generator

import (
	"bytes"
	"fmt"
	"go/types"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/imports"

	"github.com/baldur-go/baldur/runtime/backoff"
)

// RuntimePath is the package the generated code calls.
const RuntimePath = "github.com/baldur-go/baldur/runtime"

// BackoffPath is the package of ZoneSpec.Backoff's type, imported by a
// generated file only when a directive writes backoff= other than the default.
const BackoffPath = "github.com/baldur-go/baldur/runtime/backoff"

const header = generatedHeader + "\n\n//go:build !" + BuildTag + "\n\n"

// emitter writes one generated file. Every name it writes is chosen so that
// it cannot collide: imports avoid the package's own names, locals avoid the
// identifiers a method body refers to, and parameters avoid both.
type emitter struct {
	f       *File
	self    string            // the package path
	imports map[string]string // import path → the name the file uses
	foreign map[string]string // import path → declared package name
	j       *jen.File
}

func emit(f *File) ([]byte, error) {
	e := &emitter{f: f, self: f.Pkg.Path, imports: make(map[string]string)}
	e.nameImports()
	e.j = jen.NewFilePathName(f.Pkg.Path, f.Pkg.Name)
	e.j.NoFormat = true // imports.Process formats once, below
	for path, name := range e.imports {
		if p := e.pkgName(path); p == name {
			e.j.ImportName(path, name)
		} else {
			e.j.ImportAlias(path, name)
		}
	}
	for i, it := range f.Interfaces {
		if i > 0 {
			e.j.Line()
		}
		e.iface(it)
	}
	var buf bytes.Buffer
	buf.WriteString(header)
	if err := e.j.Render(&buf); err != nil {
		return nil, fmt.Errorf("render %s: %w", f.Output, err)
	}
	// imports.Process with FormatOnly is gofmt plus goimports' grouping:
	// the standard library apart from the rest.
	out, err := imports.Process(f.Output, buf.Bytes(), &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
	if err != nil {
		return nil, fmt.Errorf("format %s: %w", f.Output, err)
	}
	return out, nil
}

// pkgName is the declared name of an imported package.
func (e *emitter) pkgName(path string) string {
	switch path {
	case RuntimePath:
		return "runtime"
	case BackoffPath:
		return "backoff"
	case "context", "time", "unsafe", "strconv":
		return path
	}
	return e.foreign[path]
}

// nameImports lists the packages the file refers to and gives each a name
// that no package-level identifier of the user's package already holds.
func (e *emitter) nameImports() {
	e.foreign = make(map[string]string)
	need := map[string]bool{RuntimePath: true}
	for _, it := range e.f.Interfaces {
		for _, tp := range it.TypeParams {
			e.collect(tp.Constraint(), need)
		}
		for _, m := range it.Methods {
			for _, p := range m.Params {
				e.collect(p.Type, need)
			}
			for _, r := range m.Results {
				e.collect(r, need)
			}
			if m.Delegated {
				continue
			}
			if m.Ctx < 0 || m.Spec.Timeout > 0 || m.DLQ != nil {
				need["context"] = true
			}
			ownBackoff := !specDefault(m.Spec, "Backoff")
			if ownBackoff {
				need[BackoffPath] = true
			}
			if m.Spec.Timeout > 0 || ownBackoff || m.Spec.BulkheadWait > 0 || m.Spec.IdemTTL > 0 {
				need["time"] = true
			}
			if k := m.Key; k != nil && (k.Conv == KeyInt || k.Conv == KeyUint) {
				need["strconv"] = true
			}
		}
	}
	taken := make(map[string]bool)
	scope := e.f.Pkg.Types.Scope()
	for _, n := range scope.Names() {
		taken[n] = true
	}
	for _, f := range e.f.Pkg.Files {
		for _, it := range f.Interfaces {
			taken[it.Wrapper], taken[it.New], taken[it.Protect] = true, true, true
			for _, tp := range it.TypeParams {
				taken[tp.Obj().Name()] = true
			}
		}
	}
	paths := make([]string, 0, len(need))
	for p := range need {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		base := e.pkgName(p)
		cands := []string{base}
		if p == RuntimePath {
			cands = append(cands, "baldurruntime")
		}
		name := ""
		for i := 0; name == ""; i++ {
			c := base + strconv.Itoa(i)
			if i < len(cands) {
				c = cands[i]
			}
			if !taken[c] && !jen.IsReservedWord(c) && c != "_" {
				name = c
			}
		}
		taken[name] = true
		e.imports[p] = name
	}
}

// collect records the packages t refers to.
func (e *emitter) collect(t types.Type, need map[string]bool) {
	walkType(t, func(obj *types.TypeName) {
		if p := obj.Pkg(); p != nil && p.Path() != e.self {
			need[p.Path()] = true
			e.foreign[p.Path()] = p.Name()
		}
	}, func() { need["unsafe"] = true })
}

// names hands out identifiers that avoid a set of taken ones: base, base1, base2...
type names map[string]bool

func (n names) take(base string) string {
	name := base
	for i := 1; n[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	n[name] = true
	return name
}

func (n names) copy() names {
	out := make(names, len(n))
	for k := range n {
		out[k] = true
	}
	return out
}

// ifaceNames are the names one wrapper uses outside its methods.
type ifaceNames struct {
	inner string            // the struct field holding the wrapped value
	zones map[string]string // method → the field holding its zone
	// dlq methods only: method → its replayer, and for a method without a
	// context, method → the method running its body under a given context.
	replays, withCtx map[string]string
	tps              []jen.Code // [T any, ...] for declarations
	targs            []jen.Code // [T, ...] for uses
}

func (e *emitter) iface(it *Interface) {
	n := ifaceNames{zones: make(map[string]string), replays: make(map[string]string), withCtx: make(map[string]string)}
	fields := make(names)
	for _, m := range it.Methods {
		fields[m.Name] = true // a field cannot share a method's name
	}
	n.inner = fields.take("inner")
	for _, m := range it.Methods {
		if !m.Delegated {
			n.zones[m.Name] = fields.take("z" + strings.ToUpper(m.Name[:1]) + m.Name[1:])
		}
	}
	for _, m := range it.Methods {
		if !m.Delegated && m.DLQ != nil {
			n.replays[m.Name] = fields.take("replay" + strings.ToUpper(m.Name[:1]) + m.Name[1:])
			if m.Ctx < 0 {
				n.withCtx[m.Name] = fields.take(strings.ToLower(m.Name[:1]) + m.Name[1:] + "WithContext")
			}
		}
	}
	for _, tp := range it.TypeParams {
		n.tps = append(n.tps, jen.Id(tp.Obj().Name()).Add(e.constraint(tp.Constraint())))
		n.targs = append(n.targs, jen.Id(tp.Obj().Name()))
	}
	ifaceType := func() *jen.Statement { return jen.Id(it.Name).Types(n.targs...) }
	wrapperType := func() *jen.Statement { return jen.Id(it.Wrapper).Types(n.targs...) }

	// type ProtectedX struct
	e.j.Commentf("%s runs every call of the %s it wraps through the policies of its //baldur:protect directives.", it.Wrapper, it.Name)
	e.j.Type().Id(it.Wrapper).Types(n.tps...).StructFunc(func(g *jen.Group) {
		g.Id(n.inner).Add(ifaceType())
		for _, m := range it.Methods {
			if !m.Delegated {
				g.Id(n.zones[m.Name]).Op("*").Add(e.rt("Zone"))
			}
		}
	})
	e.j.Line()

	// the compile-time assertion
	if len(it.TypeParams) == 0 {
		e.j.Var().Id("_").Id(it.Name).Op("=").Parens(jen.Op("*").Id(it.Wrapper)).Call(jen.Nil())
	} else {
		e.j.Func().Id("_").Types(n.tps...).Params().Block(
			jen.Var().Id("_").Add(ifaceType()).Op("=").Parens(jen.Op("*").Add(wrapperType())).Call(jen.Nil()),
		)
	}
	e.j.Line()

	// The constructors' parameters share a scope with the type parameters
	// and must not hide the imports their bodies use.
	ctorUsed := names{e.imports[RuntimePath]: true, e.imports["time"]: true, e.imports[BackoffPath]: true, it.Wrapper: true, it.New: true}
	for _, tp := range it.TypeParams {
		ctorUsed[tp.Obj().Name()] = true
	}
	inner, rt := ctorUsed.take("inner"), ctorUsed.take("rt")

	e.j.Commentf("%s returns inner wrapped with its policies; %s holds the shared state.", it.New, rt)
	e.j.Func().Id(it.New).Types(n.tps...).Params(
		jen.Id(inner).Add(ifaceType()),
		jen.Id(rt).Op("*").Add(e.rt("Runtime")),
	).Op("*").Add(wrapperType()).BlockFunc(func(g *jen.Group) {
		value := jen.Op("&").Add(wrapperType()).Custom(multi, e.ctorFields(it, n, inner, rt)...)
		if len(n.replays) == 0 {
			g.Return(value)
			return
		}
		w := ctorUsed.take("w")
		g.Id(w).Op(":=").Add(value)
		e.registerReplayers(g, it, n, w)
		g.Return(jen.Id(w))
	})
	e.j.Line()

	e.j.Commentf("%s is %s returning the interface, for google/wire and fx.Decorate.", it.Protect, it.New)
	e.j.Func().Id(it.Protect).Types(n.tps...).Params(
		jen.Id(inner).Add(ifaceType()),
		jen.Id(rt).Op("*").Add(e.rt("Runtime")),
	).Add(ifaceType()).Block(
		jen.Return(jen.Id(it.New).Types(n.targs...).Call(jen.Id(inner), jen.Id(rt))),
	)

	for _, m := range it.Methods {
		e.j.Line()
		e.method(it, n, m)
	}
}

var multi = jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}

func (e *emitter) ctorFields(it *Interface, n ifaceNames, inner, rt string) []jen.Code {
	out := []jen.Code{jen.Id(n.inner).Op(":").Id(inner)}
	for _, m := range it.Methods {
		if !m.Delegated {
			out = append(out, jen.Id(n.zones[m.Name]).Op(":").Id(rt).Dot("Zone").Call(
				e.rt("ZoneSpec").Custom(multi, e.spec(m.Spec)...)))
		}
	}
	return out
}

// spec writes the ZoneSpec literal field by field, in Spec's order, leaving
// out zero fields and the values the runtime takes for them anyway (one
// attempt, the default backoff, the operation named after the method), so
// that a default is written in one place: where ZoneSpec documents it.
func (e *emitter) spec(s Spec) []jen.Code {
	var out []jen.Code
	v := reflect.ValueOf(s)
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if f.IsZero() || specDefault(s, name) {
			continue
		}
		out = append(out, jen.Id(name).Op(":").Add(e.specValue(name, f.Interface())))
	}
	return out
}

// specDefault: field name of s holds what ZoneSpec's zero value means.
func specDefault(s Spec, name string) bool {
	switch name {
	case "Attempts":
		return s.Attempts <= 1
	case "Backoff":
		return s.Attempts <= 1 || s.Backoff == backoff.Default
	case "Operation":
		return s.Operation == s.Method
	}
	return false
}

// specValue writes one field's value; a Spec field of another type is a
// bug caught by the golden tests.
func (e *emitter) specValue(name string, v any) jen.Code {
	switch v := v.(type) {
	case string:
		return jen.Lit(v)
	case bool:
		return jen.Lit(v)
	case int:
		return jen.Lit(v)
	case time.Duration:
		return e.duration(v)
	case backoff.Policy:
		if v.Kind == backoff.Const {
			return jen.Qual(BackoffPath, "Policy").Values(
				jen.Id("Kind").Op(":").Add(jen.Qual(BackoffPath, "Const")),
				jen.Id("Base").Op(":").Add(e.duration(v.Base)))
		}
		return jen.Qual(BackoffPath, "Policy").Values(
			jen.Id("Kind").Op(":").Add(jen.Qual(BackoffPath, "Exp")),
			jen.Id("Base").Op(":").Add(e.duration(v.Base)),
			jen.Id("Max").Op(":").Add(e.duration(v.Max)))
	}
	panic(fmt.Sprintf("generator: Spec.%s has type %T, which the emitter cannot write", name, v))
}

// duration writes d in the largest unit that holds it exactly: 5 * time.Second.
func (e *emitter) duration(d time.Duration) *jen.Statement {
	units := []struct {
		d    time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"},
		{time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}, {time.Nanosecond, "Nanosecond"}}
	for _, u := range units {
		if d%u.d != 0 {
			continue
		}
		if d == u.d {
			return jen.Qual("time", u.name)
		}
		return jen.Lit(int(d/u.d)).Op("*").Qual("time", u.name)
	}
	return jen.Qual("time", "Duration").Call(jen.Lit(int(d)))
}

// locals are the names one wrapper method uses.
type locals struct {
	recv, z, err, attempt, permit, perr, actx, ctx string
	claim, fp, res, enc                            string // idempotency only
	results                                        []string
	params                                         []string
	// ctxParam: the body runs in a method taking ctx although the interface
	// method has no context (a dlq method's replay brings one).
	ctxParam bool
}

// methodNames picks the method's local names so that none hides an
// identifier the body refers to, then renames parameters that clash with
// them (err → err1, as moq does) and names unnamed or blank ones (a0, a1…).
func (e *emitter) methodNames(it *Interface, m *Method) locals {
	outside := make(names)
	if !m.Delegated {
		for _, p := range m.Params {
			e.refs(p.Type, outside)
		}
		for _, r := range m.Results {
			e.refs(r, outside)
		}
		for _, tp := range it.TypeParams {
			outside[tp.Obj().Name()] = true
		}
		outside[e.imports[RuntimePath]] = true
		if c, ok := e.imports["context"]; ok {
			outside[c] = true
		}
		outside["error"], outside["nil"] = true, true
		if m.Spec.Fallback != "" {
			outside[m.Spec.Fallback] = true
		}
		if m.Key != nil {
			if c, ok := e.imports["strconv"]; ok {
				outside[c] = true
			}
			// the predeclared names the key and fingerprint code calls
			for _, n := range []string{"string", "bool", "byte", "int64", "uint64", "float64", "real", "imag"} {
				outside[n] = true
			}
		}
	}
	used := outside.copy()
	var l locals
	l.recv = used.take("w")
	if !m.Delegated {
		l.z = used.take("z")
		l.err = used.take("err")
		l.attempt = used.take("attempt")
		l.permit = used.take("permit")
		l.perr = used.take("perr")
		l.actx = used.take("actx")
		if m.Ctx < 0 {
			l.ctx = used.take("ctx")
		}
		if m.Key != nil {
			l.claim = used.take("claim")
			l.fp = used.take("fp")
			if m.Spec.IdemReplay {
				l.res = used.take("res")
				l.enc = used.take("enc")
			}
		}
		for i := 0; i < len(m.Results)-1; i++ {
			l.results = append(l.results, used.take("r"+strconv.Itoa(i)))
		}
	}
	for i, p := range m.Params {
		base := p.Name
		if base == "" {
			base = "a" + strconv.Itoa(i)
		}
		l.params = append(l.params, used.take(base))
	}
	if m.Ctx >= 0 {
		l.ctx = l.params[m.Ctx]
	}
	return l
}

func (e *emitter) method(it *Interface, n ifaceNames, m *Method) {
	l := e.methodNames(it, m)
	params := make([]jen.Code, len(m.Params))
	for i, p := range m.Params {
		if m.Variadic && i == len(m.Params)-1 {
			params[i] = jen.Id(l.params[i]).Op("...").Add(e.typ(p.Type.(*types.Slice).Elem()))
		} else {
			params[i] = jen.Id(l.params[i]).Add(e.typ(p.Type))
		}
	}
	// call forwards the parameters, with ctx standing for the context one.
	call := func(ctx string) *jen.Statement {
		args := make([]jen.Code, len(l.params))
		for i, p := range l.params {
			switch {
			case i == m.Ctx:
				args[i] = jen.Id(ctx)
			case m.Variadic && i == len(l.params)-1:
				args[i] = jen.Id(p).Op("...")
			default:
				args[i] = jen.Id(p)
			}
		}
		return jen.Id(l.recv).Dot(n.inner).Dot(m.Name).Call(args...)
	}
	if m.Delegated {
		e.j.Commentf("%s is delegated untouched (%s).", m.Name, m.Why)
	} else {
		e.j.Commentf("%s runs %s around the inner %s.", m.Name, m.Spec.Chain(), m.Name)
	}
	sig := jen.Func().Params(jen.Id(l.recv).Op("*").Id(it.Wrapper).Types(n.targs...)).
		Id(m.Name).Params(params...).Add(e.results(m.Results))
	if m.Delegated {
		if len(m.Results) == 0 {
			e.j.Add(sig.Block(call(l.ctx)))
		} else {
			e.j.Add(sig.Block(jen.Return(call(l.ctx))))
		}
		return
	}
	if withCtx, ok := n.withCtx[m.Name]; ok {
		// The body takes the context a replay brings; callers get the
		// background context the method would run under.
		args := []jen.Code{jen.Qual("context", "Background").Call()}
		for i, p := range l.params {
			if m.Variadic && i == len(l.params)-1 {
				args = append(args, jen.Id(p).Op("..."))
			} else {
				args = append(args, jen.Id(p))
			}
		}
		e.j.Add(sig.Block(jen.Return(jen.Id(l.recv).Dot(withCtx).Call(args...))))
		e.j.Line()
		e.j.Commentf("%s is %s under ctx: a replay of a parked call passes its own.", withCtx, m.Name)
		l.ctxParam = true
		params = append([]jen.Code{jen.Id(l.ctx).Qual("context", "Context")}, params...)
		sig = jen.Func().Params(jen.Id(l.recv).Op("*").Id(it.Wrapper).Types(n.targs...)).
			Id(withCtx).Params(params...).Add(e.results(m.Results))
	}
	e.j.Add(sig.BlockFunc(func(g *jen.Group) { e.body(g, it, n, m, l, call) }))
	if m.DLQ != nil {
		e.j.Line()
		e.replayer(it, n, m)
	}
}

func (e *emitter) body(g *jen.Group, it *Interface, n ifaceNames, m *Method, l locals, call func(string) *jen.Statement) {
	s := m.Spec
	z, err, ctx := jen.Id(l.z), jen.Id(l.err), jen.Id(l.ctx)
	g.Id(l.z).Op(":=").Id(l.recv).Dot(n.zones[m.Name])
	g.If(z.Clone().Dot("Bypass").Call()).Block(jen.Return(call(l.ctx)))
	if m.Ctx < 0 && !l.ctxParam {
		g.Id(l.ctx).Op(":=").Qual("context", "Background").Call()
	}
	// A dlq method parks after its retries, and says how many attempts it made.
	countAttempts := m.DLQ != nil && s.Attempts > 1
	if len(l.results) == 0 && m.Key == nil && !countAttempts {
		g.Var().Id(l.err).Error()
	} else {
		g.Var().DefsFunc(func(g *jen.Group) {
			for i, r := range l.results {
				g.Id(r).Add(e.typ(m.Results[i]))
			}
			if m.Key != nil {
				g.Id(l.claim).Add(e.rt("Claim"))
			}
			if countAttempts {
				g.Id(l.attempt).Int()
			}
			g.Id(l.err).Error()
		})
	}
	outs := make([]jen.Code, 0, len(l.results)+1)
	for _, r := range l.results {
		outs = append(outs, jen.Id(r))
	}
	outs = append(outs, jen.Id(l.err))
	if m.Key != nil {
		e.claim(g, m, l, outs)
	}

	attempt := func(g *jen.Group) {
		callCtx := l.ctx
		if s.Timeout > 0 {
			callCtx = l.actx
			g.Id(l.actx).Op(":=").Add(z.Clone().Dot("WithTimeout").Call(ctx))
		}
		g.List(outs...).Op("=").Add(call(callCtx))
		if s.Timeout > 0 {
			g.Id(l.err).Op("=").Add(z.Clone().Dot("Timed").Call(ctx, jen.Id(l.actx), err))
		}
	}
	if s.Attempts > 1 {
		first := jen.Id(l.attempt).Op(":=").Lit(1)
		if countAttempts {
			first = jen.Id(l.attempt).Op("=").Lit(1)
		}
		g.For(first, jen.Empty(), jen.Id(l.attempt).Op("++")).BlockFunc(func(g *jen.Group) {
			g.Var().Id(l.permit).Add(e.rt("Permit"))
			g.If(jen.List(jen.Id(l.permit), err).Op("=").Add(z.Clone().Dot("Enter").Call(ctx)), err.Clone().Op("!=").Nil()).Block(jen.Break())
			attempt(g)
			g.If(jen.Op("!").Add(z.Clone().Dot("Done").Call(ctx, jen.Id(l.permit), err, jen.Id(l.attempt)))).Block(jen.Break())
		})
	} else {
		g.If(jen.List(jen.Id(l.permit), jen.Id(l.perr)).Op(":=").Add(z.Clone().Dot("Enter").Call(ctx)), jen.Id(l.perr).Op("!=").Nil()).Block(
			err.Clone().Op("=").Id(l.perr),
		).Else().BlockFunc(func(g *jen.Group) {
			attempt(g)
			g.Add(z.Clone().Dot("Done").Call(ctx, jen.Id(l.permit), err, jen.Lit(1)))
		})
	}
	if m.Key != nil {
		e.complete(g, m, l)
	}
	if s.Fallback != "" {
		args := make([]jen.Code, 0, len(l.params)+1)
		for _, p := range l.params {
			args = append(args, jen.Id(p)) // a variadic ...T arrives as []T
		}
		args = append(args, err)
		fb := jen.Id(s.Fallback)
		if m.FallbackGeneric {
			fb.Types(n.targs...)
		}
		if m.DLQ != nil {
			// The fallback's answer goes to the caller; if it fails too, the
			// call is parked below with the fallback's error.
			g.If(err.Clone().Op("!=").Nil().Op("&&").Add(z.Clone().Dot("FallbackOutsideReplay").Call(ctx, err))).Block(
				jen.List(outs...).Op("=").Add(fb.Call(args...)))
		} else {
			g.If(err.Clone().Op("!=").Nil().Op("&&").Add(z.Clone().Dot("Fallback").Call(err))).Block(jen.Return(fb.Call(args...)))
		}
	}
	if m.DLQ != nil {
		e.park(g, it, m, l, countAttempts)
	}
	g.Return(outs...)
}
