// Package report writes the daily report of a baldur runtime: what its
// protected calls went through in one day, the alerts that follow from it,
// and one severity. A Generator builds it on demand and, once started, at
// every midnight, and keeps it in the runtime's store under
// report:<date>:node:<node>; reading a day merges the reports of every
// process that shares the store (Merge), so a fleet gets one report.
//
// Severity is the highest severity among the alerts (see Build for the
// rules), "info" when there is none (as Python Baldur's calm day): such a
// calm day renders as one line,
// "All quiet — N processed, 0 alerts.".
package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/report/daily"
)

// The report's document types live in package daily (so the admin contract
// carries them without importing the runtime); these names are the same types.
type (
	Severity   = daily.Severity
	Alert      = daily.Alert
	Totals     = daily.Totals
	Resolution = daily.Resolution
	ServiceDay = daily.ServiceDay
	BreakerDay = daily.BreakerDay
	StoreDay   = daily.StoreDay
	DryRunDay  = daily.DryRunDay
	DLQDay     = daily.DLQDay
	Actions    = daily.Actions
	Report     = daily.Report
)

// Severities, calm first.
const (
	SeverityOK       = daily.SeverityOK
	SeverityInfo     = daily.SeverityInfo
	SeverityWarning  = daily.SeverityWarning
	SeverityCritical = daily.SeverityCritical
)

// ResolutionDefinition explains Resolution in one sentence, for JSON readers.
const ResolutionDefinition = daily.ResolutionDefinition

// TotalsOf sums call statistics (one method's, or a service's, or all).
func TotalsOf(stats ...runtime.CallStats) Totals {
	var t Totals
	for _, s := range stats {
		t.Successes += s.Successes
		t.Failures += s.Failures
		t.Ignored += s.Ignored
		t.RejectedBreaker += s.RejectedOpen
		t.RejectedBulkhead += s.RejectedBulkhead
		t.Retries += s.Retries
		t.Timeouts += s.Timeouts
		t.Fallbacks += s.Fallbacks
		t.RetriedSuccesses += s.RetriedSuccesses
	}
	t.Derive()
	return t
}

// Input is what Build turns into a Report: the period's counters (already
// the difference between its end and its start) and the end state.
type Input struct {
	Date        string
	Node        string
	Nodes       []string
	From, To    time.Time
	Final       bool
	GeneratedAt time.Time
	Calls       []runtime.CallStats
	Breakers    []BreakerDay
	Store       StoreDay
	DryRun      DryRunDay
	KillSwitch  bool
	DLQ         *DLQDay
	// DLQReplayed and DLQResolved count the replays run over the period
	// and those that resolved their entry.
	DLQReplayed, DLQResolved uint64
	Partial                  []string
}

// Thresholds of the rules.
const (
	criticalFailureRatio = 0.5  // of attempts, with at least minFailures failures
	warningFailureRatio  = 0.05 // of attempts, with at least minFailures failures
	minFailures          = 10
	retryPressureRatio   = 0.2 // retries per call, with at least minRetries retries
	minRetries           = 10
)

