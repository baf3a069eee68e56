package annotations

import (
	"go/scanner"
	"go/token"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyTableCoversPolicy fails when a Policy field has no row in the key
// table, or two rows share one field: every field is reached by exactly one key.
func TestKeyTableCoversPolicy(t *testing.T) {
	t.Parallel()
	pt := reflect.TypeFor[Policy]()
	owner := make(map[string]string)
	for i := range keys {
		k := &keys[i]
		var p Policy
		// Write the key's example (or a bare switch) and see which field it sets.
		text := "//baldur:protect " + k.Name
		if k.bare() == "" {
			text += "=" + k.Example
		}
		d, ok, errs := parseText(text)
		require.True(t, ok, k.Name)
		require.Empty(t, errs, k.Name)
		p = d.Policy
		v := reflect.ValueOf(p)
		set := 0
		for f := 0; f < pt.NumField(); f++ {
			if v.Field(f).FieldByName("Set").Bool() {
				set++
				name := pt.Field(f).Name
				require.Empty(t, owner[name], "%s and %s both write Policy.%s", owner[name], k.Name, name)
				owner[name] = k.Name
			}
		}
		require.Equal(t, 1, set, "key %s sets %d Policy fields, want 1", k.Name, set)
		assert.True(t, k.IsSet(&p), k.Name)
		assert.Equal(t, k.Text(&p), p.String(), k.Name)
	}
	for f := 0; f < pt.NumField(); f++ {
		assert.NotEmpty(t, owner[pt.Field(f).Name], "Policy.%s has no row in the key table", pt.Field(f).Name)
	}
}

// TestKeyTableIsConsistent: names are unique, Requires names a key that can
// be switched off, and every key that needs a value has a valid example.
func TestKeyTableIsConsistent(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for i := range keys {
		k := &keys[i]
		require.False(t, seen[k.Name], "key %s listed twice", k.Name)
		seen[k.Name] = true
		assert.NotEmpty(t, k.Want, k.Name)
		if k.Requires != "" {
			dep := KeyByName(k.Requires)
			require.NotNil(t, dep, "%s requires unknown key %s", k.Name, k.Requires)
			assert.Empty(t, dep.Requires, "%s requires %s, which itself requires a key: keep one level", k.Name, dep.Name)
		}
	}
}

// TestCheckLevel changes a row of the table, so it does not run in parallel
// (parallel tests wait until the sequential ones are done).
func TestCheckLevel(t *testing.T) {
	saved := keys[0].Levels
	keys[0].Levels = OnInterface // name=, for this test only
	t.Cleanup(func() { keys[0].Levels = saved })
	require.Equal(t, "name", keys[0].Name)

	fset := token.NewFileSet()
	p := policyAt(t, fset, "retry=3 name=x")
	var errs scanner.ErrorList
	CheckLevel(fset, p, OnInterface, &errs)
	assert.Empty(t, errs)
	CheckLevel(fset, p, OnMethod, &errs)
	assert.Equal(t, []string{"x.go:1:26: name: can only be written on the interface, not on a method"}, messages(errs))
}

// The breaker is the service's: its keys are written on the interface only.
func TestBreakerKeysAreInterfaceOnly(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	p := policyAt(t, fset, "breaker_threshold=10 breaker_recovery=30s")
	var errs scanner.ErrorList
	CheckLevel(fset, p, OnInterface, &errs)
	assert.Empty(t, errs)
	CheckLevel(fset, p, OnMethod, &errs)
	assert.Equal(t, []string{
		"x.go:1:18: breaker_threshold: can only be written on the interface, not on a method",
		"x.go:1:39: breaker_recovery: can only be written on the interface, not on a method",
	}, messages(errs))
}
