package annotations

import (
	"fmt"
	"go/scanner"
	"go/token"
	"slices"
	"strings"
)

// OverrideError is why a run-time override (the README's "Policy overrides")
// was refused: every problem found, each in the words generate time uses
// for the same mistake, without a file position.
type OverrideError struct {
	Problems []string
}

func (e *OverrideError) Error() string { return strings.Join(e.Problems, "; ") }

// ParseOverride parses a run-time override such as "retry=5 timeout=2s":
// the arguments of a //baldur:protect line, in the same grammar and with the
// same error messages. Keys the table does not mark Runtime are refused with
// the reason. CheckOverride then checks it against a method's directive. The
// error is an *OverrideError.
func ParseOverride(text string) (Policy, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Policy{}, &OverrideError{Problems: []string{"an override needs at least one key=value, such as retry=5 or timeout=2s"}}
	}
	if strings.HasPrefix(text, prefix) {
		return Policy{}, &OverrideError{Problems: []string{fmt.Sprintf("write the keys alone, such as retry=5, not a %s... line", prefix)}}
	}
	var errs scanner.ErrorList
	d, _ := ParseLine(nil, prefix+"protect "+text, token.NoPos, &errs)
	p := d.Policy
	var problems []string
	for _, e := range errs {
		problems = append(problems, e.Msg)
	}
	for i := range keys {
		k := &keys[i]
		if k.IsSet(&p) && !k.Runtime {
			problems = append(problems, fmt.Sprintf("%s: cannot change at run time: it changes the code baldurgen generates; "+
				"change the directive and regenerate (keys an override takes: %s)", k.Name, strings.Join(RuntimeKeys(), ", ")))
		} else if k.NoOff != "" && k.IsSet(&p) && !k.On(&p) {
			problems = append(problems, fmt.Sprintf("%s: cannot be switched off at run time: %s", k.Name, k.NoOff))
		}
	}
	if len(problems) > 0 {
		return Policy{}, &OverrideError{Problems: problems}
	}
	return p, nil
}

// CheckOverride checks an override (from ParseOverride) merged over base,
// what a method's directive says for the keys an override may meet (retry,
// backoff, timeout, deadline, bulkhead, compartment, bulkhead_wait and the
// breaker's), as
// generate time checks a merged directive: backoff needs retry, a deadline
// must be longer than the timeout, and so on. The error is an *OverrideError.
func CheckOverride(base, override Policy) error {
	var found scanner.ErrorList
	merged := Merge(base, override)
	checkTable(nil, &merged, &found)
	if len(found) == 0 {
		return nil
	}
	e := &OverrideError{}
	for _, f := range found {
		e.Problems = append(e.Problems, f.Msg)
	}
	return e
}

// RuntimeKeys lists the keys the table marks Runtime, in table order.
func RuntimeKeys() []string {
	var out []string
	for i := range keys {
		if keys[i].Runtime {
			out = append(out, keys[i].Name)
		}
	}
	return out
}

// The config types of the Runtime keys (Key.Rollout): a canary rollout
// changes one or more of them on a scope, and a scope holds one rollout per
// type at a time.
const (
	RolloutRetry    = "retry"
	RolloutTimeout  = "timeout"
	RolloutBreaker  = "breaker"
	RolloutBulkhead = "bulkhead"
)

// RolloutTypes lists the config types of the Runtime keys written in p,
// each once, in table order.
func RolloutTypes(p Policy) []string {
	var out []string
	for i := range keys {
		k := &keys[i]
		if k.Runtime && k.IsSet(&p) && !slices.Contains(out, k.Rollout) {
			out = append(out, k.Rollout)
		}
	}
	return out
}

// CheckMethodOverride refuses, in an override of one method of service, the
// keys whose setting the service's methods share (Key.Shared): the breaker
// and the compartment are the service's. The error is an *OverrideError.
func CheckMethodOverride(service string, o Policy) error {
	return refuseShared(o, func(k *Key) string {
		return fmt.Sprintf("%s: cannot be overridden for one method: %s is shared by all the service's methods; "+
			"override the service (%s) or *", k.Name, k.Shared, service)
	})
}

// SetsShared reports whether o sets a key whose setting the service's
// methods share (Key.Shared): a canary of it cannot split calls, one
// breaker or compartment serving them all, so it splits processes.
func SetsShared(o Policy) bool {
	for i := range keys {
		if k := &keys[i]; k.Shared != "" && k.IsSet(&o) {
			return true
		}
	}
	return false
}

func refuseShared(o Policy, msg func(k *Key) string) error {
	var problems []string
	for i := range keys {
		if k := &keys[i]; k.Shared != "" && k.IsSet(&o) {
			problems = append(problems, msg(k))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &OverrideError{Problems: problems}
}
