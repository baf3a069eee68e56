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

// packageInfo is one loaded package with at least one protected interface.
type packageInfo struct {
	Path  string
	Name  string
	Types *types.Package
	Files []*fileInfo // in file-name order
}

// fileInfo is one source file and the generated file it produces.
type fileInfo struct {
	Source     string // absolute path of x.go
	Output     string // absolute path of x_baldur.go
	Pkg        *packageInfo
	Interfaces []*ifaceInfo // in source order
}

// ifaceInfo is one interface type carrying //baldur:protect.
type ifaceInfo struct {
	Name       string
	Pos        token.Position
	Named      *types.Named
	TypeParams []*types.TypeParam
	Service    string // name=, or the interface name in snake_case

	Wrapper string // ProtectedX: the wrapper struct
	New     string // NewProtectedX: returns the struct
	Protect string // ProtectX: returns the interface, for wire and fx.Decorate
	Methods []*methodInfo
}

// methodInfo is one method of the interface's method set, in source order
// (explicit methods, then each embedded interface's methods).
type methodInfo struct {
	Name    string
	Params  []paramInfo
	Results []types.Type // the last one is error when the method is protected
	// Variadic: the last parameter is ...T; Params holds its type as []T.
	Variadic bool
	// Ctx is the index of a leading context.Context parameter, or -1: the
	// wrapper then runs its policies under context.Background().
	Ctx int

	Delegated bool     // passed through untouched
	Why       string   // why it is delegated, for -explain
	Spec      zoneSpec // the composed policy, when not delegated
	// FallbackGeneric: the fallback is a generic function, called with the
	// interface's type parameters spelled out.
	FallbackGeneric bool
	// Key says how to read the idempotency key; nil without idempotency=.
	Key *keyPath
	// DLQ says how the arguments are parked and replayed; nil without dlq.
	DLQ *dlqInfo
	// CacheKey says how to read the cache_key= value; nil without it.
	// CacheParams lists the parameters (indexes in Params) that key the
	// cache without cache_key=: the key is the one of them, or a struct of
	// them all (CacheKeyStruct).
	CacheKey    *keyPath
	CacheParams []int
	// Fingerprint is what the idempotency fingerprint makes of each
	// parameter but a leading context, in order; nil without idempotency=.
	Fingerprint []fpArg
}

// fpArg is one argument as the idempotency fingerprint sees it.
type fpArg struct {
	Param int    // index in Method.Params
	Name  string // the parameter's name, or "parameter 3" when it has none
	// Out says why the fingerprint leaves the argument out ("is a func");
	// "" when it reads it.
	Out string
	// Unseen lists the parts of a read argument whose content the
	// fingerprint cannot see, spelled from the parameter ("in.Body").
	Unseen []string
}

// dlqInfo is the argument record of a dlq method: one exported field per
// parameter but a leading context, tagged with the parameter's name so that
// the stored JSON reads like the call, and the signature that ties a parked
// record to the parameter list it was built from.
type dlqInfo struct {
	Fields []argField
	// Signature is the first 16 hex digits of the SHA-256 of the parked
	// parameters' JSON names and types (package paths in full), so that it
	// changes when a record would no longer decode into the parameters, and
	// only then: results, the context and the method's other policies are
	// not in it.
	Signature string
}

// argField is one field of the argument record.
type argField struct {
	Param int    // index in Method.Params
	Name  string // the Go field name: the parameter's, exported
	JSON  string // the JSON key: the parameter's name, or a<i> when it has none
}

// keyPath is a resolved idempotency= path: starting at a parameter, the steps
// to the key's value with a nil check wherever a pointer or an interface
// could stop it, then the conversion to a string. The wrapper writes them
// as typed code, so that no key is ever read through reflection.
type keyPath struct {
	Param int // index in Method.Params
	Steps []keyStep
	Conv  keyConv
	Type  types.Type // the value Conv applies to
}

// keyStep is one step along the path, applied to the expression so far.
type keyStep struct {
	Kind keyStepKind
	// Field is the selected field (KeySelect).
	Field string
	// Path is the expression so far, as the user reads it: "req.Order" in
	// the reason "req.Order is nil" (KeyNilCheck).
	Path string
}

// keyStepKind is what a KeyStep does.
type keyStepKind uint8

const (
	keySelect   keyStepKind = iota // x.Field
	keyDeref                       // (*x): a pointer to a pointer, which Go does not follow in a selector
	keyNilCheck                    // x == nil fails the call with runtime.ErrNoKey
)

// keyConv turns the key's value into the string the gate claims.
type keyConv uint8

const (
	keyString   keyConv = iota // string kinds: as they are
	keyInt                     // signed integers: strconv.FormatInt
	keyUint                    // unsigned integers: strconv.FormatUint
	keyStringer                // x.String()
)

// paramInfo is one parameter as the interface declares it; Name is empty for an
// unnamed or blank parameter (the emitter names it so it can be forwarded).
type paramInfo struct {
	Name string
	Type types.Type
}

// zoneSpec mirrors runtime.ZoneSpec field for field (a test keeps them in step):
// it is the literal the generated constructor writes for one method.
type zoneSpec struct {
	Service string
	Method  string
	Breaker bool
	// BreakerThreshold and BreakerRecovery: see runtime.ZoneSpec.
	BreakerThreshold int
	BreakerRecovery  time.Duration
	Attempts         int
	Backoff          backoff.Policy // only meaningful when Attempts > 1
	Timeout          time.Duration
	Bulkhead         int
	BulkheadWait     time.Duration
	Compartment      string
	Fallback         string
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
