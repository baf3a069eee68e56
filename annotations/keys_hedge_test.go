package annotations

import (
	"go/scanner"
	"go/token"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hedging keys: every accepted form, every refusal with its position,
// and the combinations Check refuses.
func TestHedgeKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want Policy
	}{
		{"//baldur:protect hedge=2 hedge_delay=50ms idempotent=on", Policy{Hedge: val(2), HedgeDelay: val("50ms"), Idempotent: val(true)}},
		{"//baldur:protect hedge=1 hedge_delay=p95", Policy{Hedge: val(1), HedgeDelay: val("p95")}},
		{"//baldur:protect hedge_delay=p99.9", Policy{HedgeDelay: val("p99.9")}},
		{"//baldur:protect hedge=off idempotent=off", Policy{Hedge: val(0), Idempotent: val(false)}},
	} {
		d, ok, errs := parseText(tc.text)
		require.True(t, ok, tc.text)
		require.Empty(t, errs, tc.text)
		assert.Equal(t, tc.want, noPos(d.Policy), tc.text)
		assert.Equal(t, tc.text[len("//baldur:protect "):], d.Policy.String(), "printed as written")
	}
	d, _, errs := parseText("//baldur:protect idempotent")
	require.Empty(t, errs)
	assert.Equal(t, Policy{Idempotent: val(true)}, noPos(d.Policy), "a bare idempotent is on")
	for _, tc := range []struct{ text, err string }{
		{"//baldur:protect hedge=11", `x.go:1:24: hedge: 11 is out of range; want 1..10 or off`},
		{"//baldur:protect hedge", `x.go:1:18: hedge: needs a value, such as hedge=2; want 1..10 or off`},
		{"//baldur:protect hedge=1 hedge_delay=p10", `x.go:1:38: hedge_delay: "p10" is not a percentile from p50 to p99.9; want a Go duration such as 250ms or 5s, or a latency percentile p50..p99.9 such as p95`},
		{"//baldur:protect hedge=1 hedge_delay=soon", `x.go:1:38: hedge_delay: "soon" is not a Go duration; want a Go duration such as 250ms or 5s, or a latency percentile p50..p99.9 such as p95`},
		{"//baldur:protect hedge=1 hedge_delay=2h", `x.go:1:38: hedge_delay: 2h is too long; want at most 1h`},
	} {
		_, _, errs := parseText(tc.text)
		assert.Equal(t, []string{tc.err}, errs, tc.text)
	}
}

func TestCheckHedge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args string
		errs []string
	}{
		{"hedge=2 hedge_delay=50ms idempotent", nil},
		{"hedge=1 idempotency=orderID", nil},
		{"hedge=off dlq", nil},
		{"hedge_delay=50ms", []string{`x.go:1:18: hedge_delay: needs hedge, which is not set; set hedge=1..10 or remove hedge_delay`}},
		{"hedge=2", []string{`x.go:1:18: hedge=2 repeats the call while the first attempt still runs, and the method is not declared safe to repeat; write idempotent (or idempotency=<param>) on it, or remove hedge`}},
		{"hedge=2 idempotent=off", []string{`x.go:1:18: hedge=2 repeats the call while the first attempt still runs, and the method is not declared safe to repeat; write idempotent (or idempotency=<param>) on it, or remove hedge`}},
		{"hedge=2 idempotent dlq", []string{`x.go:1:18: hedge=2 and dlq (written at 1:37): hedged attempts may have reached the dependency when the call is parked, so a replay would repeat them; keep one (hedge=off or dlq=off on the method)`}},
	} {
		fset := token.NewFileSet()
		var errs scanner.ErrorList
		Check(fset, policyAt(t, fset, tc.args), &errs)
		assert.Equal(t, tc.errs, messages(errs), tc.args)
	}
}
