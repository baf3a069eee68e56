package annotations

import (
	"go/scanner"
	"go/token"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load-shaping keys: every accepted form, every refusal with its
// position, and the combinations Check refuses.
func TestLoadShapingKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want Policy
	}{
		{"//baldur:protect rate=100/s", Policy{Rate: val("100/s")}},
		{"//baldur:protect rate=30/m burst=5 rate_wait=250ms rate_scope=fleet",
			Policy{Rate: val("30/m"), Burst: val(5), RateWait: val(250 * time.Millisecond), RateScope: val("fleet")}},
		{"//baldur:protect rate=1/h rate_scope=local", Policy{Rate: val("1/h"), RateScope: val("local")}},
		{"//baldur:protect rate=1000000000/s burst=1000000", Policy{Rate: val("1000000000/s"), Burst: val(1000000)}},
		{"//baldur:protect rate=off", Policy{Rate: val("")}},
		{"//baldur:protect retry=3 retry_budget=20%", Policy{Retry: val(3), RetryBudget: val("20%")}},
		{"//baldur:protect retry=3 retry_budget=0.5%", Policy{Retry: val(3), RetryBudget: val("0.5%")}},
		{"//baldur:protect retry=3 retry_budget=off", Policy{Retry: val(3), RetryBudget: val("")}},
		{"//baldur:protect retry=3 retry_budget=20% retry_budget_scope=fleet",
			Policy{Retry: val(3), RetryBudget: val("20%"), RetryBudgetScope: val("fleet")}},
		{"//baldur:protect retry=3 retry_budget=20% retry_budget_scope=local",
			Policy{Retry: val(3), RetryBudget: val("20%"), RetryBudgetScope: val("local")}},
		{"//baldur:protect throttle=adaptive concurrency=adaptive", Policy{Throttle: val("adaptive"), Concurrency: val("adaptive")}},
		{"//baldur:protect throttle=off concurrency=off", Policy{Throttle: val(""), Concurrency: val("")}},
	} {
		d, ok, errs := parseText(tc.text)
		require.True(t, ok, tc.text)
		require.Empty(t, errs, tc.text)
		assert.Equal(t, tc.want, noPos(d.Policy), tc.text)
		assert.Equal(t, tc.text[len("//baldur:protect "):], d.Policy.String(), "printed as written")
	}
	for _, tc := range []struct{ text, err string }{
		{"//baldur:protect rate=100", `x.go:1:23: rate: "100" has no period; want N/s, N/m or N/h with N a positive whole number, or off`},
		{"//baldur:protect rate=0/s", `x.go:1:23: rate: "0" is not a positive whole number of calls; want N/s, N/m or N/h with N a positive whole number, or off`},
		{"//baldur:protect rate=1.5/s", `x.go:1:23: rate: "1.5" is not a positive whole number of calls; want N/s, N/m or N/h with N a positive whole number, or off`},
		{"//baldur:protect rate=10/d", `x.go:1:26: rate: period "d" is not s, m or h; want N/s, N/m or N/h with N a positive whole number, or off`},
		{"//baldur:protect rate=2000000000/s", `x.go:1:23: rate: 2000000000/s is more than one call per nanosecond; want N/s, N/m or N/h with N a positive whole number, or off`},
		{"//baldur:protect rate", `x.go:1:18: rate: needs a value, such as rate=100/s; want N/s, N/m or N/h with N a positive whole number, or off`},
		{"//baldur:protect rate=5/s burst=0", `x.go:1:33: burst: 0 is out of range; want 1..1000000`},
		{"//baldur:protect rate=5/s rate_wait=soon", `x.go:1:37: rate_wait: "soon" is not a Go duration; want a Go duration such as 250ms or 5s`},
		{"//baldur:protect rate=5/s rate_wait=25h", `x.go:1:37: rate_wait: 25h is too long; want at most 24h`},
		{"//baldur:protect rate=5/s rate_scope=region", `x.go:1:38: rate_scope: "region" is not valid; want local or fleet`},
		{"//baldur:protect retry=3 retry_budget=20", `x.go:1:39: retry_budget: "20" has no %; want a percentage above 0% and at most 100%, such as 20%, or off`},
		{"//baldur:protect retry=3 retry_budget=0%", `x.go:1:39: retry_budget: "0%" is not above 0% and at most 100%; want a percentage above 0% and at most 100%, such as 20%, or off`},
		{"//baldur:protect retry=3 retry_budget=150%", `x.go:1:39: retry_budget: "150%" is not above 0% and at most 100%; want a percentage above 0% and at most 100%, such as 20%, or off`},
		{"//baldur:protect retry=3 retry_budget=20% retry_budget_scope=zone", `x.go:1:62: retry_budget_scope: "zone" is not valid; want local or fleet`},
		{"//baldur:protect throttle=on", `x.go:1:27: throttle: "on" is not valid; want adaptive or off`},
		{"//baldur:protect throttle", `x.go:1:18: throttle: needs a value, such as throttle=adaptive; want adaptive or off`},
		{"//baldur:protect concurrency=vegas", `x.go:1:30: concurrency: "vegas" is not valid; want adaptive or off`},
	} {
		_, _, errs := parseText(tc.text)
		assert.Equal(t, []string{tc.err}, errs, tc.text)
	}
}

