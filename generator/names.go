package generator

// Name allocation: the generated API's names (refused when the package
// already declares them), the names imports take in a generated file, and
// the locals and fields a wrapper declares, each avoiding the names it could
// collide with.

import (
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
)

// names picks the three exported (or unexported, following the interface)
// names of the generated API and refuses names the package already uses.
func (a *analyzer) names(it *ifaceInfo, pos token.Pos) {
	base := it.Name
	if token.IsExported(base) {
		it.Wrapper, it.New, it.Protect = "Protected"+base, "NewProtected"+base, "Protect"+base
	} else {
		up := strings.ToUpper(base[:1]) + base[1:]
		it.Wrapper, it.New, it.Protect = "protected"+up, "newProtected"+up, "protect"+up
	}
	for _, n := range []string{it.Wrapper, it.New, it.Protect} {
		if obj := a.pkg.Types.Scope().Lookup(n); obj != nil {
			a.errs.errorf(pos, "cannot generate %s for %s: the package already declares %s at %s", n, it.Name, n, a.shortPos(obj.Pos()))
		} else if a.declared[n] {
			a.errs.errorf(pos, "cannot generate %s for %s: another protected interface generates it too", n, it.Name)
		}
		a.declared[n] = true
	}
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
			if k := m.Key; k != nil && (k.Conv == keyInt || k.Conv == keyUint) {
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

// nameSignatures names the const holding each dlq method's replay signature
// and the type of its argument record (and of an idempotency_replay
// method's stored results) after its wrapper (unique in the
// package) and method, avoiding every package-level name of the user's
// package and the file's import names.
func (e *emitter) nameSignatures() {
	e.sigs, e.argTypes, e.resultTypes = make(map[*methodInfo]string), make(map[*methodInfo]string), make(map[*methodInfo]string)
	e.cacheKeys = make(map[*methodInfo]string)
	e.ifaceOf = make(map[*methodInfo]*ifaceInfo)
	taken := make(names)
	for _, n := range e.f.Pkg.Types.Scope().Names() {
		taken[n] = true
	}
	for _, f := range e.f.Pkg.Files {
		for _, it := range f.Interfaces {
			taken[it.Wrapper], taken[it.New], taken[it.Protect] = true, true, true
		}
	}
	for _, name := range e.imports {
		taken[name] = true
	}
	for _, it := range e.f.Interfaces {
		for _, m := range it.Methods {
			e.ifaceOf[m] = it
			base := strings.ToLower(it.Wrapper[:1]) + it.Wrapper[1:] + m.Name
			if !m.Delegated && m.DLQ != nil {
				e.sigs[m] = taken.take(base + "Signature")
				e.argTypes[m] = taken.take(base + "Args")
			}
			if !m.Delegated && (m.Key != nil && m.Spec.IdemReplay || m.Spec.Cache > 0) && len(m.Results) > 1 {
				e.resultTypes[m] = taken.take(base + "Results")
			}
			if m.cached() && m.CacheKey == nil && len(m.CacheParams) > 1 {
				e.cacheKeys[m] = taken.take(base + "CacheKey")
			}
		}
	}
}
