package runtime

// GeneratedCodeVersion4 (and 2 and 3 before it) is the contract between this
// runtime and the code baldurgen writes: every generated file refers to it,
// so a file written by a baldurgen whose generated code this runtime no
// longer supports (or does not support yet) fails to compile with this name
// in the error instead of some missing ZoneSpec field. The fix is to run the
// go generate of the same module version as the runtime. When the contract
// changes, the constant's number goes up and the generator writes the new
// name.
// Version 2: Zone.Fallback takes the call's context (for its span event).
// Version 3: each attempt calls Zone.Inject (fault injection) before the
// method. Code of version 2 still compiles and runs: its zones are never
// injected into (regenerate it to rehearse with baldur chaos).
// Version 4: each attempt hands its permit to Zone.WithTimeoutFor or, when
// hedged, to HedgeFor, so that a canary may change timeout=, and asks for it
// with Zone.EnterNext given the attempt before's, so that a retry stays in
// its call's canary cohorts. Code of version 3 still compiles and runs
// (Zone.Enter, WithTimeout, Hedge): its attempts take the baseline's
// timeout= whatever the call's canary cohort, and each attempt is drawn into
// the cohorts anew.
const (
	GeneratedCodeVersion2 = true
	GeneratedCodeVersion3 = true
	GeneratedCodeVersion4 = true
)