func TestCheckLoadShaping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args string
		errs []string
	}{
		{"rate=5/s burst=2 rate_wait=1s rate_scope=fleet", nil},
		{"retry=2 retry_budget=10% throttle=adaptive concurrency=adaptive", nil},
		{"bulkhead=4 concurrency=off", nil},
		{"burst=2 rate_wait=1s rate_scope=fleet", []string{
			`x.go:1:18: burst: needs rate, which is not set; set rate=N/s or remove burst`,
			`x.go:1:26: rate_wait: needs rate, which is not set; set rate=N/s or remove rate_wait`,
			`x.go:1:39: rate_scope: needs rate, which is not set; set rate=N/s or remove rate_scope`,
		}},
		{"rate=off burst=2", []string{`x.go:1:27: burst: needs rate, which is off; set rate=N/s or remove burst`}},
		{"retry_budget=20%", []string{`x.go:1:18: retry_budget: needs retry, which is not set; set retry=1..100 or remove retry_budget`}},
		{"retry=off retry_budget=20%", []string{`x.go:1:28: retry_budget: needs retry, which is off; set retry=1..100 or remove retry_budget`}},
		{"bulkhead=4 concurrency=adaptive", []string{
			`x.go:1:29: concurrency=adaptive and bulkhead=4 (written at 1:18) both bound the calls in flight; keep one (bulkhead=off or concurrency=off on the method)`}},
	} {
		fset := token.NewFileSet()
		var errs scanner.ErrorList
		Check(fset, policyAt(t, fset, tc.args), &errs)
		assert.Equal(t, tc.errs, messages(errs), tc.args)
	}
}

func TestMergeRateOffDropsTheInterfaceTuning(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	iface := policyAt(t, fset, "rate=5/s burst=2 rate_wait=1s rate_scope=fleet retry=3 retry_budget=20%")
	got := Merge(iface, policyAt(t, fset, "rate=off retry=off"))
	assert.Equal(t, "retry=off rate=off", got.String())
	var errs scanner.ErrorList
	Check(fset, got, &errs)
	assert.Empty(t, errs)
}

// retry_budget_scope tunes a retry_budget written beside it.
func TestRetryBudgetScopeNeedsARetryBudget(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	f := fset.AddFile("x.go", -1, 200)
	f.SetLines([]int{0})
	var errs scanner.ErrorList
	d, ok := ParseLine(fset, "//baldur:protect retry=3 retry_budget_scope=fleet", token.Pos(f.Base()), &errs)
	require.True(t, ok)
	require.Empty(t, errs)
	Check(fset, d.Policy, &errs)
	require.Len(t, errs, 1)
	assert.Equal(t, "x.go:1:26: retry_budget_scope=fleet tunes retry_budget, which is not written here; write retry_budget=P% beside it",
		errs[0].Error())
}
