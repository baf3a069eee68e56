package generator

import (
	"github.com/dave/jennifer/jen"
)

// The dead-letter steps of a wrapper. After the body (its retries, and its
// fallback when it failed too), an error the caller gets is handed to
// z.Park with the call's arguments in a typed record; the constructor
// registers, per dlq method, a replayer that decodes that record and calls
// the method again through the wrapper, so that a replay meets every policy
// of a live call, idempotency included. The record is one named type per
// method (generic with the interface), built only on the failure path.

// argsStruct is the argument record of a dlq method: one exported field
// per parameter but a leading context, tagged with the parameter's name.
func (e *emitter) argsStruct(m *methodInfo) *jen.Statement {
	return jen.StructFunc(func(g *jen.Group) {
		for _, f := range m.DLQ.Fields {
			g.Id(f.Name).Add(e.typ(m.Params[f.Param].Type)).Tag(map[string]string{"json": f.JSON})
		}
	})
}

// argsType is the named type of m's argument record, instantiated with the
// interface's type parameters.
func (e *emitter) argsType(it *ifaceInfo, m *methodInfo) *jen.Statement {
	return jen.Id(e.argTypes[m]).Types(typeArgs(it)...)
}

// resultsType is the named type of m's stored results, instantiated.
func (e *emitter) resultsType(m *methodInfo) *jen.Statement {
	return jen.Id(e.resultTypes[m]).Types(typeArgs(e.ifaceOf[m])...)
}

func typeArgs(it *ifaceInfo) []jen.Code {
	targs := make([]jen.Code, len(it.TypeParams))
	for i, tp := range it.TypeParams {
		targs[i] = jen.Id(tp.Obj().Name())
	}
	return targs
}

// dlqSignature is the method's signature hash; for a generic interface the
// type arguments are appended at run time (runtime.TypeArg), since every
// instantiation shares the zone and so the replayer.
func (e *emitter) dlqSignature(it *ifaceInfo, m *methodInfo) *jen.Statement {
	sig := jen.Id(e.sigs[m])
	for _, tp := range it.TypeParams {
		sig = sig.Op("+").Add(e.rt("TypeArg").Types(jen.Id(tp.Obj().Name())).Call())
	}
	return sig
}

// recordDecls declares, per method of it, the dead-letter argument record,
// the stored results of idempotency_replay, and the replay signature of
// every dlq method: the same string where the wrapper parks and where it
// registers its replayer.
func (e *emitter) recordDecls(it *ifaceInfo, n ifaceNames) {
	for _, m := range it.Methods {
		if name, ok := e.argTypes[m]; ok {
			e.j.Commentf("%s is the argument record %s parks and its replayer decodes.", name, m.Name)
			e.j.Type().Id(name).Types(n.tps...).Add(e.argsStruct(m))
			e.j.Line()
		}
		if name, ok := e.cacheKeys[m]; ok {
			e.j.Commentf("%s is the key %s's results are cached under: its parameters.", name, m.Name)
			e.j.Type().Id(name).Types(n.tps...).Add(e.cacheKeyStruct(m))
			e.j.Line()
		}
		if name, ok := e.resultTypes[m]; ok && m.cached() {
			e.j.Commentf("%s holds the results %s caches.", name, m.Name)
			e.j.Type().Id(name).Types(n.tps...).Add(e.resultsStruct(m))
			e.j.Line()
		} else if ok {
			e.j.Commentf("%s holds the results %s stores for a duplicate's replay.", name, m.Name)
			e.j.Type().Id(name).Types(n.tps...).Add(e.resultsStruct(m))
			e.j.Line()
		}
	}
	var defs []jen.Code
	for _, m := range it.Methods {
		if name, ok := e.sigs[m]; ok {
			defs = append(defs, jen.Id(name).Op("=").Lit(m.DLQ.Signature))
		}
	}
	if len(defs) == 0 {
		return
	}
	e.j.Comment("The replay signatures: a hash of each dlq method's parameters. An entry parked under another one")
	e.j.Comment("(the parameters changed since) is not replayed but goes to needs_review.")
	e.j.Const().Defs(defs...)
	e.j.Line()
}

