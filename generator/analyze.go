package generator

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/backoff"
)

// analyzer turns one loaded package into the model: it finds the interfaces
// carrying //baldur:protect, merges and checks their directives against the
// method types, and records every problem in errs instead of stopping.
type analyzer struct {
	fset *token.FileSet
	errs *collector
	pkg  *packages.Package

	// fields maps a method name's position to its interface field, so that
	// a method embedded from another interface of this package keeps the
	// directive written on it there.
	fields map[token.Pos]*ast.Field
	// consumed marks the directive comments attached to a node analysis
	// read; any other //baldur: line is misplaced.
	consumed map[token.Pos]bool
	// declared holds the package-level names the wrappers will declare.
	declared map[string]bool

	model *packageInfo
	// unresolved: a protected interface mentions a type go/types could not
	// resolve, so the package's type errors matter.
	unresolved bool
}

func analyze(pkg *packages.Package, fset *token.FileSet, errs *collector) *analyzer {
	a := &analyzer{
		fset:     fset,
		errs:     errs,
		pkg:      pkg,
		fields:   make(map[token.Pos]*ast.Field),
		consumed: make(map[token.Pos]bool),
		declared: make(map[string]bool),
	}
	files := make([]*ast.File, len(pkg.Syntax))
	copy(files, pkg.Syntax)
	sort.Slice(files, func(i, j int) bool { return a.filename(files[i]) < a.filename(files[j]) })
	for _, f := range files {
		for _, it := range interfaceTypes(f) {
			for _, fl := range it.Methods.List {
				if len(fl.Names) > 0 {
					a.fields[fl.Names[0].Pos()] = fl
				}
			}
		}
	}
	out := &packageInfo{Path: pkg.PkgPath, Name: pkg.Name, Types: pkg.Types}
	for _, f := range files {
		file := a.file(f)
		a.misplaced(f)
		if len(file.Interfaces) > 0 {
			file.Pkg = out
			out.Files = append(out.Files, file)
		}
	}
	a.model = out
	return a
}

func (a *analyzer) filename(f *ast.File) string { return a.fset.File(f.Pos()).Name() }

// interfaceTypes lists the interface literals of f's top-level type declarations.
func interfaceTypes(f *ast.File) []*ast.InterfaceType {
	var out []*ast.InterfaceType
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, s := range gd.Specs {
			if it, ok := s.(*ast.TypeSpec).Type.(*ast.InterfaceType); ok {
				out = append(out, it)
			}
		}
	}
	return out
}

func (a *analyzer) file(f *ast.File) *fileInfo {
	src := a.filename(f)
	out := &fileInfo{Source: src, Output: strings.TrimSuffix(src, ".go") + "_baldur.go"}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, s := range gd.Specs {
			ts := s.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && !gd.Lparen.IsValid() {
				doc = gd.Doc // type X interface{...}: the doc sits on the declaration
			}
			if it := a.typeSpec(ts, doc); it != nil {
				out.Interfaces = append(out.Interfaces, it)
			}
		}
	}
	return out
}

// typeDirectives reads a type's doc. //baldur:protect lines are parsed as one
// directive; //baldur:skip Name… lines, which name embedded methods to pass
// through, are collected apart so that both can annotate one interface.
func (a *analyzer) typeDirectives(doc *ast.CommentGroup) (protect, skip *annotations.Directive) {
	if doc == nil {
		return nil, nil
	}
	rest := &ast.CommentGroup{}
	for _, c := range doc.List {
		if !strings.HasPrefix(c.Text, "//baldur:") {
			continue
		}
		a.consumed[c.Slash] = true
		if c.Text == "//baldur:skip" || strings.HasPrefix(c.Text, "//baldur:skip ") || strings.HasPrefix(c.Text, "//baldur:skip\t") {
			d, ok := annotations.ParseLine(a.fset, c.Text, c.Slash, &a.errs.list)
			if !ok {
				continue
			}
			if skip == nil {
				skip = &d
				continue
			}
			skip.SkipNames = append(skip.SkipNames, d.SkipNames...)
			skip.SkipNamesPos = append(skip.SkipNamesPos, d.SkipNamesPos...)
			continue
		}
		rest.List = append(rest.List, c)
	}
	protect = annotations.Parse(a.fset, rest, &a.errs.list)
	return protect, skip
}

