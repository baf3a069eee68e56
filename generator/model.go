package generator

import (
	"go/token"
	"go/types"
	"time"

	"github.com/baldur-go/baldur/annotations"
)

// The model is what analysis decides and emission writes: plain values with
// every directive already merged and checked, so that emit.go never needs to
// look at a comment or report an error.

// Package is one loaded package with at least one protected interface.
type Package struct {
	Path  string
	Name  string
	Types *types.Package
	Files []*File // in file-name order
}

// File is one source file and the generated file it produces.
type File struct {
	Source     string // absolute path of x.go
	Output     string // absolute path of x_baldur.go
	Pkg        *Package
	Interfaces []*Interface // in source order
}

// Interface is one interface type carrying //baldur:protect.
type Interface struct {
	Name       string
	Pos        token.Position
	Named      *types.Named
	TypeParams []*types.TypeParam
	Service    string // name=, or the interface name in snake_case

	Wrapper string // ProtectedX: the wrapper struct
	New     string // NewProtectedX: returns the struct
	Protect string // ProtectX: returns the interface, for wire and fx.Decorate
	Methods []*Method
}

// Method is one method of the interface's method set, in source order
// (explicit methods, then each embedded interface's methods).
type Method struct {
	Name    string
	Params  []Param
	Results []types.Type // the last one is error when the method is protected
	// Variadic: the last parameter is ...T; Params holds its type as []T.
	Variadic bool
	// Ctx is the index of a leading context.Context parameter, or -1: the
	// wrapper then runs its policies under context.Background().
	Ctx int

	Delegated bool   // passed through untouched
	Why       string // why it is delegated, for -explain
	Spec      Spec   // the composed policy, when not delegated
	// FallbackGeneric: the fallback is a generic function, called with the
	// interface's type parameters spelled out.
	FallbackGeneric bool
}

// Param is one parameter as the interface declares it; Name is empty for an
// unnamed or blank parameter (the emitter names it so it can be forwarded).
type Param struct {
	Name string
	Type types.Type
}

// Spec mirrors runtime.ZoneSpec field for field (a test keeps them in step):
// it is the literal the generated constructor writes for one method.
type Spec struct {
	Service      string
	Method       string
	Breaker      bool
	Attempts     int
	Backoff      annotations.Backoff // only meaningful when Attempts > 1
	Timeout      time.Duration
	Bulkhead     int
	BulkheadWait time.Duration
	Compartment  string
	Fallback     string
	Idempotency  string
	Operation    string
	DLQ          bool
}
