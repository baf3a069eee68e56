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

// Decide names the service the reason is about, so that the console opens
// that service's plot and not the one in the most trouble over the hour.
func TestDecideNamesTheServiceOfTheReason(t *testing.T) {
	t.Parallel()
	in := report.VerdictInput{Breakers: 3, Noisiest: "ledger", FirstAlertService: "search", BulkheadService: "pdf"}
	for _, c := range []struct {
		name string
		edit func(in *report.VerdictInput)
		want string
	}{
		{"open breakers", func(in *report.VerdictInput) { in.Open = []string{"payments", "shipping"} }, "payments"},
		{"not closed", func(in *report.VerdictInput) { in.NotClosed = []string{"shipping=HALF_OPEN"} }, "shipping"},
		{"failure ratio", func(in *report.VerdictInput) { in.Window = report.Totals{Calls: 20, Failures: 15} }, "ledger"},
		{"retry alert", func(in *report.VerdictInput) { in.RetryAlerts, in.FirstAlert = 1, "search retried" }, "search"},
		{"bulkhead", func(in *report.VerdictInput) { in.Window = report.Totals{Calls: 5, RejectedBulkhead: 2} }, "pdf"},
		{"forced closed", func(in *report.VerdictInput) { in.ForcedClosed, in.ForcedClosedName = true, "mail" }, "mail"},
		{"kill switch", func(in *report.VerdictInput) { in.Disabled = true }, ""},
		{"healthy", func(*report.VerdictInput) {}, ""},
	} {
		got := in
		c.edit(&got)
		_, reason, service := report.Decide(got)
		assert.Equal(t, c.want, service, "%s: %s", c.name, reason)
	}
}
