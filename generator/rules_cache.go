package generator

import (
	"fmt"
	"go/types"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/backoff"
)

// cache: one call's results answer every call of its key until they
// expire, so the method must return some besides the error, each must be
// data a second caller can use (no channel, func, stream or reader), and
// the key must be readable: a cache_key= path, or parameters that compare
// by value.
func (r rule) cache(p annotations.Policy) {
	o, m := p.Cache, r.m
	text := "cache=" + backoff.ShortDuration(o.Val)
	if len(m.Results) < 2 {
		r.a.errs.errorf(o.Pos, "%s cannot apply to %s: it returns only an error, so there is no result to cache; %s", text, m.Name, r.lift("cache"))
		return
	}
	for i, t := range m.Results[:len(m.Results)-1] {
		part, ok := r.a.outlives(t)
		if !ok && isReader(t) {
			part, ok = outliving{"a reader", r.a.typeString(t)}, true
		}
		if ok {
			r.a.errs.errorf(o.Pos, "%s cannot apply to %s: it returns %s (result %d, %s), which the first caller uses up, and a cached result is handed to every call of its key; %s",
				text, m.Name, part.what, i+1, part.detail, r.lift("cache"))
		}
	}
	if p.CacheKey.Set && p.CacheKey.Val != "" {
		m.CacheKey = r.keyPath("cache_key", p.CacheKey)
		return
	}
	for i, prm := range m.Params {
		if i == m.Ctx {
			continue
		}
		if why := r.a.uncomparable(prm.Type); why != "" {
			r.a.errs.errorf(o.Pos, "%s cannot key %s by its parameters: parameter %s is %s; name the key with cache_key=<param or param.Field>",
				text, m.Name, paramLabel(i, prm.Name), why)
			continue
		}
		m.CacheParams = append(m.CacheParams, i)
	}
}

// uncomparable says why values of t cannot key a cache by their content,
// or "" when == compares them by value.
func (a *analyzer) uncomparable(t types.Type) string {
	ts := a.typeString(t)
	if _, ok := types.Unalias(t).(*types.TypeParam); ok {
		return ts + ", a type parameter, whose values may not compare by content"
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if u.Kind() == types.UnsafePointer {
			return ts + ", a pointer, which compares by address"
		}
		return ""
	case *types.Pointer:
		return ts + ", a pointer, which compares by address, not by what it points to"
	case *types.Interface:
		return ts + ", an interface, which may hold a pointer or a value that cannot compare"
	case *types.Slice, *types.Map, *types.Signature, *types.Chan:
		return ts + ", which cannot be a map key"
	case *types.Array:
		if why := a.uncomparable(u.Elem()); why != "" {
			return fmt.Sprintf("%s, whose elements are %s", ts, why)
		}
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if why := a.uncomparable(u.Field(i).Type()); why != "" {
				return fmt.Sprintf("%s, whose field %s is %s", ts, u.Field(i).Name(), why)
			}
		}
	}
	return ""
}
