package generator

import (
	"github.com/dave/jennifer/jen"
)

// hedge writes one hedged attempt (hedge=): runtime.HedgeFor runs the inner
// call under each attempt's context (the permit's timeout and fault
// injection included) and returns the winner's results, packed in one value:
// struct{} without results, the result itself with one, a struct of them
// with more.
//
//	r0, err = runtime.HedgeFor(ctx, z, permit, func(hctx context.Context) (int64, error) {
//		return w.inner.Get(hctx, sku)
//	})
func (e *emitter) hedge(g *jen.Group, m *methodInfo, l locals, ctx, z *jen.Statement, call func(string) *jen.Statement) {
	param := jen.Id(l.hctx).Qual("context", "Context")
	hedge := func(lhs jen.Code, res jen.Code, body ...jen.Code) {
		fn := jen.Func().Params(param).Add(res).Block(body...)
		g.List(lhs, jen.Id(l.err)).Op("=").Add(e.rt("HedgeFor")).Call(ctx, z.Clone(), jen.Id(l.permit), fn)
	}
	switch n := len(l.results); n {
	case 0:
		hedge(jen.Id("_"), jen.Parens(jen.List(jen.Struct(), jen.Error())),
			jen.Return(jen.Struct().Values(), call(l.hctx)))
	case 1:
		hedge(jen.Id(l.results[0]), jen.Parens(jen.List(e.typ(m.Results[0]), jen.Error())),
			jen.Return(call(l.hctx)))
	default:
		fields := make([]jen.Code, n)
		sel := make([]jen.Code, 0, n+1)
		back := make([]jen.Code, n)
		for i := range n {
			f := l.results[i]
			fields[i] = jen.Id(f).Add(e.typ(m.Results[i]))
			sel = append(sel, jen.Id(l.hres).Dot(f))
			back[i] = jen.Id(l.hres).Dot(f)
		}
		typ := jen.Struct(fields...)
		g.Var().Id(l.hres).Add(typ.Clone())
		hedge(jen.Id(l.hres), jen.Parens(jen.List(jen.Id(l.hres).Add(typ), jen.Id(l.err).Error())),
			jen.List(append(sel, jen.Id(l.err))...).Op("=").Add(call(l.hctx)),
			jen.Return())
		outs := make([]jen.Code, n)
		for i := range n {
			outs[i] = jen.Id(l.results[i])
		}
		g.List(outs...).Op("=").List(back...)
	}
}
