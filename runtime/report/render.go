package report

import (
	"fmt"
	"strings"
)

// Text renders r for a terminal. A calm day is one line:
//
//	2026-11-23: All quiet — 1204 processed, 0 alerts.
//
// any other day is a headline, its alerts, and the figures behind them.
func Text(r Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", r.Date, headline(r))
	if r.Calm {
		return b.String()
	}
	b.WriteByte('\n')
	for _, a := range r.Alerts {
		fmt.Fprintf(&b, "  [%s] %s\n", a.Severity, a.Message)
	}
	t := r.Totals
	fmt.Fprintf(&b, "  calls %d · attempts failed %d (%.1f%%) · retries %d · timeouts %d · fallbacks %d · rejected %d by breakers, %d by bulkheads\n",
		t.Calls, t.Failures, 100*t.FailureRatio(), t.Retries, t.Timeouts, t.Fallbacks, t.RejectedBreaker, t.RejectedBulkhead)
	if rate := r.Resolution.Rate; rate != nil {
		fmt.Fprintf(&b, "  resolution %.0f%% (%d of %d troubled calls answered by a fallback)\n", 100**rate, r.Resolution.ResolvedFallback, r.Resolution.Troubled)
	}
	var noisy []string
	for _, s := range r.Services {
		if s.Failures+s.Rejected() == 0 || len(noisy) == 3 {
			break
		}
		noisy = append(noisy, fmt.Sprintf("%s (%d failures, %d rejections)", s.Service, s.Failures, s.Rejected()))
	}
	if len(noisy) > 0 {
		fmt.Fprintf(&b, "  noisiest: %s\n", strings.Join(noisy, ", "))
	}
	for _, br := range r.Breakers {
		if br.Transitions > 0 {
			fmt.Fprintf(&b, "  breaker %s: %d transition(s), opened %s, %s at %s\n", br.Service, br.Transitions, times(br.Opened), br.State, r.To.Format("15:04"))
		}
	}
	if a := r.Actions; a.Any() {
		fmt.Fprintf(&b, "  automated actions: %s\n", actionsLine(a))
	}
	if st := r.Store; st.Degradations > 0 || st.Conflicts > 0 || st.Degraded {
		fmt.Fprintf(&b, "  store: %s DEGRADED, %d write(s) replayed, %d conflict(s)\n", times(int(st.Degradations)), st.Replayed, st.Conflicts)
	}
	if len(r.Partial) > 0 {
		fmt.Fprintf(&b, "  not read: %s\n", strings.Join(r.Partial, ", "))
	}
	fmt.Fprintf(&b, "  covers %s to %s", r.From.Format("15:04:05"), r.To.Format("15:04:05"))
	if !r.Final {
		b.WriteString(" (the day is not over)")
	}
	if len(r.Nodes) > 1 {
		fmt.Fprintf(&b, "\n  merged from %d processes: %s", len(r.Nodes), strings.Join(r.Nodes, ", "))
	}
	return b.String()
}

func headline(r Report) string {
	if r.Calm {
		return r.Summary
	}
	return fmt.Sprintf("%s — %d processed, %d alert(s)", upper(r.Severity), r.Totals.Calls, len(r.Alerts))
}

func actionsLine(a Actions) string {
	return fmt.Sprintf("%d call(s) saved by a retry · %d fallback answer(s) · breakers opened %d, closed %d · dead letters replayed %d, resolved %d",
		a.RetriesSaved, a.FallbacksServed, a.BreakersOpened, a.BreakersClosed, a.DLQReplayed, a.DLQResolved)
}

// Message renders r for a chat channel: Text, then the seed's "Automated
// Actions" section, on a calm day too.
func Message(r Report) string {
	a := r.Actions
	return Text(r) + "\n\nAutomated Actions\n" + fmt.Sprintf(
		"  • %d call(s) saved by a retry\n  • %d fallback answer(s) served\n  • breakers opened %d, closed %d\n  • dead letters replayed %d, resolved %d",
		a.RetriesSaved, a.FallbacksServed, a.BreakersOpened, a.BreakersClosed, a.DLQReplayed, a.DLQResolved)
}