// methodDirective reads the directive above a method, or after it on its line.
func (a *analyzer) methodDirective(f *ast.Field) *annotations.Directive {
	if f == nil {
		return nil
	}
	var d *annotations.Directive
	for _, cg := range []*ast.CommentGroup{f.Doc, f.Comment} {
		if cg == nil {
			continue
		}
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//baldur:") {
				a.consumed[c.Slash] = true
			}
		}
		nd := annotations.Parse(a.fset, cg, &a.errs.list)
		switch {
		case nd == nil:
		case d == nil:
			d = nd
		default:
			a.errs.errorf(nd.Pos, "%s has directives both above it and after it; keep them in one place", f.Names[0].Name)
		}
	}
	return d
}

// misplaced reports //baldur: lines that are not on an interface type or
// one of its methods: they would otherwise be ignored without a word.
func (a *analyzer) misplaced(f *ast.File) {
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//baldur:") && !a.consumed[c.Slash] {
				a.consumed[c.Slash] = true
				a.errs.errorf(c.Slash, "misplaced directive: //baldur: lines belong in the doc comment of an interface type or of one of its methods")
			}
		}
	}
}

func (a *analyzer) typeSpec(ts *ast.TypeSpec, doc *ast.CommentGroup) *ifaceInfo {
	protect, skip := a.typeDirectives(doc)
	it, isIface := ts.Type.(*ast.InterfaceType)
	if protect == nil {
		if skip != nil {
			a.errs.errorf(skip.Pos, "//baldur:skip on a type needs //baldur:protect on it too")
		}
		if isIface {
			for _, f := range it.Methods.List {
				if d := a.methodDirective(f); d != nil && len(f.Names) > 0 {
					a.errs.errorf(d.Pos, "//baldur:%s on %s.%s, but %s has no //baldur:protect", d.Kind, ts.Name.Name, f.Names[0].Name, ts.Name.Name)
				}
			}
		}
		return nil
	}
	switch {
	case ts.Assign.IsValid():
		a.errs.errorf(protect.Pos, "//baldur:protect needs an interface type declaration; %s is an alias", ts.Name.Name)
		return nil
	case !isIface:
		a.errs.errorf(protect.Pos, "//baldur:protect needs an interface type; %s is %s", ts.Name.Name, kindOfExpr(ts.Type))
		return nil
	}
	if skip != nil && len(skip.SkipNames) == 0 {
		a.errs.errorf(skip.Pos, "a bare //baldur:skip cannot sit on an interface; name the methods to pass through (//baldur:skip Name1 Name2) or remove //baldur:protect")
	}
	obj, _ := a.pkg.TypesInfo.Defs[ts.Name].(*types.TypeName)
	if obj == nil {
		a.errs.errorf(ts.Name.Pos(), "%s: no type information", ts.Name.Name)
		return nil
	}
	named, _ := obj.Type().(*types.Named)
	var iface *types.Interface
	if named != nil {
		iface, _ = named.Underlying().(*types.Interface)
	}
	if iface == nil {
		a.errs.errorf(ts.Name.Pos(), "%s: its type could not be resolved; fix the compile errors first", ts.Name.Name)
		return nil
	}
	if !iface.IsMethodSet() {
		a.errs.errorf(ts.Name.Pos(), "%s is a constraint (it lists types or embeds comparable), so no value has its type and it cannot be wrapped", ts.Name.Name)
		return nil
	}
	if iface.NumMethods() == 0 {
		a.errs.errorf(ts.Name.Pos(), "%s has no methods to protect", ts.Name.Name)
		return nil
	}
	out := &ifaceInfo{
		Name:    ts.Name.Name,
		Pos:     a.fset.Position(ts.Name.Pos()),
		Named:   named,
		Service: snakeCase(ts.Name.Name),
	}
	for i := 0; i < named.TypeParams().Len(); i++ {
		out.TypeParams = append(out.TypeParams, named.TypeParams().At(i))
	}
	annotations.CheckLevel(a.fset, protect.Policy, annotations.OnInterface, &a.errs.list)
	if protect.Policy.Name.Set {
		out.Service = protect.Policy.Name.Val
	}
	a.names(out, ts.Name.Pos())

	skipped := make(map[string]bool)
	if skip != nil {
		for _, n := range skip.SkipNames {
			skipped[n] = true
		}
	}
	seen := make(map[string]bool)
	for _, e := range a.methodSet(it, iface) {
		seen[e.fn.Name()] = true
		m := a.method(out, protect.Policy, e, skipped[e.fn.Name()])
		if m != nil {
			out.Methods = append(out.Methods, m)
		}
	}
	if skip != nil {
		for i, n := range skip.SkipNames {
			if !seen[n] {
				a.errs.errorf(skip.SkipNamesPos[i], "//baldur:skip %s: %s has no method %s", n, out.Name, n)
			}
		}
	}
	return out
}

