package annotations

import (
	"fmt"
	"go/token"
	"strconv"
	"strings"
	"time"
)

// Values of the load-shaping keys (the README's "Load shaping").
const (
	RateScopeLocal = "local"
	RateScopeFleet = "fleet"
	Adaptive       = "adaptive"
)

// The value kinds of the load-shaping keys.
var (
	// rateKind: N/s, N/m or N/h, N a positive whole number and at most one
	// call per nanosecond; off stores "".
	rateKind = kind[string]{parse: (*arg).rate, format: nameText, on: func(s string) bool { return s != "" }}
	// percentKind: P% with 0 < P <= 100; off stores "".
	percentKind = kind[string]{parse: (*arg).percent, format: nameText, on: func(s string) bool { return s != "" }}
)

// modeSwitch: one word that switches the policy on, or off stored as "".
func modeSwitch(word string) kind[string] {
	return kind[string]{
		parse: func(a *arg) (string, bool) {
			switch {
			case isOff(a.val):
				return "", true
			case a.val == word:
				return word, true
			}
			a.fail(a.valOff, "%q is not valid", a.val)
			return "", false
		},
		format: nameText,
		on:     func(s string) bool { return s != "" },
	}
}

func (a *arg) rate() (string, bool) {
	if isOff(a.val) {
		return "", true
	}
	num, unit, ok := strings.Cut(a.val, "/")
	if !ok {
		a.fail(a.valOff, "%q has no period", a.val)
		return "", false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		a.fail(a.valOff, "%q is not a positive whole number of calls", num)
		return "", false
	}
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	switch {
	case per == 0:
		a.fail(a.valOff+len(num)+1, "period %q is not s, m or h", unit)
		return "", false
	case time.Duration(n) > per:
		a.fail(a.valOff, "%s is more than one call per nanosecond", a.val)
		return "", false
	}
	return a.val, true
}

func (a *arg) percent() (string, bool) {
	if isOff(a.val) {
		return "", true
	}
	num, ok := strings.CutSuffix(a.val, "%")
	if !ok {
		a.fail(a.valOff, "%q has no %%", a.val)
		return "", false
	}
	p, err := strconv.ParseFloat(num, 64)
	if err != nil || p <= 0 || p > 100 {
		a.fail(a.valOff, "%q is not above 0%% and at most 100%%", a.val)
		return "", false
	}
	return a.val, true
}

// budgetScopeConflict: retry_budget_scope tunes a retry_budget written
// beside it (a key requires one key only, so retry is the Requires).
func budgetScopeConflict(p *Policy, _ func(token.Pos) string) string {
	if p.RetryBudgetScope.Set && !p.RetryBudget.Set {
		return fmt.Sprintf("retry_budget_scope=%s tunes retry_budget, which is not written here; "+
			"write retry_budget=P%% beside it", p.RetryBudgetScope.Val)
	}
	return ""
}

// concurrencyConflict: an adaptive limit and a fixed bulkhead both bound the
// calls in flight of one method.
func concurrencyConflict(p *Policy, lineCol func(token.Pos) string) string {
	if p.Concurrency.Val != "" && p.Bulkhead.Set && p.Bulkhead.Val != 0 {
		return fmt.Sprintf("concurrency=adaptive and bulkhead=%d (written at %s) both bound the calls in flight; "+
			"keep one (bulkhead=off or concurrency=off on the method)", p.Bulkhead.Val, lineCol(p.Bulkhead.Pos))
	}
	return ""
}

// Bounds of the result cache's durations.
const (
	maxCache = 24 * time.Hour
	maxStale = 7 * 24 * time.Hour
)

// cacheConflict: a cached answer skips the call, which a write guarded by
// idempotency= or parked by dlq must make.
func cacheConflict(p *Policy, lineCol func(token.Pos) string) string {
	switch {
	case p.Cache.Val == 0:
	case p.Idempotency.Val != "":
		return fmt.Sprintf("cache=%s and idempotency=%s (written at %s): a cached answer skips the call, and idempotency= guards "+
			"a write that must run once; cache a read, or remove cache", durText(p.Cache.Val), p.Idempotency.Val, lineCol(p.Idempotency.Pos))
	case p.DLQ.Val:
		return fmt.Sprintf("cache=%s and dlq (written at %s): a parked call is replayed to make it, which a cached read never needs; "+
			"keep one (cache=off or dlq=off on the method)", durText(p.Cache.Val), lineCol(p.DLQ.Pos))
	}
	return ""
}
