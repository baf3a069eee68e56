// Package annotations parses and validates the //baldur:protect and //baldur:skip
// directives. It turns comment lists into a plain Policy value and reports every
// malformed argument with its file:line:col position; it knows nothing of types.
//
// One table, keys in keys.go, drives everything the package does with a key:
// parsing and its error messages, the duplicate check, Merge (interface-level
// under method-level), Policy.String (what baldurgen -explain and the tests
// print), Check (a key that tunes another one that is unset or off, and
// conflicting values), CheckLevel (where a key may be written), and the
// generator's rules: which keys ask for a policy (Feature) and which Spec
// (runtime.ZoneSpec) field takes a key's value.
//
// # How to add a key
//
//  1. Policy (policy.go): add a field Opt[T], with a one-line comment giving
//     the syntax, e.g. `Burst Opt[int] // burst=1..1000000`.
//  2. keys (keys.go): add one row where the README's table lists the key:
//     Name; Want (what it accepts, ends every error about its value);
//     Example (a valid value; empty for an on/off switch); the value kind
//     and field, e.g. opt(count(1_000_000), func(p *Policy) *Opt[int] { return &p.Burst }).
//     Kinds: onOff, count(hi), duration(offAllowed, limit), label(upper),
//     path(dotted), oneOf(words...), backoffKind; a new kind is a parse, a
//     format and an on function next to them. Then, as needed:
//     Levels (OnInterface or OnMethod; zero means both),
//     Requires (the key it tunes: an error when that key is unset or off, and
//     dropped by Merge when a method switches that key off),
//     Enable (how to switch this key on, quoted by keys that require it),
//     Conflict (a func returning a message for a forbidden combination),
//     Feature (it asks for a policy by itself, so it needs an error result),
//     Spec (the ZoneSpec field that takes the value when the key is on),
//     Runtime (an operator may override it while the service runs), Shared
//     (what it tunes when the service's methods share it: refused for one
//     method and in a canary), NoOff (why an override may not switch it off).
//  3. runtime.ZoneSpec and the generator's zoneSpec (generator/model.go): add the field named by Spec, same
//     name and type in both (TestSpecMirrorsZoneSpec, TestKeyTableSpecFields);
//     its zero value must mean "not written". The generator copies the
//     value and writes it in the ZoneSpec literal without further code.
//  4. The runtime's use of the field; zoneSpec.Chain (generator/explain.go) if -explain should
//     show it; a rule in generator/rules.go only if it depends on the method's
//     types (as timeout needs a context); a golden case in generator/golden_test.go.
//  5. The README's directive table, and a line in annotations/parse_test.go's
//     TestParseLineAcceptsEveryKey and rejection table.
//
// TestKeyTableCoversPolicy fails when a Policy field has no row; nothing else
// in this package needs to change.
package annotations