// Build derives the report from in. The rules, per service unless said:
//
//	critical  breaker_open         a breaker is OPEN or FORCED_OPEN at the end
//	critical  kill_switch_off      the kill switch is off at the end: nothing is protected
//	critical  failure_ratio        ≥ 50% of attempts failed (≥ 10 failures)
//	warning   breaker_opened       a breaker opened during the day and is closed again
//	warning   failure_ratio        ≥ 5% of attempts failed (≥ 10 failures)
//	warning   store_degraded       the store went DEGRADED (Redis lost) during the day, or is
//	warning   reconcile_conflicts  writes made while DEGRADED were refused by Redis
//	warning   bulkhead_rejections  a bulkhead refused calls
//	warning   retry_pressure       ≥ 0.2 retries per call (≥ 10 retries)
//	warning   dlq_needs_review     dead letters wait for an operator
//	info      timeouts             attempts timed out (below the failure thresholds)
//	info      dry_run              dry-run was on, or recorded decisions
func Build(in Input) Report {
	r := Report{
		Date: in.Date, Node: in.Node, Nodes: in.Nodes, From: in.From, To: in.To, Final: in.Final, GeneratedAt: in.GeneratedAt,
		Breakers: in.Breakers, Store: in.Store, DryRun: in.DryRun, KillSwitch: in.KillSwitch, DLQ: in.DLQ,
		Partial: in.Partial, Alerts: []Alert{}, Services: []ServiceDay{},
	}
	if r.Breakers == nil {
		r.Breakers = []BreakerDay{}
	}
	r.Totals = TotalsOf(in.Calls...)
	r.Resolution = r.Totals.Resolution()
	r.Actions = Actions{RetriesSaved: r.Totals.RetriedSuccesses, FallbacksServed: r.Totals.Fallbacks,
		DLQReplayed: in.DLQReplayed, DLQResolved: in.DLQResolved}
	for _, b := range in.Breakers {
		r.Actions.BreakersOpened += b.Opened
		r.Actions.BreakersClosed += b.Closed
	}
	bySvc := map[string][]runtime.CallStats{}
	for _, s := range in.Calls {
		bySvc[s.Service] = append(bySvc[s.Service], s)
	}
	for svc, stats := range bySvc {
		r.Services = append(r.Services, ServiceDay{Service: svc, Totals: TotalsOf(stats...)})
	}
	slices.SortFunc(r.Services, func(a, b ServiceDay) int {
		return cmp.Or(cmp.Compare(b.Failures+b.Rejected(), a.Failures+a.Rejected()), cmp.Compare(a.Service, b.Service))
	})
	add := func(sev Severity, code, svc, format string, args ...any) {
		r.Alerts = append(r.Alerts, Alert{Severity: sev, Code: code, Service: svc, Message: fmt.Sprintf(format, args...)})
	}

	if !in.KillSwitch {
		add(SeverityCritical, "kill_switch_off", "", "the kill switch is off: every call goes straight to its service, unprotected")
	}
	for _, b := range in.Breakers {
		switch {
		case b.State == "OPEN" || b.State == "FORCED_OPEN":
			add(SeverityCritical, "breaker_open", b.Service, "breaker %s is %s: its calls are rejected or served by fallbacks", b.Service, b.State)
		case b.Opened > 0:
			add(SeverityWarning, "breaker_opened", b.Service, "breaker %s opened %s, %s now", b.Service, times(b.Opened), b.State)
		}
	}
	for _, s := range r.Services {
		ratio := s.FailureRatio()
		switch {
		case s.Failures >= minFailures && ratio >= criticalFailureRatio:
			add(SeverityCritical, "failure_ratio", s.Service, "%s: %.0f%% of attempts failed (%d of %d)", s.Service, 100*ratio, s.Failures, s.Successes+s.Failures)
		case s.Failures >= minFailures && ratio >= warningFailureRatio:
			add(SeverityWarning, "failure_ratio", s.Service, "%s: %.1f%% of attempts failed (%d of %d)", s.Service, 100*ratio, s.Failures, s.Successes+s.Failures)
		case s.Timeouts > 0:
			add(SeverityInfo, "timeouts", s.Service, "%s: %d attempt(s) timed out", s.Service, s.Timeouts)
		}
		if s.RejectedBulkhead > 0 {
			add(SeverityWarning, "bulkhead_rejections", s.Service, "%s: the bulkhead refused %d call(s)", s.Service, s.RejectedBulkhead)
		}
		if s.Retries >= minRetries && s.Calls > 0 && float64(s.Retries)/float64(s.Calls) >= retryPressureRatio {
			add(SeverityWarning, "retry_pressure", s.Service, "%s: %d retries for %d calls", s.Service, s.Retries, s.Calls)
		}
	}
	if in.Store.Degradations > 0 || in.Store.Degraded {
		msg := fmt.Sprintf("the store went DEGRADED (Redis unreachable) %s", times(int(in.Store.Degradations)))
		if in.Store.Degraded {
			msg += " and still is"
		}
		add(SeverityWarning, "store_degraded", "", "%s", msg)
	}
	if in.Store.Conflicts > 0 {
		add(SeverityWarning, "reconcile_conflicts", "", "%d write(s) made while DEGRADED were refused by Redis on replay (see store.reconcile_conflict events)", in.Store.Conflicts)
	}
	if in.DLQ != nil && in.DLQ.NeedsReview > 0 {
		add(SeverityWarning, "dlq_needs_review", "", "%d dead letter(s) spent their replay budget and wait for an operator", in.DLQ.NeedsReview)
	}
	if in.DryRun.On || in.DryRun.Decisions > 0 {
		add(SeverityInfo, "dry_run", "", "dry-run recorded %d decision(s) the policies would have taken (on at the end: %t)", in.DryRun.Decisions, in.DryRun.On)
	}
	slices.SortStableFunc(r.Alerts, func(a, b Alert) int { return cmp.Compare(b.Severity.Rank(), a.Severity.Rank()) })

	r.Severity = SeverityInfo // a calm day
	if len(r.Alerts) > 0 {
		r.Severity = r.Alerts[0].Severity
	}
	r.Calm = len(r.Alerts) == 0
	if r.Calm {
		r.Summary = fmt.Sprintf("All quiet — %d processed, 0 alerts.", r.Totals.Calls)
	} else {
		r.Summary = fmt.Sprintf("%s — %d processed, %d alert(s): %s", upper(r.Severity), r.Totals.Calls, len(r.Alerts), r.Alerts[0].Message)
	}
	return r
}

