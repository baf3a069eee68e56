package generator

import (
	"go/types"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
)

// The idempotency steps of a wrapper method: fingerprint the arguments,
// read the key along its resolved path, claim it, replay a stored answer,
// and after the body complete the claim. All of it is typed code: no
// reflection and no interface conversion except where encoding/json is
// the only way (structs and such in the fingerprint, replayed results).

// claim writes everything between the variable block and the body.
func (e *emitter) claim(g *jen.Group, m *methodInfo, l locals, outs []jen.Code) {
	k := m.Key
	z, err := jen.Id(l.z), jen.Id(l.err)
	g.Commentf("Idempotency: the key is %s; the fingerprint of the arguments tells a duplicate from a reused key.", m.Spec.Idempotency)
	if m.fingerprintGaps() {
		for _, n := range m.fingerprintNotes() {
			g.Comment(strings.ToUpper(n[:1]) + n[1:] + ".")
		}
	}
	e.fingerprint(g, m, l)

	key, nils := e.keyRead(k, l)
	switch k.Conv { // the gate claims a string
	case keyInt:
		key = jen.Qual("strconv", "FormatInt").Call(key, jen.Lit(10))
	case keyUint:
		key = jen.Qual("strconv", "FormatUint").Call(key, jen.Lit(10))
	}
	var checks []jen.Code
	for _, n := range nils {
		checks = append(checks, jen.Case(n.cond).Block(
			err.Clone().Op("=").Add(z.Clone().Dot("NoKey").Call(jen.Lit(n.path+" is nil")))))
	}
	claim := z.Clone().Dot("Claim").Call(jen.Id(l.ctx), key, jen.Id(l.fp).Dot("Sum").Call())
	if len(checks) == 0 {
		g.If(jen.List(jen.Id(l.claim), err).Op("=").Add(claim), err.Clone().Op("!=").Nil()).Block(jen.Return(outs...))
	} else {
		g.Switch().BlockFunc(func(g *jen.Group) {
			for _, c := range checks {
				g.Add(c)
			}
			g.Default().Block(jen.List(jen.Id(l.claim), err).Op("=").Add(claim))
		})
		g.If(err.Clone().Op("!=").Nil()).Block(jen.Return(outs...))
	}

	if m.Spec.IdemReplay {
		g.If(jen.Id(l.claim).Dot("Replayed").Call()).BlockFunc(func(g *jen.Group) {
			if len(l.results) == 0 {
				g.Return(jen.Nil())
				return
			}
			g.Var().Id(l.res).Add(e.resultsType(m))
			g.If(err.Clone().Op("=").Add(z.Clone().Dot("DecodeResults").Call(jen.Op("&").Id(l.claim), jen.Op("&").Id(l.res))),
				err.Clone().Op("!=").Nil()).Block(jen.Return(outs...))
			replayed := make([]jen.Code, 0, len(l.results)+1)
			for i := range l.results {
				replayed = append(replayed, jen.Id(l.res).Dot(resultField(i)))
			}
			g.Return(append(replayed, jen.Nil())...)
		})
	}
	g.Comment("A panic in the inner method releases the key instead of holding it for the execution window.")
	g.Defer().Add(z.Clone().Dot("Release").Call(jen.Id(l.ctx), jen.Op("&").Id(l.claim)))
}

// nilCheck is a nil pointer or interface on a key's path: cond is true
// when the path stops at path.
type nilCheck struct {
	cond *jen.Statement
	path string
}

// keyRead writes the key of a resolved path (idempotency= or cache_key=)
// as typed code: a string, int64 or uint64 value, and the nil checks that
// must fail before it is read.
func (e *emitter) keyRead(k *keyPath, l locals) (*jen.Statement, []nilCheck) {
	// Walk the path. Pending dereferences stay bare (**x) where the value is
	// an operand, and get parentheses where a selector follows.
	expr, stars := jen.Id(l.params[k.Param]), 0
	value := func() *jen.Statement {
		if stars > 0 {
			return jen.Op(strings.Repeat("*", stars)).Add(expr.Clone())
		}
		return expr.Clone()
	}
	var checks []nilCheck
	for _, st := range k.Steps {
		switch st.Kind {
		case keySelect:
			if stars > 0 {
				expr, stars = jen.Parens(value()), 0
			}
			expr = expr.Clone().Dot(st.Field)
		case keyDeref:
			stars++
		case keyNilCheck:
			checks = append(checks, nilCheck{value().Op("==").Nil(), st.Path})
		}
	}
	switch k.Conv {
	case keyInt:
		return convert(value(), k.Type, types.Typ[types.Int64], jen.Int64()), checks
	case keyUint:
		return convert(value(), k.Type, types.Typ[types.Uint64], jen.Uint64()), checks
	case keyStringer:
		v := value()
		if stars > 0 {
			v = jen.Parens(v)
		}
		return v.Dot("String").Call(), checks
	}
	return convert(value(), k.Type, types.Typ[types.String], jen.String()), checks
}

