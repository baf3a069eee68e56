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
	st := reflect.TypeFor[Spec]()
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
		var s Spec
		specFromKeys(d.Policy, &s)
		require.False(t, reflect.ValueOf(s).FieldByName(k.Spec).IsZero(), "key %s=%s does not reach Spec.%s", k.Name, k.Example, k.Spec)
	}
}

// TestRuntimeDeclaresTheVersionGeneratedCodeNames: the constant every
// generated file refers to exists in the runtime this generator ships with.
func TestRuntimeDeclaresTheVersionGeneratedCodeNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "GeneratedCodeVersion3", runtimeVersion)
	require.True(t, runtime.GeneratedCodeVersion3)
}
