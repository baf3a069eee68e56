package report_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/runtime/report"
)

// The first matching line of VerdictRule wins, most urgent first.
func TestVerdictFollowsTheRule(t *testing.T) {
	t.Parallel()
	failing := report.Totals{Calls: 20, Successes: 8, Failures: 12}
	for _, tc := range []struct {
		name    string
		in      report.VerdictInput
		verdict string
		reason  string
	}{
		{"nothing happened", report.VerdictInput{}, report.VerdictHealthy, "every breaker is closed"},
		{"disabled beats everything", report.VerdictInput{Disabled: true, DryRun: true, Window: failing}, report.VerdictCritical, "kill switch is DISABLED"},
		{"most breakers open", report.VerdictInput{Breakers: 1, Open: []string{"pay"}, NotClosed: []string{"pay=OPEN"}}, report.VerdictCritical, "1 of 1 breakers are open"},
		{"half the breakers open is a warning", report.VerdictInput{Breakers: 2, Open: []string{"pay"}, NotClosed: []string{"pay=OPEN"}}, report.VerdictWarning, "1 breaker(s) not closed"},
		{"failure ratio", report.VerdictInput{Window: failing}, report.VerdictCritical, "60% of attempts failed"},
		{"degraded store", report.VerdictInput{StoreDegraded: true}, report.VerdictWarning, "DEGRADED"},
		{"dead letters", report.VerdictInput{NeedsReview: 2}, report.VerdictWarning, "2 dead letter(s) need review"},
		{"dry-run", report.VerdictInput{DryRun: true}, report.VerdictGood, "dry-run"},
		{"draining", report.VerdictInput{Draining: true}, report.VerdictGood, "draining"},
	} {
		v, why := report.Verdict(tc.in)
		assert.Equal(t, tc.verdict, v, tc.name)
		assert.Contains(t, why, tc.reason, tc.name)
	}
}
