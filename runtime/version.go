package runtime

// GeneratedCodeVersion3 (and 2 before it) is the contract between this runtime and the code
// baldurgen writes: every generated file refers to it, so a file written by
// a baldurgen whose generated code this runtime no longer supports (or does
// not support yet) fails to compile with this name in the error instead of
// some missing ZoneSpec field. The fix is to run the go generate of the same
// module version as the runtime. When the contract changes, the constant's
// number goes up and the generator writes the new name.
// Version 2: Zone.Fallback takes the call's context (for its span event).
// Version 3: each attempt calls Zone.Inject (fault injection) before the
// method. Code of version 2 still compiles and runs: its zones are never
// injected into (regenerate it to rehearse with baldur chaos).
const (
	GeneratedCodeVersion2 = true
	GeneratedCodeVersion3 = true
)
