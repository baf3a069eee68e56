package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// printDashboard prints the dashboard summary for a terminal: the verdict
// and why, the window's overview, then what needs looking at (noisiest
// services, failure kinds, retry alerts, recent activity) when there is any.
func printDashboard(w io.Writer, s adminapi.Summary) {
	fmt.Fprintf(w, "%s — %s\n", strings.ToUpper(s.Verdict), s.VerdictReason)
	window := "since the start"
	if !s.SinceStart && s.WindowSeconds >= 1 {
		window = fmt.Sprintf("last %.0fs", s.WindowSeconds)
	}
	o := s.Overview
	fmt.Fprintf(w, "mode %s, store %s, %d service(s), %d method(s); breakers: %d (%s)\n",
		s.Mode, o.Store, o.Services, o.Methods, s.Breakers.Total, byState(s.Breakers.ByState))
	fmt.Fprintf(w, "%s: %d calls, %d ok, %d failed (%.1f%%), %d rejected, %d retries, %d timeouts, %d fallbacks\n",
		window, o.Calls, o.Successes, o.Failures, 100*o.FailureRatio, o.Rejected, o.Retries, o.Timeouts, o.Fallbacks)
	if len(s.Chaos) > 0 {
		fmt.Fprintf(w, "CHAOS: fault injection in force on %s (baldur chaos list): their failures are a rehearsal's\n", strings.Join(s.Chaos, ", "))
	}
	if r := s.Resolution; r.Rate != nil {
		fmt.Fprintf(w, "resolution: %.0f%% of %d troubled call(s) (fallback %d, retry %d, unresolved %d)\n",
			100**r.Rate, r.Troubled, r.ResolvedFallback, r.RetriedSuccesses, r.Unresolved)
	}
	if len(s.NoisiestServices) > 0 {
		fmt.Fprintln(w, "\nnoisiest services:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, n := range s.NoisiestServices {
			fmt.Fprintf(tw, "  %s\t%d failures\t%d rejected\t%d timeouts\t%.1f%%\n", n.Service, n.Failures, n.Rejected, n.Timeouts, 100*n.FailureRatio)
		}
		tw.Flush()
	}
	if len(s.FailureTypes) > 0 {
		parts := make([]string, len(s.FailureTypes))
		for i, f := range s.FailureTypes {
			parts[i] = fmt.Sprintf("%s %d", f.Type, f.Count)
		}
		fmt.Fprintf(w, "failure types: %s\n", strings.Join(parts, ", "))
	}
	for _, a := range s.RetryAlerts {
		fmt.Fprintf(w, "retry alert: %s\n", a.Message)
	}
	if len(s.RecentActivity) > 0 {
		fmt.Fprintln(w, "\nrecent activity:")
		for _, a := range s.RecentActivity {
			line := "  " + a.At.Format("15:04:05") + "  "
			if a.Service != "" {
				line += a.Service + ": "
			}
			line += a.What
			if a.Reason != "" {
				line += " (" + a.Reason + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(s.Partial) > 0 {
		fmt.Fprintf(w, "\npartial: %s\n", strings.Join(s.Partial, "; "))
	}
}

// byState writes breaker counts as "closed 2, open 1", in a fixed order.
func byState(m map[string]int) string {
	var parts []string
	for _, st := range []string{"closed", "half_open", "open", "forced_open", "forced_closed"} {
		for k, n := range m {
			if strings.EqualFold(k, st) && n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", strings.ToLower(k), n))
			}
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// recentReports is how many reports baldur report lists without flags.
const recentReports = 7

// printRecent lists the recent reports, one line each, newest first: the
// date and the report's summary (or why there is none).
func printRecent(w io.Writer, ans adminapi.ReportAnswer) {
	if len(ans.Days) == 0 {
		fmt.Fprintln(w, "no reports stored yet")
		return
	}
	for _, d := range ans.Days {
		var sum string
		if d.Report != nil {
			sum = d.Report.Summary
		}
		if sum == "" { // a day without a report prints why it is missing
			sum = d.Missing
		}
		fmt.Fprintf(w, "%s: %s\n", clean(d.Date), clean(sum))
	}
}
