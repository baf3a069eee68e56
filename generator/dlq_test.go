package generator

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -explain shows dlq at the end of the chain, after a fallback, and not on
// a method that lifted it.
func TestExplainShowsDLQ(t *testing.T) {
	res, _ := generateGolden(t)
	lines := strings.Split(res.Explain(), "\n")
	for _, line := range []string{
		"  orders.Place: breaker → retry(2, const(10ms)) → dlq",
		"  orders.Quote: breaker → retry(2, const(10ms)) → fallback(cachedQuote) → dlq",
		"  orders.Plain: breaker → retry(2, const(10ms))",
		"  cache.Put: breaker → dlq",
	} {
		assert.Contains(t, lines, line)
	}
}

// The signature follows what the parked record is decoded into: parameter
// names (the JSON keys) and types, in full. A result, the context's name or
// another policy does not change it, so entries survive such deployments.
func TestDLQSignatureFollowsTheParameters(t *testing.T) {
	src := `package a

import (
	"context"
	other "example.com/x/b"
)

type Order struct{ ID string }

//baldur:protect dlq
type Base interface{ M(ctx context.Context, id string, o Order, n ...int) error }

//baldur:protect dlq
type SameShape interface{ M(c context.Context, id string, o Order, n ...int) (int, error) }

//baldur:protect dlq retry=3 idempotency=id
type OtherPolicies interface{ M(ctx context.Context, id string, o Order, n ...int) error }

//baldur:protect dlq
type Renamed interface{ M(ctx context.Context, key string, o Order, n ...int) error }

//baldur:protect dlq
type Retyped interface{ M(ctx context.Context, id string, o other.Order, n ...int) error }

//baldur:protect dlq
type NotVariadic interface{ M(ctx context.Context, id string, o Order, n []int) error }

//baldur:protect dlq
type Reordered interface{ M(ctx context.Context, o Order, id string, n ...int) error }
`
	dir := writeModule(t, map[string]string{
		"a/a.go": src,
		"b/b.go": "package b\n\ntype Order struct{ ID string }\n",
	})
	res, err := Generate(Config{Dir: dir, Patterns: []string{"./..."}})
	require.NoError(t, err)
	sigs := make(map[string]string)
	for _, pkg := range res.packages {
		for _, f := range pkg.Files {
			for _, it := range f.Interfaces {
				require.NotNil(t, it.Methods[0].DLQ, it.Name)
				sigs[it.Name] = it.Methods[0].DLQ.Signature
			}
		}
	}
	require.Len(t, sigs["Base"], 16)
	assert.Equal(t, sigs["Base"], sigs["SameShape"], "results and the context's name are not in the record")
	assert.Equal(t, sigs["Base"], sigs["OtherPolicies"])
	seen := map[string]string{sigs["Base"]: "Base"}
	for _, name := range []string{"Renamed", "Retyped", "NotVariadic", "Reordered"} {
		prev, dup := seen[sigs[name]]
		assert.False(t, dup, "%s has the signature of %s", name, prev)
		seen[sigs[name]] = name
	}
}

func TestDLQFieldNames(t *testing.T) {
	for in, want := range map[string]string{
		"orderID": "OrderID", "X": "X", "_x": "X_x", "ñame": "Ñame", "名": "X名", "a0": "A0",
	} {
		assert.Equal(t, want, exportedName(in), in)
	}
	// Keys stay unique when a named parameter looks like an unnamed one's.
	dir := writeModule(t, map[string]string{"a/a.go": `package a

import "context"

//baldur:protect dlq
type S interface{ M(_ context.Context, _ string, a1 int, x, X bool) error }
`})
	res, err := Generate(Config{Dir: dir, Patterns: []string{"./..."}})
	require.NoError(t, err)
	m := res.packages[0].Files[0].Interfaces[0].Methods[0]
	assert.Equal(t, []argField{
		{Param: 1, Name: "A11", JSON: "a11"},
		{Param: 2, Name: "A1", JSON: "a1"},
		{Param: 3, Name: "X", JSON: "x"},
		{Param: 4, Name: "X1", JSON: "X"},
	}, m.DLQ.Fields)
}
