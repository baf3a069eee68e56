package annotations

import (
	"go/scanner"
	"go/token"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/backoff"
)

// policyAt parses the arguments of one //baldur:protect line at line 1 of x.go.
func policyAt(t *testing.T, fset *token.FileSet, args string) Policy {
	t.Helper()
	text := "//baldur:protect " + args
	f := fset.AddFile("x.go", -1, len(text)+1)
	var errs scanner.ErrorList
	d, ok := ParseLine(fset, text, f.Pos(0), &errs)
	require.True(t, ok)
	require.Empty(t, errs)
	return d.Policy
}

func TestMergeMethodKeysWin(t *testing.T) {
	fset := token.NewFileSet()
	iface := policyAt(t, fset, "name=payments retry=3 timeout=5s dlq")
	method := policyAt(t, fset, "retry=5 dlq=off idempotency=orderID")

	got := Merge(iface, method)
	assert.Equal(t, "name=payments retry=5 timeout=5s idempotency=orderID dlq=off", got.String())
	assert.Equal(t, iface.Name, got.Name, "unset on the method: the interface's key, position included")
	assert.Equal(t, method.Retry, got.Retry, "set on the method: the method's key, position included")
}

// TestMergeCoversEveryField fails when a Policy field is added without
// teaching Merge about it.
func TestMergeCoversEveryField(t *testing.T) {
	full := Policy{
		Name: val("n"), Breaker: val(true), BreakerThreshold: val(10), BreakerRecovery: val(time.Second), Retry: val(3), Backoff: val(backoff.Default),
		Timeout: val(time.Second), Fallback: val("fb"), Idempotency: val("id"), Operation: val("op"),
		DLQ: val(true), Bulkhead: val(2), BulkheadWait: val(time.Millisecond), IdemTTL: val(time.Hour),
		IdemFailOpen: val(true), IdemReplay: val(true), IdemDegraded: val("refuse"), Criticality: val("high"),
		Deadline: val(time.Minute), FallbackOn: val("open"), Compartment: val("database"),
		Rate: val("100/s"), Burst: val(5), RateWait: val(time.Millisecond), RateScope: val("fleet"),
		RetryBudget: val("20%"), RetryBudgetScope: val("fleet"), Throttle: val("adaptive"), Concurrency: val("adaptive"),
		Hedge: val(2), HedgeDelay: val("p95"), Idempotent: val(true),
		Cache: val(time.Minute), CacheKey: val("id"), StaleIfError: val(time.Minute),
	}
	v := reflect.ValueOf(full)
	for i := 0; i < v.NumField(); i++ {
		require.True(t, v.Field(i).FieldByName("Set").Bool(), "full leaves %s unset", v.Type().Field(i).Name)
	}
	assert.Equal(t, full, Merge(full, Policy{}))
	assert.Equal(t, full, Merge(Policy{}, full))
	assert.Equal(t, full, Merge(Policy{Retry: val(9), Name: val("other")}, full))
}

