package generator

import (
	"go/token"
	"go/types"
	"time"

	"github.com/baldur-go/baldur/runtime/backoff"
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
	// Key says how to read the idempotency key; nil without idempotency=.
	Key *Key
	// DLQ says how the arguments are parked and replayed; nil without dlq.
	DLQ *DLQ
	// CacheKey says how to read the cache_key= value; nil without it.
	// CacheParams lists the parameters (indexes in Params) that key the
	// cache without cache_key=: the key is the one of them, or a struct of
	// them all (CacheKeyStruct).
	CacheKey    *Key
	CacheParams []int
	// Fingerprint is what the idempotency fingerprint makes of each
	// parameter but a leading context, in order; nil without idempotency=.
	Fingerprint []FPArg
}

// FPArg is one argument as the idempotency fingerprint sees it.
type FPArg struct {
	Param int    // index in Method.Params
	Name  string // the parameter's name, or "parameter 3" when it has none
	// Out says why the fingerprint leaves the argument out ("is a func");
	// "" when it reads it.
	Out string
	// Unseen lists the parts of a read argument whose content the
	// fingerprint cannot see, spelled from the parameter ("in.Body").
	Unseen []string
}

// DLQ is the argument record of a dlq method: one exported field per
// parameter but a leading context, tagged with the parameter's name so that
// the stored JSON reads like the call, and the signature that ties a parked
// record to the parameter list it was built from.
type DLQ struct {
	Fields []ArgField
	// Signature is the first 16 hex digits of the SHA-256 of the parked
	// parameters' JSON names and types (package paths in full), so that it
	// changes when a record would no longer decode into the parameters, and
	// only then: results, the context and the method's other policies are
	// not in it.
	Signature string
}

// ArgField is one field of the argument record.
type ArgField struct {
	Param int    // index in Method.Params
	Name  string // the Go field name: the parameter's, exported
	JSON  string // the JSON key: the parameter's name, or a<i> when it has none
}

// Key is a resolved idempotency= path: starting at a parameter, the steps
// to the key's value with a nil check wherever a pointer or an interface
// could stop it, then the conversion to a string. The wrapper writes them
// as typed code, so that no key is ever read through reflection.
type Key struct {
	Param int // index in Method.Params
	Steps []KeyStep
	Conv  KeyConv
	Type  types.Type // the value Conv applies to
}

// KeyStep is one step along the path, applied to the expression so far.
type KeyStep struct {
	Kind KeyStepKind
	// Field is the selected field (KeySelect).
	Field string
	// Path is the expression so far, as the user reads it: "req.Order" in
	// the reason "req.Order is nil" (KeyNilCheck).
	Path string
}

// KeyStepKind is what a KeyStep does.
type KeyStepKind uint8

const (
	KeySelect   KeyStepKind = iota // x.Field
	KeyDeref                       // (*x): a pointer to a pointer, which Go does not follow in a selector
	KeyNilCheck                    // x == nil fails the call with runtime.ErrNoKey
)

// KeyConv turns the key's value into the string the gate claims.
type KeyConv uint8

const (
	KeyString   KeyConv = iota // string kinds: as they are
	KeyInt                     // signed integers: strconv.FormatInt
	KeyUint                    // unsigned integers: strconv.FormatUint
	KeyStringer                // x.String()
)

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
	Backoff      backoff.Policy // only meaningful when Attempts > 1
	Timeout      time.Duration
	Bulkhead     int
	BulkheadWait time.Duration
	Compartment  string
	Fallback     string
	// FallbackOn, Deadline and DefaultTimeout: see runtime.ZoneSpec.
	FallbackOn     string
	Deadline       time.Duration
	DefaultTimeout bool
	Idempotency    string
	Operation      string
	IdemTTL        time.Duration
	IdemFailOpen   bool
	IdemReplay     bool
	IdemDegraded   string
	DLQ            bool
	Criticality    string

	Cache        time.Duration
	CacheKey     string
	StaleIfError time.Duration

	Rate        string
	Burst       int
	RateWait    time.Duration
	RateScope   string
	RateBucket  string
	RetryBudget string
	// RetryBudgetScope: see runtime.ZoneSpec.
	RetryBudgetScope string
	Throttle         string
	Concurrency      string

	Hedge      int
	HedgeDelay string
}