func (a *analyzer) shortPos(pos token.Pos) string {
	p := a.fset.Position(pos)
	return fmt.Sprintf("%s:%d:%d", filepath.Base(p.Filename), p.Line, p.Column)
}

// entry is one method of the method set with where it comes from.
type entry struct {
	fn    *types.Func
	field *ast.Field // its declaration in this package, if any
	pos   token.Pos  // where errors about it point: the method, or the embedding
	// embed is the embedded interface expression it comes from; nil when
	// the method is declared in the interface itself.
	embed ast.Expr
}

// methodSet lists the interface's methods in source order: methods declared
// in it first and in place, each embedded interface's methods where the
// embedding is written.
func (a *analyzer) methodSet(it *ast.InterfaceType, iface *types.Interface) []entry {
	byID := make(map[string]*types.Func, iface.NumMethods())
	for i := 0; i < iface.NumMethods(); i++ {
		m := iface.Method(i)
		byID[m.Id()] = m
	}
	var out []entry
	done := make(map[string]bool)
	add := func(e entry) {
		if id := e.fn.Id(); !done[id] {
			done[id] = true
			out = append(out, e)
		}
	}
	// Declared methods win over embedded ones of the same name: their
	// directives are the ones written on this interface.
	declared := make(map[string]bool)
	for _, f := range it.Methods.List {
		for _, n := range f.Names {
			declared[types.Id(a.pkg.Types, n.Name)] = true
		}
	}
	for _, f := range it.Methods.List {
		if len(f.Names) > 0 {
			for _, n := range f.Names {
				if m := byID[types.Id(a.pkg.Types, n.Name)]; m != nil {
					add(entry{fn: m, field: f, pos: n.Pos()})
				}
			}
			continue
		}
		t := a.pkg.TypesInfo.TypeOf(f.Type)
		if t == nil {
			continue
		}
		ei, ok := t.Underlying().(*types.Interface)
		if !ok {
			continue
		}
		ems := make([]*types.Func, ei.NumMethods())
		for i := range ems {
			ems[i] = ei.Method(i)
		}
		// Where the embedded interface was declared (export data keeps
		// positions too), in its source order rather than go/types' sorted one.
		sort.SliceStable(ems, func(i, j int) bool { return ems[i].Origin().Pos() < ems[j].Origin().Pos() })
		for _, em := range ems {
			if declared[em.Id()] {
				continue
			}
			m := byID[em.Id()]
			if m == nil {
				continue
			}
			add(entry{fn: m, field: a.fields[m.Origin().Pos()], pos: f.Type.Pos(), embed: f.Type})
		}
	}
	// Anything left (none expected) follows in go/types order.
	for i := 0; i < iface.NumMethods(); i++ {
		m := iface.Method(i)
		add(entry{fn: m, field: a.fields[m.Origin().Pos()], pos: m.Pos()})
	}
	return out
}