// complete writes the claim's completion after the body, before a fallback
// can answer: the fallback's answer is not the operation's, so a failure
// releases the key and only the inner method's results are stored.
func (e *emitter) complete(g *jen.Group, m *methodInfo, l locals) {
	z, err := jen.Id(l.z), jen.Id(l.err)
	ok := err.Clone().Op("==").Nil()
	if !m.Spec.IdemReplay || len(l.results) == 0 {
		g.Add(z.Clone().Dot("Complete").Call(jen.Id(l.ctx), jen.Op("&").Id(l.claim), ok, jen.Nil()))
		return
	}
	vals := make([]jen.Code, len(l.results))
	for i, r := range l.results {
		vals[i] = jen.Id(r)
	}
	g.Var().Id(l.enc).Index().Byte()
	g.If(ok.Clone().Op("&&").Id(l.claim).Dot("Owned").Call()).Block(
		jen.Id(l.enc).Op("=").Add(z.Clone().Dot("EncodeResults").Call(e.resultsType(m).Values(vals...))),
	)
	g.Add(z.Clone().Dot("Complete").Call(jen.Id(l.ctx), jen.Op("&").Id(l.claim), ok, jen.Id(l.enc)))
}

// resultsStruct is the struct replay mode stores the results in (declared
// once per method, see resultsType), R0, R1… for each result but the error:
// the same type encodes and decodes.
func (e *emitter) resultsStruct(m *methodInfo) *jen.Statement {
	return jen.StructFunc(func(g *jen.Group) {
		for i, t := range m.Results[:len(m.Results)-1] {
			g.Id(resultField(i)).Add(e.typ(t))
		}
	})
}

func resultField(i int) string { return "R" + strconv.Itoa(i) }

// fingerprint writes fp, the hash of the arguments analysis chose
// (Method.Fingerprint): the basic kinds through the Hasher's typed methods,
// without allocating; a fmt.Stringer interface through runtime.HashStringer;
// anything else through runtime.HashJSON. The arguments left out are not
// hashed at all, so that they add nothing, not even a constant.
func (e *emitter) fingerprint(g *jen.Group, m *methodInfo, l locals) {
	chain := e.rt("NewHasher").Call()
	declared, bare := false, true // bare: chain is a fresh hasher or fp, nothing added yet
	flush := func() {
		op := ":="
		if declared {
			op = "="
		}
		g.Id(l.fp).Op(op).Add(chain)
		declared, bare = true, true
		chain = jen.Id(l.fp)
	}
	// Each argument hashed by a helper starts its own statement, for readability.
	hashWith := func(helper string, x jen.Code) {
		if !bare {
			flush()
		}
		chain, bare = e.rt(helper).Call(chain, x), false
	}
	add := func(method string, arg jen.Code) {
		chain, bare = chain.Dot(method).Call(arg), false
	}
	for _, a := range m.Fingerprint {
		if a.Out != "" {
			continue
		}
		x := jen.Id(l.params[a.Param])
		t := types.Unalias(m.Params[a.Param].Type)
		if _, isTP := t.(*types.TypeParam); isTP {
			hashWith("HashJSON", x)
			continue
		}
		if isTime(t) {
			add("Time", x)
			continue
		}
		switch u := t.Underlying().(type) {
		case *types.Basic:
			info := u.Info()
			switch {
			case info&types.IsString != 0:
				add("String", convert(x, t, types.Typ[types.String], jen.String()))
			case info&types.IsUnsigned != 0:
				add("Uint64", convert(x, t, types.Typ[types.Uint64], jen.Uint64()))
			case info&types.IsInteger != 0:
				add("Int64", convert(x, t, types.Typ[types.Int64], jen.Int64()))
			case info&types.IsBoolean != 0:
				add("Bool", convert(x, t, types.Typ[types.Bool], jen.Bool()))
			case info&types.IsFloat != 0:
				add("Float64", convert(x, t, types.Typ[types.Float64], jen.Float64()))
			case info&types.IsComplex != 0:
				re, im := jen.Real(x.Clone()), jen.Imag(x.Clone())
				if u.Kind() != types.Complex128 {
					re, im = jen.Float64().Call(re), jen.Float64().Call(im)
				}
				add("Float64", re)
				add("Float64", im)
			}
			continue
		case *types.Slice:
			if types.Identical(u.Elem(), types.Typ[types.Byte]) {
				add("Bytes", convert(x, t, types.NewSlice(types.Typ[types.Byte]), jen.Index().Byte()))
				continue
			}
		case *types.Interface:
			hashWith("HashStringer", x) // the only interfaces analysis lets through
			continue
		}
		hashWith("HashJSON", x)
	}
	if !bare || !declared {
		flush()
	}
}

// convert writes x as type want, converting only when its type is another.
func convert(x *jen.Statement, have, want types.Type, spell *jen.Statement) *jen.Statement {
	if types.Identical(have, want) {
		return x
	}
	return spell.Call(x)
}
