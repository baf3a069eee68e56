package report

import (
	"fmt"
	"strings"
)

// Verdicts of the dashboard, most urgent first. VerdictRule says how one is
// chosen from a window's Totals and the state beside them.
const (
	VerdictCritical = "critical"
	VerdictWarning  = "warning"
	VerdictGood     = "good"
	VerdictHealthy  = "healthy"
)

// VerdictRule is how Verdict decides: the first line that matches wins. "The
// window" is the span the Totals cover (the dashboard's last 5 minutes by
// default; before a summary that old exists, everything since the runtime
// started).
const VerdictRule = `critical: the kill switch is DISABLED; or more than half of the breakers (at least one) are OPEN or FORCED_OPEN; or ≥ 50% of the window's attempts failed (≥ 10 failures). ` +
	`warning: a breaker is OPEN, FORCED_OPEN or HALF_OPEN; the store is DEGRADED; the control state cannot be read; dead letters need review; a retry alert; ≥ 5% of the window's attempts failed (≥ 10 failures); a bulkhead refused calls in the window. ` +
	`good: dry-run is on; a breaker is FORCED_CLOSED; the window saw failures, rejections, timeouts or fallbacks; the server is draining. ` +
	`healthy: none of the above.`

// Thresholds of the verdict and of retry alerts.
const (
	verdictMinFailures   = 10
	verdictCriticalRatio = 0.5
	verdictWarningRatio  = 0.05
	// RetryAlertMin and RetryAlertRatio make a method's retries an alert:
	// at least RetryAlertMin retries in the window, and at least
	// RetryAlertRatio retries per call.
	RetryAlertMin   = 10
	RetryAlertRatio = 0.2
)

// VerdictInput is what the verdict looks at besides the window's Totals.
type VerdictInput struct {
	Window        Totals
	Disabled      bool     // the kill switch is DISABLED
	DryRun        bool     // dry-run is on
	StoreDegraded bool     // Redis unreachable, served from the local store
	Draining      bool     // the server is draining
	Breakers      int      // how many breakers exist
	Open          []string // breakers OPEN or FORCED_OPEN, by name
	NotClosed     []string // breakers OPEN, FORCED_OPEN or HALF_OPEN, as name=STATE
	ForcedClosed  bool     // a breaker is FORCED_CLOSED
	StateError    string   // the control state could not be read
	NeedsReview   int64    // dead letters that need review
	RetryAlerts   int      // methods that retried a lot in the window
	FirstAlert    string   // the first retry alert's message
	// Services the reasons can name, for Decide: the window's service with
	// the most failures and rejections, the first retry alert's service,
	// a FORCED_CLOSED breaker and the window's service with the most
	// bulkhead rejections.
	Noisiest, FirstAlertService, ForcedClosedName, BulkheadService string
}

// Verdict applies VerdictRule: the verdict and the reason for it.
func Verdict(in VerdictInput) (verdict, reason string) {
	verdict, reason, _ = Decide(in)
	return verdict, reason
}

// Decide is Verdict with the service the reason is about: the first
// breaker it names, the window's noisiest service for a failure ratio or
// absorbed trouble, the retry alert's service, the bulkhead's; empty when
// the reason names no service (the kill switch, the store, dry-run...).
func Decide(in VerdictInput) (verdict, reason, service string) {
	first := func(names []string) string {
		if len(names) == 0 {
			return ""
		}
		n, _, _ := strings.Cut(names[0], "=")
		return n
	}
	tot := in.Window
	ratio, enoughFailures := tot.FailureRatio(), tot.Failures >= verdictMinFailures
	rules := []struct {
		verdict string
		hit     bool
		why     func() string
		service string
	}{
		{VerdictCritical, in.Disabled, func() string { return "the kill switch is DISABLED: every call goes straight to its service" }, ""},
		{VerdictCritical, len(in.Open) > 0 && 2*len(in.Open) > in.Breakers, func() string {
			return fmt.Sprintf("%d of %d breakers are open: %v", len(in.Open), in.Breakers, in.Open)
		}, first(in.Open)},
		{VerdictCritical, enoughFailures && ratio >= verdictCriticalRatio, func() string {
			return fmt.Sprintf("%.0f%% of attempts failed in the window", 100*ratio)
		}, in.Noisiest},
		{VerdictWarning, len(in.NotClosed) > 0, func() string {
			return fmt.Sprintf("%d breaker(s) not closed: %v", len(in.NotClosed), in.NotClosed)
		}, first(in.NotClosed)},
		{VerdictWarning, in.StoreDegraded, func() string {
			return "the store is DEGRADED: Redis is unreachable, shared state is served from the local store"
		}, ""},
		{VerdictWarning, in.StateError != "", func() string { return "the control state could not be read: " + in.StateError }, ""},
		{VerdictWarning, in.NeedsReview > 0, func() string { return fmt.Sprintf("%d dead letter(s) need review", in.NeedsReview) }, ""},
		{VerdictWarning, in.RetryAlerts > 0, func() string { return fmt.Sprintf("%d retry alert(s): %s", in.RetryAlerts, in.FirstAlert) }, in.FirstAlertService},
		{VerdictWarning, enoughFailures && ratio >= verdictWarningRatio, func() string {
			return fmt.Sprintf("%.1f%% of attempts failed in the window", 100*ratio)
		}, in.Noisiest},
		{VerdictWarning, tot.RejectedBulkhead > 0, func() string {
			return fmt.Sprintf("bulkheads refused %d call(s) in the window", tot.RejectedBulkhead)
		}, in.BulkheadService},
		{VerdictGood, in.DryRun, func() string { return "dry-run: policies record what they would have done and never intervene" }, ""},
		{VerdictGood, in.ForcedClosed, func() string { return "a breaker is FORCED_CLOSED: it protects nothing until set back to auto" }, in.ForcedClosedName},
		{VerdictGood, tot.Failures+tot.Rejected()+tot.Timeouts+tot.Fallbacks > 0, func() string {
			return fmt.Sprintf("trouble absorbed in the window: %d failed attempt(s), %d rejection(s), %d fallback answer(s)",
				tot.Failures, tot.Rejected(), tot.Fallbacks)
		}, in.Noisiest},
		{VerdictGood, in.Draining, func() string { return "the server is draining" }, ""},
	}
	for _, r := range rules {
		if r.hit {
			return r.verdict, r.why(), r.service
		}
	}
	return VerdictHealthy, "every breaker is closed, the switches are on and live, and the window saw no trouble", ""
}