// park writes the capture at the end of a dlq method's body.
func (e *emitter) park(g *jen.Group, it *ifaceInfo, m *methodInfo, l locals) {
	err := jen.Id(l.err)
	attempts := jen.Id(l.attempt)
	vals := make([]jen.Code, len(m.DLQ.Fields))
	for i, f := range m.DLQ.Fields {
		vals[i] = jen.Id(l.params[f.Param])
	}
	g.Comment("Dead-letter: a failure the caller gets is parked with the call's arguments, for a typed replay.")
	g.If(err.Clone().Op("!=").Nil()).Block(
		err.Clone().Op("=").Add(jen.Id(l.z).Dot("Park").Call(jen.Id(l.ctx), e.dlqSignature(it, m), e.argsType(it, m).Values(vals...), err, attempts)),
	)
}

// registerReplayers writes, in the constructor, the registration of every
// dlq method's replayer on its zone.
func (e *emitter) registerReplayers(g *jen.Group, it *ifaceInfo, n ifaceNames, w string) {
	g.Comment("Parked calls are replayed through the wrapper: a replay meets every policy a live call meets.")
	for _, m := range it.Methods {
		if m.Delegated || m.DLQ == nil {
			continue
		}
		g.Id(w).Dot(n.zones[m.Name]).Dot("RegisterReplayer").Call(e.dlqSignature(it, m), jen.Id(w).Dot(n.replays[m.Name]))
	}
}

// replayer writes the wrapper's method that replays one parked call of m.
func (e *emitter) replayer(it *ifaceInfo, n ifaceNames, m *methodInfo) {
	outside := names{e.imports[RuntimePath]: true, e.imports["context"]: true, "error": true, "byte": true, "nil": true, e.argTypes[m]: true}
	for _, f := range m.DLQ.Fields {
		e.refs(m.Params[f.Param].Type, outside)
	}
	for _, tp := range it.TypeParams {
		outside[tp.Obj().Name()] = true
	}
	used := outside.copy()
	recv, ctx, raw, args, err := used.take("w"), used.take("ctx"), used.take("raw"), used.take("args"), used.take("err")

	fields := make(map[int]string, len(m.DLQ.Fields))
	for _, f := range m.DLQ.Fields {
		fields[f.Param] = f.Name
	}
	var callArgs []jen.Code
	target := m.Name
	if withCtx, ok := n.withCtx[m.Name]; ok {
		target = withCtx
		callArgs = append(callArgs, jen.Id(ctx))
	}
	for i := range m.Params {
		switch {
		case i == m.Ctx:
			callArgs = append(callArgs, jen.Id(ctx))
		case m.Variadic && i == len(m.Params)-1:
			callArgs = append(callArgs, jen.Id(args).Dot(fields[i]).Op("..."))
		default:
			callArgs = append(callArgs, jen.Id(args).Dot(fields[i]))
		}
	}
	call := jen.Id(recv).Dot(target).Call(callArgs...)

	name := n.replays[m.Name]
	e.j.Commentf("%s replays a call %s parked: it decodes the arguments and calls %s again through %s.", name, m.Name, m.Name, recv)
	e.j.Func().Params(jen.Id(recv).Op("*").Id(it.Wrapper).Types(n.targs...)).Id(name).Params(
		jen.Id(ctx).Qual("context", "Context"), jen.Id(raw).Index().Byte(),
	).Error().BlockFunc(func(g *jen.Group) {
		g.Var().Id(args).Add(e.argsType(it, m))
		g.If(jen.Id(err).Op(":=").Add(e.rt("DecodeArgs").Call(jen.Id(raw), jen.Op("&").Id(args))), jen.Id(err).Op("!=").Nil()).Block(
			jen.Return(jen.Id(err)))
		if len(m.Results) == 1 {
			g.Return(call)
			return
		}
		blanks := make([]jen.Code, 0, len(m.Results))
		for range m.Results[:len(m.Results)-1] {
			blanks = append(blanks, jen.Id("_"))
		}
		g.List(append(blanks, jen.Id(err))...).Op(":=").Add(call)
		g.Return(jen.Id(err))
	})
}