// method applies the merged directives to one method and enforces the
// README's "Rules at the edges". It returns nil when the method cannot be wrapped.
func (a *analyzer) method(it *ifaceInfo, ip annotations.Policy, e entry, skippedByIface bool) *methodInfo {
	fn := e.fn
	name := fn.Name()
	sig := fn.Type().(*types.Signature)
	embedded := e.embed != nil

	if !fn.Exported() && fn.Pkg() != a.pkg.Types {
		a.errs.errorf(e.pos, "cannot wrap %s: it embeds %s, whose unexported method %s can only be implemented in package %s (%s)",
			it.Name, a.typeString(a.pkg.TypesInfo.TypeOf(e.embed)), name, fn.Pkg().Name(), fn.Pkg().Path())
		return nil
	}
	m := &methodInfo{Name: name, Variadic: sig.Variadic(), Ctx: -1}
	ok := true
	for i := 0; i < sig.Params().Len(); i++ {
		v := sig.Params().At(i)
		n := v.Name()
		if n == "_" {
			n = ""
		}
		m.Params = append(m.Params, paramInfo{Name: n, Type: v.Type()})
		if why := a.unwritable(v.Type()); why != "" {
			a.errs.errorf(e.pos, "cannot wrap %s.%s: parameter %s: %s", it.Name, name, paramLabel(i, n), why)
			ok = false
		}
	}
	for i := 0; i < sig.Results().Len(); i++ {
		t := sig.Results().At(i).Type()
		m.Results = append(m.Results, t)
		if why := a.unwritable(t); why != "" {
			a.errs.errorf(e.pos, "cannot wrap %s.%s: result %d: %s", it.Name, name, i+1, why)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	if len(m.Params) > 0 && isContext(m.Params[0].Type) {
		m.Ctx = 0
	}

	md := a.methodDirective(e.field)
	switch {
	case md != nil && md.Kind == annotations.Skip:
		if len(md.SkipNames) > 0 {
			a.errs.errorf(md.SkipNamesPos[0], "//baldur:skip on a method takes no names")
		}
		return delegate(m, "//baldur:skip")
	case skippedByIface && md != nil && md.Kind == annotations.Protect && !embedded:
		a.errs.errorf(md.Pos, "%s has //baldur:protect, but the interface lists it in //baldur:skip", name)
		return nil
	case skippedByIface:
		return delegate(m, "//baldur:skip "+name+" on the interface")
	}
	var mp annotations.Policy
	if md != nil {
		mp = md.Policy
		annotations.CheckLevel(a.fset, mp, annotations.OnMethod, &a.errs.list)
	}
	p := annotations.Merge(ip, mp)
	r := rule{a: a, it: it, m: m, method: mp, embedded: embedded}

	hasErr := len(m.Results) > 0 && isError(m.Results[len(m.Results)-1])
	if !hasErr {
		ok := true
		for _, k := range explicitOn(p) {
			a.errs.errorf(k.pos, "%s cannot apply to %s: it needs an error result to report through, and %s has none; %s",
				k.text, name, name, r.lift(k.key))
			ok = false
		}
		if !ok {
			return nil
		}
		return delegate(m, "no error result; the default breaker only reaches methods whose last result is error")
	}
	before := a.errs.count()
	annotations.Check(a.fset, p, &a.errs.list)

	spec := specOf(it.Service, name, p)
	if spec.Timeout > 0 {
		r.timeout(p.Timeout)
	}
	if spec.Deadline > 0 {
		r.contextBound("deadline", p.Deadline)
	}
	if spec.Hedge > 0 {
		r.hedge(p.Hedge)
	}
	// A method that could take timeout= and says nothing of it takes the
	// runtime's default timeout, when one is configured.
	spec.DefaultTimeout = !p.Timeout.Set && m.Ctx >= 0 && !r.outlivesTheCall()
	if spec.Bulkhead > 0 && mp.Bulkhead.Set {
		spec.Compartment = spec.Service + "." + name
	}
	if spec.Rate != "" && (mp.Rate.Set || mp.Burst.Set || mp.RateWait.Set || mp.RateScope.Set) {
		// The interface's rate= is one bucket for the service; a method
		// writing its own rate (or tuning it) gets a bucket of its own.
		spec.RateBucket = spec.Service + "." + name
	}
	if spec.Fallback != "" {
		m.FallbackGeneric = r.fallback(sig, p.Fallback)
	}
	if spec.Idempotency != "" {
		m.Key = r.keyPath("idempotency", p.Idempotency)
		m.Fingerprint = r.fingerprint()
		r.idemNames(p, spec.Service, spec.Operation)
		if p.IdemTTL.Set && spec.IdemTTL < time.Millisecond {
			a.errs.errorf(p.IdemTTL.Pos, "idem_ttl=%s is shorter than the store's 1ms resolution; want at least 1ms", p.IdemTTL.Val)
		}
		if spec.IdemReplay {
			r.replay(p.IdemReplay.Pos)
		}
	}
	if spec.DLQ {
		m.DLQ = r.dlq(p.DLQ.Pos)
	}
	if spec.Cache > 0 {
		r.cache(p)
	}
	if a.errs.count() > before {
		return nil
	}
	if !spec.Breaker && spec.Attempts <= 1 && spec.Timeout == 0 && spec.Bulkhead == 0 && spec.Compartment == "" &&
		spec.Deadline == 0 && spec.Fallback == "" && spec.Idempotency == "" && !spec.DLQ &&
		spec.Rate == "" && spec.Throttle == "" && spec.Concurrency == "" && spec.Hedge == 0 && spec.Cache == 0 {
		return delegate(m, "every policy is off")
	}
	m.Spec = spec
	return m
}

// specOf is the Spec the merged policy p asks for on service.method, before
// the analysis of the method's signature adds what follows from it.
func specOf(service, method string, p annotations.Policy) zoneSpec {
	spec := zoneSpec{Service: service, Method: method, Breaker: !p.Breaker.Set || p.Breaker.Val, Attempts: 1}
	specFromKeys(p, &spec)
	if p.Name.Set && p.Name.Val != "" {
		spec.Service = p.Name.Val
	}
	if p.Retry.Set && p.Retry.Val > 0 {
		spec.Attempts = p.Retry.Val
	}
	if spec.Attempts > 1 {
		spec.Backoff = backoff.Default
		if p.Backoff.Set {
			spec.Backoff = p.Backoff.Val
		}
	}
	if spec.Idempotency != "" {
		spec.Operation = method
		if p.Operation.Set && p.Operation.Val != "" {
			spec.Operation = p.Operation.Val
		}
	}
	return spec
}

// specFromKeys copies into s the value of every key of the table that names
// a Spec field and is on in the merged policy p. Check has already refused a
// key whose required key is off, so a tuning key only lands next to its feature.
func specFromKeys(p annotations.Policy, s *zoneSpec) {
	v := reflect.ValueOf(s).Elem()
	for _, k := range annotations.Keys() {
		if k.Spec != "" && k.On(&p) {
			v.FieldByName(k.Spec).Set(reflect.ValueOf(k.Value(&p)))
		}
	}
}

func delegate(m *methodInfo, why string) *methodInfo {
	m.Delegated, m.Why = true, why
	return m
}

// typeString spells t the way the package's own source would.
func (a *analyzer) typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == a.pkg.Types {
			return ""
		}
		return p.Name()
	})
}

func paramLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%d (unnamed)", i+1)
	}
	return name
}

func objectKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Var:
		return "a variable"
	case *types.Const:
		return "a constant"
	case *types.TypeName:
		return "a type"
	}
	return "not a function"
}

func kindOfExpr(e ast.Expr) string {
	switch e.(type) {
	case *ast.StructType:
		return "a struct"
	case *ast.FuncType:
		return "a func type"
	case *ast.MapType:
		return "a map type"
	case *ast.ArrayType:
		return "a slice or array type"
	case *ast.ChanType:
		return "a channel type"
	}
	return "not an interface"
}
