package generator

import (
	"go/scanner"
	"go/token"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime"
)

// TestKeyTableSpecFields: every key that names a Spec field names one that
// exists and has the type of the key's value, so specFromKeys cannot panic.
func TestKeyTableSpecFields(t *testing.T) {
	t.Parallel()
	st := reflect.TypeFor[zoneSpec]()
	for _, k := range annotations.Keys() {
		if k.Spec == "" {
			continue
		}
		f, ok := st.FieldByName(k.Spec)
		require.True(t, ok, "key %s names Spec.%s, which does not exist", k.Name, k.Spec)
		text := "//baldur:protect " + k.Name
		if k.Example != "" {
			text += "=" + k.Example
		}
		var errs scanner.ErrorList
		d, ok := annotations.ParseLine(token.NewFileSet(), text, token.NoPos, &errs)
		require.True(t, ok, text)
		require.Empty(t, errs, text)
		require.Equal(t, f.Type, reflect.TypeOf(k.Value(&d.Policy)), "key %s: Spec.%s has another type than the key's value", k.Name, k.Spec)
		var s zoneSpec
		specFromKeys(d.Policy, &s)
		require.False(t, reflect.ValueOf(s).FieldByName(k.Spec).IsZero(), "key %s=%s does not reach Spec.%s", k.Name, k.Example, k.Spec)
	}
}

// TestRuntimeDeclaresTheVersionGeneratedCodeNames: the constant every
// generated file refers to exists in the runtime this generator ships with.
func TestRuntimeDeclaresTheVersionGeneratedCodeNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "GeneratedCodeVersion4", runtimeVersion)
	require.True(t, runtime.GeneratedCodeVersion4)
}

// TestChainShowsEveryKey: every key that reaches a Spec field changes what
// -explain (Spec.Chain) prints for a method, next to the key it tunes. The
// chain is written by hand; this is what keeps it from missing a new key.
func TestChainShowsEveryKey(t *testing.T) {
	t.Parallel()
	// chain is -explain's chain for a method with the directive text; ok is
	// false when the text does not parse.
	chain := func(text string) (c string, ok bool) {
		var errs scanner.ErrorList
		d, ok := annotations.ParseLine(token.NewFileSet(), "//baldur:protect "+text, token.NoPos, &errs)
		if !ok || len(errs) > 0 {
			return "", false
		}
		s := specOf("s", "M", d.Policy)
		return s.Chain(), true
	}
	written := func(k *annotations.Key) string {
		if k.Example == "" {
			return k.Name
		}
		return k.Name + "=" + k.Example
	}
	for _, k := range annotations.Keys() {
		switch k.Name {
		case "name": // the service's name: -explain prints it before the chain
			continue
		case "backoff", "hedge_delay": // their examples are the defaults, which retry(...) and hedge(...) always print
			continue
		case "idempotent": // a declaration hedge= reads at generate time; nothing runs for it
			continue
		}
		var base string // the keys k requires, written with their examples
		for r := annotations.KeyByName(k.Requires); r != nil; r = annotations.KeyByName(r.Requires) {
			base = written(r) + " " + base
		}
		if k.Name == "retry_budget_scope" { // tunes retry_budget, which the table cannot require (one level)
			base += "retry_budget=20% "
		}
		with, ok := chain(base + written(&k))
		require.True(t, ok, "%s%s does not parse", base, written(&k))
		// Against the key switched off when it can be (breaker is on by
		// default), else against the keys it requires alone.
		without, ok := chain(base + k.Name + "=off")
		if !ok {
			without, _ = chain(base)
		}
		require.NotEqual(t, without, with,
			"-explain does not show %s%s: add it to zoneSpec.Chain (generator/explain.go)", base, written(&k))
	}
}