func TestMergeOffDropsTheInterfaceTuning(t *testing.T) {
	fset := token.NewFileSet()
	iface := policyAt(t, fset, "retry=3 backoff=const(1s) bulkhead=4 bulkhead_wait=1s "+
		"idempotency=id idem_ttl=1h idempotency_fail_open idempotency_replay operation=pay idempotency_degraded=serve")

	got := Merge(iface, policyAt(t, fset, "retry=off bulkhead=off idempotency=off"))
	assert.Equal(t, "retry=off idempotency=off bulkhead=off", got.String())

	// What the method writes itself stays, so that Check can reject it.
	got = Merge(iface, policyAt(t, fset, "retry=off backoff=const(2s) idempotency=off idem_ttl=2h"))
	assert.Equal(t, "retry=off backoff=const(2s) idempotency=off bulkhead=4 bulkhead_wait=1s idem_ttl=2h", got.String())

	// Any value other than off keeps the tuning.
	got = Merge(iface, policyAt(t, fset, "retry=2 bulkhead=1 idempotency=other"))
	assert.Equal(t, "retry=2 backoff=const(1s) idempotency=other operation=pay bulkhead=1 bulkhead_wait=1s "+
		"idem_ttl=1h idempotency_fail_open=on idempotency_replay=on idempotency_degraded=serve", got.String())
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		args string
		errs []string
	}{
		{"retry=3 backoff=const(1s)", nil},
		{"bulkhead=2 bulkhead_wait=10ms", nil},
		{"idempotency=id idem_ttl=1h idempotency_fail_open=off idempotency_replay operation=x", nil},
		{"retry=off timeout=off bulkhead=off idempotency=off fallback=off", nil},
		{"backoff=const(1s)", []string{
			`x.go:1:18: backoff: needs retry, which is not set; set retry=1..100 or remove backoff`}},
		{"retry=off backoff=exp(1s,2s)", []string{
			`x.go:1:28: backoff: needs retry, which is off; set retry=1..100 or remove backoff`}},
		{"bulkhead_wait=1s", []string{
			`x.go:1:18: bulkhead_wait: needs bulkhead, which is not set; set bulkhead=1..1000000 or remove bulkhead_wait`}},
		{"bulkhead=off bulkhead_wait=1s", []string{
			`x.go:1:31: bulkhead_wait: needs bulkhead, which is off; set bulkhead=1..1000000 or remove bulkhead_wait`}},
		{"idem_ttl=1h idempotency_fail_open idempotency_replay=off operation=x", []string{
			`x.go:1:18: idem_ttl: needs idempotency, which is not set; set idempotency=<param> or remove idem_ttl`,
			`x.go:1:30: idempotency_fail_open: needs idempotency, which is not set; set idempotency=<param> or remove idempotency_fail_open`,
			`x.go:1:52: idempotency_replay: needs idempotency, which is not set; set idempotency=<param> or remove idempotency_replay`,
			`x.go:1:75: operation: needs idempotency, which is not set; set idempotency=<param> or remove operation`,
		}},
		{"idempotency=id idempotency_degraded=refuse idempotency_fail_open=off", nil},
		{"idempotency=id idempotency_fail_open=on idempotency_degraded=serve", nil},
		{"idempotency=id idempotency_fail_open idempotency_degraded=refuse", []string{
			`x.go:1:55: idempotency_degraded=refuse contradicts idempotency_fail_open=on (written at 1:33): ` +
				`one refuses the call when Redis is gone, the other runs it unguarded; keep one`}},
		{"idempotency_degraded=refuse", []string{
			`x.go:1:18: idempotency_degraded: needs idempotency, which is not set; set idempotency=<param> or remove idempotency_degraded`}},
		{"timeout=1s deadline=5s retry=3", nil},
		{"timeout=5s deadline=5s", []string{
			`x.go:1:29: deadline=5s is not longer than timeout=5s (written at 1:18): the deadline bounds every attempt and the backoff together, so the timeout could never fire; raise deadline or lower timeout`}},
		{"fallback=fb fallback_on=bulkhead compartment=database", nil},
		{"fallback=fb fallback_on=bulkhead,timeout bulkhead=3", nil},
		{"fallback_on=open", []string{
			`x.go:1:18: fallback_on: needs fallback, which is not set; set fallback=<function> or remove fallback_on`}},
		{"fallback=fb fallback_on=timeout,bulkhead", []string{
			`x.go:1:30: fallback_on=bulkhead: the method has no bulkhead (bulkhead= or compartment=), so no compartment-full rejection can reach the fallback; add one or remove bulkhead from the list`}},
		{"breaker=off fallback=fb fallback_on=open", []string{
			`x.go:1:42: fallback_on=open: breaker=off (written at 1:18), so no breaker rejection can reach the fallback; remove open from the list or the breaker=off`}},
		{"compartment=database bulkhead=4", []string{
			`x.go:1:18: compartment=database shares a registered compartment, and bulkhead=4 (written at 1:39) makes one of its own; keep one (on a method, compartment=off or bulkhead=off lifts the interface's)`}},
		{"compartment=off bulkhead=4", nil},
		{"idempotency=off operation=x", []string{
			`x.go:1:34: operation: needs idempotency, which is off; set idempotency=<param> or remove operation`}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			fset := token.NewFileSet()
			var errs scanner.ErrorList
			Check(fset, policyAt(t, fset, tc.args), &errs)
			assert.Equal(t, tc.errs, messages(errs))
		})
	}
}

func TestCheckAfterMerge(t *testing.T) {
	fset := token.NewFileSet()
	iface := policyAt(t, fset, "backoff=const(1s)")
	var errs scanner.ErrorList
	Check(fset, Merge(iface, policyAt(t, fset, "retry=3")), &errs)
	assert.Empty(t, errs, "the method supplies the retry the interface's backoff tunes")

	Check(fset, Merge(iface, Policy{}), &errs)
	assert.Equal(t, []string{
		`x.go:1:18: backoff: needs retry, which is not set; set retry=1..100 or remove backoff`,
	}, messages(errs), "positioned at the interface's key")
}

func TestPolicyString(t *testing.T) {
	fset := token.NewFileSet()
	args := "name=payments breaker=off retry=3 backoff=exp(100ms,1m30s) timeout=1h fallback=fb " +
		"idempotency=req.ID operation=Charge dlq=on bulkhead=10 bulkhead_wait=50ms idem_ttl=30m " +
		"idempotency_fail_open=on idempotency_replay=off"
	assert.Equal(t, args, policyAt(t, fset, args).String())
	assert.Equal(t, "", Policy{}.String())
	assert.Equal(t, "exp(100ms,10s)", backoff.Default.String())
	assert.Equal(t, "const(2h)", backoff.Policy{Kind: backoff.Const, Base: 2 * time.Hour}.String())
}
