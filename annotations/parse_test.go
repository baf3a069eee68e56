package annotations

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// parseText parses text as a comment starting at line 1, column 1 of x.go,
// so that an error's column is the byte offset in text plus one.
func parseText(text string) (Directive, bool, []string) {
	fset := token.NewFileSet()
	f := fset.AddFile("x.go", -1, len(text)+1)
	var errs scanner.ErrorList
	d, ok := ParseLine(fset, text, f.Pos(0), &errs)
	return d, ok, messages(errs)
}

func messages(errs scanner.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func val[T any](v T) Opt[T] { return Opt[T]{Set: true, Val: v} }

// noPos zeroes every Opt's Pos so that values can be compared alone.
func noPos(p Policy) Policy {
	v := reflect.ValueOf(&p).Elem()
	for i := 0; i < v.NumField(); i++ {
		v.Field(i).FieldByName("Pos").SetInt(0)
	}
	return p
}

var goodLines = []struct {
	text string
	want Policy
}{
	{"//baldur:protect", Policy{}},
	{"//baldur:protect   ", Policy{}},
	{"//baldur:protect name=payments", Policy{Name: val("payments")}},
	{"//baldur:protect name=a-b_c.9", Policy{Name: val("a-b_c.9")}},
	{"//baldur:protect breaker", Policy{Breaker: val(true)}},
	{"//baldur:protect breaker=on", Policy{Breaker: val(true)}},
	{"//baldur:protect breaker=off", Policy{Breaker: val(false)}},
	{"//baldur:protect breaker=true", Policy{Breaker: val(true)}},
	{"//baldur:protect breaker=false", Policy{Breaker: val(false)}},
	{"//baldur:protect breaker_threshold=1", Policy{BreakerThreshold: val(1)}},
	{"//baldur:protect breaker_threshold=1000 breaker_recovery=1h", Policy{BreakerThreshold: val(1000), BreakerRecovery: val(time.Hour)}},
	{"//baldur:protect breaker_recovery=250ms", Policy{BreakerRecovery: val(250 * time.Millisecond)}},
	{"//baldur:protect retry=1", Policy{Retry: val(1)}},
	{"//baldur:protect retry=100", Policy{Retry: val(100)}},
	{"//baldur:protect retry=off", Policy{Retry: val(0)}},
	{"//baldur:protect retry=false", Policy{Retry: val(0)}},
	{"//baldur:protect retry=3 backoff=exp(100ms,10s)", Policy{Retry: val(3),
		Backoff: val(backoff.Policy{Kind: backoff.Exp, Base: 100 * time.Millisecond, Max: 10 * time.Second})}},
	{"//baldur:protect retry=3 backoff=exp(1s,1s)", Policy{Retry: val(3),
		Backoff: val(backoff.Policy{Kind: backoff.Exp, Base: time.Second, Max: time.Second})}},
	{"//baldur:protect retry=3 backoff=exp(1ms,1h)", Policy{Retry: val(3),
		Backoff: val(backoff.Policy{Kind: backoff.Exp, Base: time.Millisecond, Max: time.Hour})}},
	{"//baldur:protect retry=3 backoff=const(250ms)", Policy{Retry: val(3),
		Backoff: val(backoff.Policy{Kind: backoff.Const, Base: 250 * time.Millisecond})}},
	{"//baldur:protect timeout=5s", Policy{Timeout: val(5 * time.Second)}},
	{"//baldur:protect timeout=1.5s", Policy{Timeout: val(1500 * time.Millisecond)}},
	{"//baldur:protect timeout=24h", Policy{Timeout: val(24 * time.Hour)}},
	{"//baldur:protect timeout=off", Policy{Timeout: val(time.Duration(0))}},
	{"//baldur:protect fallback=cachedBalance", Policy{Fallback: val("cachedBalance")}},
	{"//baldur:protect fallback=off", Policy{Fallback: val("")}},
	{"//baldur:protect idempotency=orderID", Policy{Idempotency: val("orderID")}},
	{"//baldur:protect idempotency=req.Order.ID", Policy{Idempotency: val("req.Order.ID")}},
	{"//baldur:protect idempotency=off", Policy{Idempotency: val("")}},
	{"//baldur:protect idempotency=id operation=Charge.v2", Policy{Idempotency: val("id"), Operation: val("Charge.v2")}},
	{"//baldur:protect dlq", Policy{DLQ: val(true)}},
	{"//baldur:protect dlq=off", Policy{DLQ: val(false)}},
	{"//baldur:protect bulkhead=1", Policy{Bulkhead: val(1)}},
	{"//baldur:protect bulkhead=1000000", Policy{Bulkhead: val(1000000)}},
	{"//baldur:protect bulkhead=off", Policy{Bulkhead: val(0)}},
	{"//baldur:protect bulkhead=8 bulkhead_wait=50ms", Policy{Bulkhead: val(8), BulkheadWait: val(50 * time.Millisecond)}},
	{"//baldur:protect idempotency=id idem_ttl=2h", Policy{Idempotency: val("id"), IdemTTL: val(2 * time.Hour)}},
	{"//baldur:protect idempotency=id idempotency_fail_open", Policy{Idempotency: val("id"), IdemFailOpen: val(true)}},
	{"//baldur:protect idempotency=id idempotency_fail_open=off", Policy{Idempotency: val("id"), IdemFailOpen: val(false)}},
	{"//baldur:protect idempotency=id idempotency_replay", Policy{Idempotency: val("id"), IdemReplay: val(true)}},
	{"//baldur:protect idempotency=id idempotency_replay=false", Policy{Idempotency: val("id"), IdemReplay: val(false)}},
	{"//baldur:protect idempotency=id idempotency_degraded=refuse", Policy{Idempotency: val("id"), IdemDegraded: val("refuse")}},
	{"//baldur:protect criticality=high", Policy{Criticality: val("high")}},
	{"//baldur:protect criticality=low retry=2", Policy{Criticality: val("low"), Retry: val(2)}},
	{"//baldur:protect idempotency=id idempotency_degraded=serve", Policy{Idempotency: val("id"), IdemDegraded: val("serve")}},
	{"//baldur:protect deadline=30s", Policy{Deadline: val(30 * time.Second)}},
	{"//baldur:protect deadline=off", Policy{Deadline: val(time.Duration(0))}},
	{"//baldur:protect fallback=fb fallback_on=bulkhead", Policy{Fallback: val("fb"), FallbackOn: val("bulkhead")}},
	{"//baldur:protect fallback=fb fallback_on=timeout,open,error,open", Policy{Fallback: val("fb"), FallbackOn: val("open,timeout,error")}},
	{"//baldur:protect compartment=database", Policy{Compartment: val("database")}},
	{"//baldur:protect compartment=external_api", Policy{Compartment: val("external_api")}},
	{"//baldur:protect compartment=off", Policy{Compartment: val("")}},
	{"//baldur:protect\tname=x \t retry=2", Policy{Name: val("x"), Retry: val(2)}},
}

func TestParseLineAcceptsEveryKey(t *testing.T) {
	for _, tc := range goodLines {
		t.Run(tc.text, func(t *testing.T) {
			d, ok, errs := parseText(tc.text)
			require.True(t, ok)
			require.Empty(t, errs)
			assert.Equal(t, Protect, d.Kind)
			assert.Equal(t, tc.want, noPos(d.Policy))
		})
	}
}

var badLines = []struct {
	text string
	errs []string
}{
	// The directive itself.
	{"//baldur:protct retry=3", []string{`x.go:1:10: unknown directive "//baldur:protct"; want //baldur:protect or //baldur:skip`}},
	{"//baldur:", []string{`x.go:1:3: empty directive "//baldur:"; want //baldur:protect or //baldur:skip`}},
	{"//baldur: protect", []string{`x.go:1:3: empty directive "//baldur:"; want //baldur:protect or //baldur:skip`}},
	{"//baldur:protect,retry=3", []string{`x.go:1:10: unknown directive "//baldur:protect,retry=3"; want //baldur:protect or //baldur:skip`}},

	// Shape of the arguments.
	{"//baldur:protect =3", []string{`x.go:1:18: "=3" has no key; want key=value`}},
	{"//baldur:protect =", []string{`x.go:1:18: "=" has no key; want key=value`}},
	{"//baldur:protect retry = 3", []string{`x.go:1:24: no spaces allowed around "="; write retry=3`}},
	{"//baldur:protect retry =3 dlq", []string{`x.go:1:24: no spaces allowed around "="; write retry=3`}},
	{"//baldur:protect dlq =", []string{`x.go:1:22: no spaces allowed around "="; write dlq=<value>`}},
	{"//baldur:protect retry= 3", []string{`x.go:1:18: no spaces allowed after "="; write retry=3`}},
	{"//baldur:protect retry= dlq", []string{`x.go:1:18: retry: missing value after "="; want 1..100 or off`}},
	{"//baldur:protect retry=", []string{`x.go:1:18: retry: missing value after "="; want 1..100 or off`}},
	{"//baldur:protect retry", []string{`x.go:1:18: retry: needs a value, such as retry=3; want 1..100 or off`}},
	{"//baldur:protect timeout", []string{`x.go:1:18: timeout: needs a value, such as timeout=5s; want a Go duration such as 250ms or 5s, or off`}},
	{"//baldur:protect retry=3 // three tries", []string{`x.go:1:26: a directive line cannot carry a trailing comment; move the comment to its own line`}},

	// Unknown keys.
	{"//baldur:protect retires=3", []string{`x.go:1:18: unknown key "retires"; did you mean "retry"?`}},
	{"//baldur:protect timout=1s", []string{`x.go:1:18: unknown key "timout"; did you mean "timeout"?`}},
	{"//baldur:protect Retry=3", []string{`x.go:1:18: unknown key "Retry"; did you mean "retry"?`}},
	{"//baldur:protect circuit_breaker", []string{`x.go:1:18: unknown key "circuit_breaker"; did you mean "breaker"?`}},
	{"//baldur:protect x=1", []string{`x.go:1:18: unknown key "x"; want one of name, breaker, breaker_threshold, breaker_recovery, retry, backoff, timeout, deadline, fallback, fallback_on, idempotency, operation, dlq, bulkhead, compartment, bulkhead_wait, idem_ttl, idempotency_fail_open, idempotency_replay, idempotency_degraded, criticality, cache, cache_key, stale_if_error, rate, burst, rate_wait, rate_scope, retry_budget, retry_budget_scope, throttle, concurrency, hedge, hedge_delay, idempotent`}},

	// Duplicates.
	{"//baldur:protect retry=3 retry=4", []string{`x.go:1:26: duplicate key "retry"; first written at 1:18`}},
	{"//baldur:protect dlq dlq=off", []string{`x.go:1:22: duplicate key "dlq"; first written at 1:18`}},

	// name and operation.
	{"//baldur:protect name=Payments", []string{`x.go:1:23: name: "Payments" is not valid; want lower-case letters, digits, "_", "." or "-"`}},
	{"//baldur:protect name=pay/ments", []string{`x.go:1:23: name: "pay/ments" is not valid; want lower-case letters, digits, "_", "." or "-"`}},
	{"//baldur:protect name", []string{`x.go:1:18: name: needs a value, such as name=payments; want lower-case letters, digits, "_", "." or "-"`}},
	{"//baldur:protect operation=a:b", []string{`x.go:1:28: operation: "a:b" is not valid; want letters, digits, "_", "." or "-"`}},

	// Switches.
	{"//baldur:protect breaker=yes", []string{`x.go:1:26: breaker: "yes" is not valid; want on or off`}},
	{"//baldur:protect dlq=ON", []string{`x.go:1:22: dlq: "ON" is not valid; want on or off`}},
	{"//baldur:protect idempotency_fail_open=1", []string{`x.go:1:40: idempotency_fail_open: "1" is not valid; want on or off`}},
	{"//baldur:protect idempotency_replay=no", []string{`x.go:1:37: idempotency_replay: "no" is not valid; want on or off`}},
	{"//baldur:protect idempotency_degraded=refuze", []string{`x.go:1:39: idempotency_degraded: "refuze" is not valid; want refuse or serve`}},
	{"//baldur:protect idempotency_degraded", []string{`x.go:1:18: idempotency_degraded: needs a value, such as idempotency_degraded=refuse; want refuse or serve`}},
	{"//baldur:protect criticality", []string{`x.go:1:18: criticality: needs a value, such as criticality=high; want high, normal or low`}},
	{"//baldur:protect criticality=urgent", []string{`x.go:1:30: criticality: "urgent" is not valid; want high, normal or low`}},

	// Counts.
	{"//baldur:protect retry=0", []string{`x.go:1:24: retry: 0 is out of range; want 1..100 or off`}},
	{"//baldur:protect retry=101", []string{`x.go:1:24: retry: 101 is out of range; want 1..100 or off`}},
	{"//baldur:protect retry=-1", []string{`x.go:1:24: retry: -1 is out of range; want 1..100 or off`}},
	{"//baldur:protect retry=99999999999999999999", []string{`x.go:1:24: retry: 99999999999999999999 is out of range; want 1..100 or off`}},
	{"//baldur:protect retry=three", []string{`x.go:1:24: retry: "three" is not a number; want 1..100 or off`}},
	{"//baldur:protect retry=on", []string{`x.go:1:24: retry: "on" needs a number; want 1..100 or off`}},
	{"//baldur:protect breaker_threshold=0", []string{`x.go:1:36: breaker_threshold: 0 is out of range; want 1..1000`}},
	{"//baldur:protect breaker_threshold=1001", []string{`x.go:1:36: breaker_threshold: 1001 is out of range; want 1..1000`}},
	{"//baldur:protect breaker_threshold=off", []string{`x.go:1:36: breaker_threshold: "off" is not a number; want 1..1000`}},
	{"//baldur:protect breaker_recovery=2h", []string{`x.go:1:35: breaker_recovery: 2h is too long; want at most 1h`}},
	{"//baldur:protect breaker_recovery=0s", []string{`x.go:1:35: breaker_recovery: 0s must be greater than 0; want a Go duration such as 30s, at most 1h`}},
	{"//baldur:protect breaker_recovery=off", []string{`x.go:1:35: breaker_recovery: "off" is not a Go duration; want a Go duration such as 30s, at most 1h`}},
	{"//baldur:protect bulkhead=0", []string{`x.go:1:27: bulkhead: 0 is out of range; want 1..1000000 or off`}},
	{"//baldur:protect bulkhead=1000001", []string{`x.go:1:27: bulkhead: 1000001 is out of range; want 1..1000000 or off`}},

	// Durations.
	{"//baldur:protect timeout=5", []string{`x.go:1:26: timeout: "5" has no unit; want 5s or 5ms, for example`}},
	{"//baldur:protect timeout=soon", []string{`x.go:1:26: timeout: "soon" is not a Go duration; want a Go duration such as 250ms or 5s, or off`}},
	{"//baldur:protect timeout=0s", []string{`x.go:1:26: timeout: 0s must be greater than 0; want a Go duration such as 250ms or 5s, or off`}},
	{"//baldur:protect timeout=0", []string{`x.go:1:26: timeout: 0 must be greater than 0; want a Go duration such as 250ms or 5s, or off`}},
	{"//baldur:protect timeout=-1s", []string{`x.go:1:26: timeout: -1s must be greater than 0; want a Go duration such as 250ms or 5s, or off`}},
	{"//baldur:protect timeout=25h", []string{`x.go:1:26: timeout: 25h is too long; want at most 24h`}},
	{"//baldur:protect bulkhead=2 bulkhead_wait=off", []string{`x.go:1:43: bulkhead_wait: "off" is not a Go duration; want a Go duration such as 250ms or 5s`}},
	{"//baldur:protect bulkhead=2 bulkhead_wait=25h", []string{`x.go:1:43: bulkhead_wait: 25h is too long; want at most 24h`}},
	{"//baldur:protect idem_ttl=0s", []string{`x.go:1:27: idem_ttl: 0s must be greater than 0; want a Go duration such as 30m`}},
	{"//baldur:protect idem_ttl=169h", []string{`x.go:1:27: idem_ttl: 169h is too long; want at most 168h`}},

	{"//baldur:protect deadline=0s", []string{`x.go:1:27: deadline: 0s must be greater than 0; want a Go duration such as 250ms or 5s, or off`}},
	{"//baldur:protect deadline=25h", []string{`x.go:1:27: deadline: 25h is too long; want at most 24h`}},
	{"//baldur:protect deadline=10", []string{`x.go:1:27: deadline: "10" has no unit; want 10s or 10ms, for example`}},

	// Lists and compartments.
	{"//baldur:protect fallback=fb fallback_on=bulkhead,opne", []string{`x.go:1:51: fallback_on: "opne" is not a failure kind; want a comma-separated list of open, bulkhead, timeout, error`}},
	{"//baldur:protect fallback=fb fallback_on=bulkhead,,open", []string{`x.go:1:51: fallback_on: an empty item in "bulkhead,,open"; want a comma-separated list of open, bulkhead, timeout, error`}},
	{"//baldur:protect fallback=fb fallback_on", []string{`x.go:1:30: fallback_on: needs a value, such as fallback_on=bulkhead; want a comma-separated list of open, bulkhead, timeout, error`}},
	{"//baldur:protect compartment=Database", []string{`x.go:1:30: compartment: "Database" is not valid; want a registered compartment: lower-case letters, digits, "_", "." or "-", or off`}},
	{"//baldur:protect compartment", []string{`x.go:1:18: compartment: needs a value, such as compartment=database; want a registered compartment: lower-case letters, digits, "_", "." or "-", or off`}},

	// Backoff: errors point inside the parentheses.
	{"//baldur:protect backoff=exp(1s, 10s)", []string{`x.go:1:33: backoff: no spaces allowed inside "exp(1s, 10s)"; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=exp(1s,10s dlq", []string{`x.go:1:26: backoff: "exp(1s,10s" is missing ")"; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=linear(1s)", []string{`x.go:1:26: backoff: "linear(1s)" is not valid; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=off", []string{`x.go:1:26: backoff: "off" is not valid; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=exp(1s)", []string{`x.go:1:26: backoff: exp takes two durations, base and max, got "exp(1s)"; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=const(1s,2s)", []string{`x.go:1:26: backoff: const takes one duration, got "const(1s,2s)"; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=exp(0s,1s)", []string{`x.go:1:30: backoff: base 0s must be greater than 0; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=exp(1s,x)", []string{`x.go:1:33: backoff: max "x" is not a Go duration; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=exp(2s,1s)", []string{`x.go:1:33: backoff: max 1s is less than base 2s; want base <= max`}},
	{"//baldur:protect backoff=exp(1s,2h)", []string{`x.go:1:33: backoff: max 2h is too long; want at most 1h`}},
	{"//baldur:protect backoff=const(-5ms)", []string{`x.go:1:32: backoff: delay -5ms must be greater than 0; want exp(base,max) or const(d), such as exp(100ms,10s)`}},
	{"//baldur:protect backoff=const(61m)", []string{`x.go:1:32: backoff: delay 61m is too long; want at most 1h`}},
	{"//baldur:protect backoff=const()", []string{`x.go:1:32: backoff: delay "" is not a Go duration; want exp(base,max) or const(d), such as exp(100ms,10s)`}},

	// Identifiers and paths.
	{"//baldur:protect fallback=pkg.F", []string{`x.go:1:27: fallback: "pkg.F" is not a Go identifier; want a function name in the same package, or off`}},
	{"//baldur:protect fallback=_", []string{`x.go:1:27: fallback: "_" is not a Go identifier; want a function name in the same package, or off`}},
	{"//baldur:protect fallback=func", []string{`x.go:1:27: fallback: "func" is not a Go identifier; want a function name in the same package, or off`}},
	{"//baldur:protect idempotency=1id", []string{`x.go:1:30: idempotency: "1id" is not a Go identifier; want a parameter name or a param.Field path, or off`}},
	{"//baldur:protect idempotency=req.Order.9", []string{`x.go:1:40: idempotency: field "9" is not a Go identifier; want a parameter name or a param.Field path, or off`}},
	{"//baldur:protect idempotency=req..ID", []string{`x.go:1:34: idempotency: "req..ID" has an empty name before "."; want a parameter name or a param.Field path, or off`}},
	{"//baldur:protect idempotency=.ID", []string{`x.go:1:30: idempotency: ".ID" has an empty name before "."; want a parameter name or a param.Field path, or off`}},
	{"//baldur:protect idempotency=req.", []string{`x.go:1:33: idempotency: "req." ends with "."; want a parameter name or a param.Field path, or off`}},

	// Several errors on one line are all reported, in order.
	{"//baldur:protect retry=0 timeout=0s bogus", []string{
		`x.go:1:24: retry: 0 is out of range; want 1..100 or off`,
		`x.go:1:34: timeout: 0s must be greater than 0; want a Go duration such as 250ms or 5s, or off`,
		`x.go:1:37: unknown key "bogus"; want one of name, breaker, breaker_threshold, breaker_recovery, retry, backoff, timeout, deadline, fallback, fallback_on, idempotency, operation, dlq, bulkhead, compartment, bulkhead_wait, idem_ttl, idempotency_fail_open, idempotency_replay, idempotency_degraded, criticality, cache, cache_key, stale_if_error, rate, burst, rate_wait, rate_scope, retry_budget, retry_budget_scope, throttle, concurrency, hedge, hedge_delay, idempotent`,
	}},

	// skip.
	{"//baldur:skip retry=3", []string{`x.go:1:15: skip: takes method names, not "retry=3"; want //baldur:skip or //baldur:skip Name1 Name2`}},
	{"//baldur:skip Ping pkg.Close", []string{`x.go:1:20: skip: "pkg.Close" is not a method name; want //baldur:skip or //baldur:skip Name1 Name2`}},
	{"//baldur:skip Ping Ping", []string{`x.go:1:20: skip: Ping is listed twice; first at 1:15`}},
	{"//baldur:skip Ping // why", []string{`x.go:1:20: a directive line cannot carry a trailing comment; move the comment to its own line`}},
}

func TestParseLineRejectsBadInput(t *testing.T) {
	for _, tc := range badLines {
		t.Run(tc.text, func(t *testing.T) {
			_, _, errs := parseText(tc.text)
			assert.Equal(t, tc.errs, errs)
		})
	}
}

func TestParseLineIgnoresOrdinaryComments(t *testing.T) {
	for _, text := range []string{
		"// baldur:protect retry=3",
		"//go:generate baldurgen",
		"// Charge charges.",
		"//Baldur:protect",
		"/*baldur:protect retry=3*/",
		"",
	} {
		d, ok, errs := parseText(text)
		assert.False(t, ok, text)
		assert.Empty(t, errs, text)
		assert.Equal(t, Directive{}, d, text)
	}
}

func TestParseLineUnknownDirectiveIsNotOK(t *testing.T) {
	_, ok, errs := parseText("//baldur:retry=3")
	assert.False(t, ok)
	assert.Len(t, errs, 1)
}

func TestParseLineRecordsKeyPositions(t *testing.T) {
	fset := token.NewFileSet()
	text := "//baldur:protect name=pay dlq retry=3"
	f := fset.AddFile("x.go", -1, len(text))
	d, ok := ParseLine(fset, text, f.Pos(0), nil)
	require.True(t, ok)
	assert.Equal(t, f.Pos(0), d.Pos)
	assert.Equal(t, f.Pos(strings.Index(text, "name")), d.Policy.Name.Pos)
	assert.Equal(t, f.Pos(strings.Index(text, "dlq")), d.Policy.DLQ.Pos)
	assert.Equal(t, f.Pos(strings.Index(text, "retry")), d.Policy.Retry.Pos)
}

func TestParseLineSkipNames(t *testing.T) {
	fset := token.NewFileSet()
	text := "//baldur:skip Ping  Close"
	f := fset.AddFile("x.go", -1, len(text))
	var errs scanner.ErrorList
	d, ok := ParseLine(fset, text, f.Pos(0), &errs)
	require.True(t, ok)
	require.Empty(t, errs)
	assert.Equal(t, Skip, d.Kind)
	assert.Equal(t, []string{"Ping", "Close"}, d.SkipNames)
	assert.Equal(t, []token.Pos{f.Pos(14), f.Pos(20)}, d.SkipNamesPos)

	d, ok = ParseLine(fset, "//baldur:skip", f.Pos(0), &errs)
	require.True(t, ok)
	assert.Equal(t, Directive{Kind: Skip, Pos: f.Pos(0)}, d)
	assert.Empty(t, errs)
}

const shopSrc = `package shop

import "context"

// PaymentGateway talks to the card processor.
//
//baldur:protect name=payments retry=3
//baldur:protect timeout=5s
type PaymentGateway interface {
	// Charge charges an order exactly once.
	//baldur:protect idempotency=orderID dlq
	Charge(ctx context.Context, orderID string) error

	Balance(ctx context.Context) (int64, error) //baldur:protect retry=off fallback=cachedBalance

	//baldur:skip
	Ping(ctx context.Context) error

	//baldur:protect retry=4
	//baldur:protect retry=5 bogus
	Refund(ctx context.Context, orderID string) error

	//baldur:protect dlq
	//baldur:skip
	Void(ctx context.Context) error

	// baldur:protect retry=3 is prose, not a directive.
	Status(ctx context.Context) error
}

// Other is embedded from elsewhere.
//
//baldur:skip Ping
//baldur:skip Close Ping
type Other interface{ Close() }
`

// parseShop parses shopSrc and returns the directives by method or type name.
func parseShop(t *testing.T) (*token.FileSet, map[string]*Directive, []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "shop.go", shopSrc, parser.ParseComments)
	require.NoError(t, err)
	var errs scanner.ErrorList
	got := map[string]*Directive{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		ts := gd.Specs[0].(*ast.TypeSpec)
		got[ts.Name.Name] = Parse(fset, gd.Doc, &errs)
		for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
			name := m.Names[0].Name
			got[name] = Parse(fset, m.Doc, &errs)
			if d := Parse(fset, m.Comment, &errs); d != nil {
				got[name] = d
			}
		}
	}
	return fset, got, messages(errs)
}

func TestParseFilePositionsAndMerging(t *testing.T) {
	fset, got, errs := parseShop(t)

	assert.Equal(t, []string{
		`shop.go:20:19: duplicate key "retry"; first written at 19:19`,
		`shop.go:20:27: unknown key "bogus"; want one of name, breaker, breaker_threshold, breaker_recovery, retry, backoff, timeout, deadline, fallback, fallback_on, idempotency, operation, dlq, bulkhead, compartment, bulkhead_wait, idem_ttl, idempotency_fail_open, idempotency_replay, idempotency_degraded, criticality, cache, cache_key, stale_if_error, rate, burst, rate_wait, rate_scope, retry_budget, retry_budget_scope, throttle, concurrency, hedge, hedge_delay, idempotent`,
		`shop.go:24:2: //baldur:skip conflicts with //baldur:protect at 23:2; a node takes one or the other`,
		`shop.go:34:21: skip: Ping is listed twice; first at 33:15`,
	}, errs)

	pos := func(p token.Pos) string { return fset.Position(p).String() }

	iface := got["PaymentGateway"]
	require.NotNil(t, iface)
	assert.Equal(t, "shop.go:7:1", pos(iface.Pos))
	assert.Equal(t, Policy{Name: val("payments"), Retry: val(3), Timeout: val(5 * time.Second)}, noPos(iface.Policy))
	assert.Equal(t, "shop.go:7:18", pos(iface.Policy.Name.Pos))
	assert.Equal(t, "shop.go:8:18", pos(iface.Policy.Timeout.Pos))

	charge := got["Charge"]
	require.NotNil(t, charge)
	assert.Equal(t, "shop.go:11:2", pos(charge.Pos))
	assert.Equal(t, "shop.go:11:19", pos(charge.Policy.Idempotency.Pos))
	assert.Equal(t, "shop.go:11:39", pos(charge.Policy.DLQ.Pos))

	balance := got["Balance"]
	require.NotNil(t, balance)
	assert.Equal(t, Policy{Retry: val(0), Fallback: val("cachedBalance")}, noPos(balance.Policy))
	assert.Equal(t, "shop.go:14:63", pos(balance.Policy.Retry.Pos))

	assert.Equal(t, &Directive{Kind: Skip, Pos: got["Ping"].Pos}, got["Ping"])
	assert.Equal(t, "shop.go:16:2", pos(got["Ping"].Pos))
	assert.Equal(t, 4, got["Refund"].Policy.Retry.Val, "the first value is kept")
	assert.Equal(t, Protect, got["Void"].Kind, "the conflicting line is dropped")
	assert.Nil(t, got["Status"], "a space after // makes prose")

	other := got["Other"]
	require.NotNil(t, other)
	assert.Equal(t, []string{"Ping", "Close"}, other.SkipNames)
}

func TestParseNilAndEmpty(t *testing.T) {
	fset := token.NewFileSet()
	assert.Nil(t, Parse(fset, nil, nil))
	assert.Nil(t, Parse(fset, &ast.CommentGroup{List: []*ast.Comment{{Text: "// just prose"}}}, nil))
}

func FuzzParseLine(f *testing.F) {
	for _, tc := range goodLines {
		f.Add(tc.text)
	}
	for _, tc := range badLines {
		f.Add(tc.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fset := token.NewFileSet()
		file := fset.AddFile("x.go", -1, len(text)+1)
		var errs scanner.ErrorList
		d, ok := ParseLine(fset, text, file.Pos(0), &errs)
		for _, e := range errs {
			if e.Pos.Line != 1 || e.Pos.Column < 1 || e.Pos.Column > len(text) {
				t.Fatalf("error %q lies outside the %d-byte line %q", e, len(text), text)
			}
		}
		if !strings.HasPrefix(text, "//baldur:") {
			if ok || len(errs) > 0 {
				t.Fatalf("%q is not a directive but got ok=%v errs=%v", text, ok, errs)
			}
			return
		}
		if !ok || len(errs) > 0 || d.Kind != Protect {
			return
		}
		// A clean line round-trips through Policy.String.
		p := noPos(d.Policy)
		again, ok := ParseLine(fset, "//baldur:protect "+p.String(), file.Pos(0), &errs)
		if !ok || len(errs) > 0 {
			t.Fatalf("%q re-parsed from %q: %v", p.String(), text, errs)
		}
		if got := noPos(again.Policy); !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip of %q: got %+v, want %+v", text, got, p)
		}
	})
}

func TestParseLineBareKeys(t *testing.T) {
	for _, k := range keys {
		d, ok, errs := parseText("//baldur:protect " + k.Name)
		require.True(t, ok)
		if k.bare() != "" {
			assert.Empty(t, errs, k.Name)
			assert.Equal(t, "//baldur:protect "+k.Name+"=on", "//baldur:protect "+d.Policy.String())
			continue
		}
		require.Len(t, errs, 1, k.Name)
		assert.Contains(t, errs[0], "x.go:1:18: "+k.Name+": needs a value, such as "+k.Name+"=")
		// The example in the message is itself a valid value.
		_, _, errs = parseText("//baldur:protect " + k.Name + "=" + k.Example)
		assert.Empty(t, errs, k.Name)
	}
}