// Merge builds one report out of the reports of several processes for the
// same day (one each). Counters add up; what is shared through the store is
// taken once: a breaker's state is the most severe any process saw (and its
// transitions, which every process of the fleet sees, the most any counted),
// the DLQ is the latest reading. The kill switch counts as off, dry-run as on
// and the store as DEGRADED if so for any process. The period runs from the
// earliest start to the latest end; the report is final when all are.
func Merge(reports ...Report) Report {
	in := Input{Final: true, KillSwitch: true, DryRun: DryRunDay{ByPolicy: map[string]int{}}}
	breakers := map[string]*BreakerDay{}
	var dlqAt time.Time
	for i, r := range reports {
		if i == 0 || r.From.Before(in.From) {
			in.From = r.From
		}
		if r.To.After(in.To) {
			in.To = r.To
		}
		if r.GeneratedAt.After(in.GeneratedAt) {
			in.GeneratedAt = r.GeneratedAt
		}
		in.Date, in.Final = r.Date, in.Final && r.Final
		in.Nodes = append(in.Nodes, r.Nodes...)
		if len(r.Nodes) == 0 && r.Node != "" {
			in.Nodes = append(in.Nodes, r.Node)
		}
		for _, s := range r.Services {
			in.Calls = append(in.Calls, runtime.CallStats{Service: s.Service, Successes: s.Successes,
				Failures: s.Failures, Ignored: s.Ignored, RejectedOpen: s.RejectedBreaker,
				RejectedBulkhead: s.RejectedBulkhead, Retries: s.Retries, Timeouts: s.Timeouts,
				Fallbacks: s.Fallbacks, RetriedSuccesses: s.RetriedSuccesses})
		}
		for _, b := range r.Breakers {
			m := breakers[b.Service]
			if m == nil {
				m = &BreakerDay{Service: b.Service, State: b.State}
				breakers[b.Service] = m
			}
			if stateRank(b.State) > stateRank(m.State) {
				m.State = b.State
			}
			m.Opened, m.Closed, m.Transitions = max(m.Opened, b.Opened), max(m.Closed, b.Closed), max(m.Transitions, b.Transitions)
			if b.LastChange.After(m.LastChange) {
				m.LastChange = b.LastChange
			}
		}
		in.DLQReplayed += r.Actions.DLQReplayed // each replay runs in one process
		in.DLQResolved += r.Actions.DLQResolved
		in.Store.Degraded = in.Store.Degraded || r.Store.Degraded
		in.Store.Degradations += r.Store.Degradations
		in.Store.Replayed += r.Store.Replayed
		in.Store.Conflicts += r.Store.Conflicts
		in.DryRun.On = in.DryRun.On || r.DryRun.On
		in.DryRun.Decisions += r.DryRun.Decisions
		for p, n := range r.DryRun.ByPolicy {
			in.DryRun.ByPolicy[p] += n
		}
		in.KillSwitch = in.KillSwitch && r.KillSwitch
		if r.DLQ != nil && (in.DLQ == nil || r.To.After(dlqAt)) {
			d := *r.DLQ
			in.DLQ, dlqAt = &d, r.To
		}
		in.Partial = append(in.Partial, r.Partial...)
	}
	for _, b := range breakers {
		in.Breakers = append(in.Breakers, *b)
	}
	slices.SortFunc(in.Breakers, func(a, b BreakerDay) int { return cmp.Compare(a.Service, b.Service) })
	slices.Sort(in.Nodes)
	in.Nodes = slices.Compact(in.Nodes)
	if len(in.Nodes) == 1 {
		in.Node = in.Nodes[0]
	}
	slices.Sort(in.Partial)
	in.Partial = slices.Compact(in.Partial)
	if in.DLQ != nil {
		// Another process read the queue: "dlq" is partial only if none did.
		in.Partial = slices.DeleteFunc(in.Partial, func(p string) bool { return p == "dlq" })
	}
	if len(in.Partial) == 0 {
		in.Partial = nil
	}
	return Build(in)
}

// stateRank orders breaker states by how much they cut a service off
// (breaker.State.Restriction); an unknown name ranks with the closed states.
func stateRank(s string) int {
	st, _ := breaker.ParseState(s)
	return st.Restriction()
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func upper(s Severity) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
