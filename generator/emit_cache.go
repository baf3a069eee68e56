package generator

import (
	"strconv"

	"github.com/dave/jennifer/jen"
)

// The result cache of a wrapper method (cache=): the key read as typed code
// (the cache_key= path, the one parameter, or a struct of the parameters,
// so that a string or integer key costs no allocation), Get before every
// other policy, and on a miss the method's policies inside
// `if cm.Run() { ... Done }`, before the fallback.

// cached reports whether m has a result cache.
func (m *methodInfo) cached() bool { return !m.Delegated && m.Spec.Cache > 0 }

// cacheKeyType is K of m's runtime.Cache[K, V].
func (e *emitter) cacheKeyType(m *methodInfo) jen.Code {
	if k := m.CacheKey; k != nil {
		switch k.Conv {
		case keyInt:
			return jen.Int64()
		case keyUint:
			return jen.Uint64()
		}
		return jen.String()
	}
	switch len(m.CacheParams) {
	case 0:
		return jen.Struct()
	case 1:
		return e.typ(m.Params[m.CacheParams[0]].Type)
	}
	return jen.Id(e.cacheKeys[m]).Types(typeArgs(e.ifaceOf[m])...)
}

// cacheType is m's *runtime.Cache[K, V].
func (e *emitter) cacheType(m *methodInfo) *jen.Statement {
	return e.rt("Cache").Types(e.cacheKeyType(m), e.resultsType(m))
}

// cacheKeyStruct declares the key of a method keyed by several parameters.
func (e *emitter) cacheKeyStruct(m *methodInfo) *jen.Statement {
	return jen.StructFunc(func(g *jen.Group) {
		for _, i := range m.CacheParams {
			g.Id("P" + strconv.Itoa(i)).Add(e.typ(m.Params[i].Type))
		}
	})
}

// cacheGet writes the lookup: cv, cm, err = c.Get(ctx, key), or the miss
// of a call whose cache_key= path stops at a nil.
func (e *emitter) cacheGet(g *jen.Group, m *methodInfo, l locals, c *jen.Statement) {
	var key jen.Code
	var nils []nilCheck
	switch {
	case m.CacheKey != nil:
		key, nils = e.keyRead(m.CacheKey, l)
	case len(m.CacheParams) == 0:
		key = jen.Struct().Values()
	case len(m.CacheParams) == 1:
		key = jen.Id(l.params[m.CacheParams[0]])
	default:
		key = jen.Id(e.cacheKeys[m]).Types(typeArgs(e.ifaceOf[m])...).ValuesFunc(func(g *jen.Group) {
			for _, i := range m.CacheParams {
				g.Id("P" + strconv.Itoa(i)).Op(":").Id(l.params[i])
			}
		})
	}
	what := "parameters"
	if m.Spec.CacheKey != "" {
		what = m.Spec.CacheKey
	}
	g.Commentf("Cache: a fresh result for the same %s answers the call; concurrent misses make one call.", what)
	get := jen.List(jen.Id(l.cv), jen.Id(l.cm), jen.Id(l.err)).Op("=").Add(c.Clone().Dot("Get").Call(jen.Id(l.ctx), key))
	if len(nils) == 0 {
		g.Add(get)
		return
	}
	g.Switch().BlockFunc(func(g *jen.Group) {
		for _, n := range nils {
			g.Case(n.cond).Block(jen.Id(l.cm).Op("=").Add(c.Clone().Dot("Uncached").Call()))
		}
		g.Default().Block(get)
	})
}

// cacheDone writes the end of a call that ran: store, or answer a failure
// with a stale result, and hand the outcome to the calls waiting for it.
func (e *emitter) cacheDone(g *jen.Group, m *methodInfo, l locals, c *jen.Statement, ctx jen.Code) {
	vals := make([]jen.Code, len(l.results))
	for i, r := range l.results {
		vals[i] = jen.Id(resultField(i)).Op(":").Id(r)
	}
	g.List(jen.Id(l.cv), jen.Id(l.err)).Op("=").Add(c.Clone().Dot("Done").Call(ctx, jen.Op("&").Id(l.cm),
		e.resultsType(m).Values(vals...), jen.Id(l.err)))
}

// cacheResults writes r0, r1 = cv.R0, cv.R1 after the cache's block.
func (e *emitter) cacheResults(g *jen.Group, l locals) {
	lhs := make([]jen.Code, len(l.results))
	rhs := make([]jen.Code, len(l.results))
	for i, r := range l.results {
		lhs[i], rhs[i] = jen.Id(r), jen.Id(l.cv).Dot(resultField(i))
	}
	g.List(lhs...).Op("=").List(rhs...)
}
