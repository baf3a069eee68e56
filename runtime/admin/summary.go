package admin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/report"
)

// Verdicts of the dashboard summary, most urgent first: report.Verdict
// decides, by VerdictRule.
const (
	VerdictCritical = report.VerdictCritical
	VerdictWarning  = report.VerdictWarning
	VerdictGood     = report.VerdictGood
	VerdictHealthy  = report.VerdictHealthy
)

// VerdictRule is how the summary's verdict is derived (report.VerdictRule);
// "the window" is the last SummaryWindow (5 minutes by default) of call
// counters.
const VerdictRule = report.VerdictRule

// The dashboard/summary/ answer's types live in the admin contract
// (adminapi), which the CLI decodes into.
type (
	Summary       = adminapi.Summary
	Overview      = adminapi.Overview
	BreakerCounts = adminapi.BreakerCounts
	Activity      = adminapi.Activity
	NoisyService  = adminapi.NoisyService
	FailureType   = adminapi.FailureType
	RetryAlert    = adminapi.RetryAlert
)

// statsSnapshot is the runtime's call counters at one moment.
type statsSnapshot struct {
	at    time.Time
	stats map[[2]string]runtime.CallStats
}

// summaryCache keeps the last summary and the counter snapshots the window
// is measured against.
type summaryCache struct {
	mu    sync.Mutex // held while computing: concurrent pollers share one computation
	last  *Summary
	snaps []statsSnapshot
}

const (
	snapshotEvery = 10 * time.Second // at most one kept per this span
	activityMax   = 10
	noisiestMax   = 5
)

func (h *Handler) summaryNow(ctx context.Context, fresh bool) Summary {
	c := &h.sumCache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !fresh && c.last != nil && now.Sub(c.last.GeneratedAt) < h.sumTTL {
		s := *c.last
		s.Cached = true
		s.Draining = h.Draining()
		return s
	}
	s := h.computeSummary(ctx, now)
	c.last = &s
	return s
}

// window returns the counters of the window: current minus the newest
// snapshot at least h.sumWindow old (or the oldest one), and records the
// current snapshot. With sumCache.mu held.
func (h *Handler) window(now time.Time, cur []runtime.CallStats) (delta []runtime.CallStats, span time.Duration, sinceStart bool) {
	c := &h.sumCache
	var base *statsSnapshot
	for i := range c.snaps {
		if now.Sub(c.snaps[i].at) >= h.sumWindow || base == nil {
			base = &c.snaps[i]
		}
	}
	delta = make([]runtime.CallStats, 0, len(cur))
	for _, s := range cur {
		d := s
		if base != nil {
			b := base.stats[[2]string{s.Service, s.Method}]
			d = s.Sub(b)
		}
		delta = append(delta, d)
	}
	if base != nil {
		span = now.Sub(base.at)
	} else {
		sinceStart = true
	}
	if n := len(c.snaps); n == 0 || now.Sub(c.snaps[n-1].at) >= snapshotEvery {
		snap := statsSnapshot{at: now, stats: make(map[[2]string]runtime.CallStats, len(cur))}
		for _, s := range cur {
			snap.stats[[2]string{s.Service, s.Method}] = s
		}
		c.snaps = append(c.snaps, snap)
	}
	// Keep the newest snapshot older than the window, and everything after it.
	keep := 0
	for i := range c.snaps {
		if now.Sub(c.snaps[i].at) >= h.sumWindow {
			keep = i
		}
	}
	c.snaps = c.snaps[keep:]
	return delta, span, sinceStart
}

func (h *Handler) computeSummary(ctx context.Context, now time.Time) Summary {
	rt := h.rt
	s := Summary{
		GeneratedAt: now, VerdictRule: VerdictRule, Mode: "LIVE", Draining: h.Draining(),
		RecentActivity: []Activity{}, NoisiestServices: []NoisyService{}, FailureTypes: []FailureType{},
		RetryAlerts: []RetryAlert{}, Partial: []string{}, Compartments: []compartmentView{},
		Breakers: BreakerCounts{ByState: map[string]int{}},
	}
	snap := rt.Snapshot()
	s.Mode = snap.Mode()

	// Breakers and their last transitions.
	for _, st := range []breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen, breaker.ForcedOpen, breaker.ForcedClosed} {
		s.Breakers.ByState[st.String()] = 0
	}
	var notClosed, openish []string
	forcedClosed, forcedClosedName := false, ""
	for _, snap := range snap.Breakers {
		n := snap.Name
		s.Breakers.Total++
		s.Breakers.ByState[snap.State.String()]++
		switch snap.State {
		case breaker.Open, breaker.ForcedOpen:
			openish = append(openish, n)
			notClosed = append(notClosed, n+"="+snap.State.String())
		case breaker.HalfOpen:
			notClosed = append(notClosed, n+"="+snap.State.String())
		case breaker.ForcedClosed:
			if !forcedClosed {
				forcedClosedName = n
			}
			forcedClosed = true
		}
		if t := snap.LastTransition; !t.At.IsZero() {
			s.RecentActivity = append(s.RecentActivity, Activity{At: t.At, Kind: "breaker", Service: n,
				What: t.From.String() + " → " + t.To.String(), Reason: t.Reason})
		}
	}
	wh := rt.WouldHave()
	s.WouldHave = map[string]int{"total": len(wh)}
	for i := len(wh) - 1; i >= 0 && i >= len(wh)-activityMax; i-- {
		d := wh[i]
		s.RecentActivity = append(s.RecentActivity, Activity{At: d.At, Kind: "dry_run", Service: d.Service,
			What: d.Policy + " would " + d.Outcome + " " + d.Service + "." + d.Method, Reason: d.Reason})
	}
	var stateErr string
	if c := h.ctl; c != nil {
		st := c.Status()
		view := controlStatusView(st)
		s.Control, stateErr = &view, st.StateError
		for i, ch := range c.History() {
			if i == activityMax {
				break
			}
			s.RecentActivity = append(s.RecentActivity, Activity{At: ch.At, Kind: "control", What: ch.Action + " by " + ch.Who, Reason: ch.Reason})
		}
	}
	slices.SortStableFunc(s.RecentActivity, func(a, b Activity) int { return b.At.Compare(a.At) })
	if len(s.RecentActivity) > activityMax {
		s.RecentActivity = s.RecentActivity[:activityMax]
	}

	// The window's counters.
	specs := rt.Zones()
	s.Zones = len(specs)
	services := map[string]bool{}
	seenComp := map[string]bool{}
	for _, z := range specs {
		if !services[z.Service] && rt.Chaos().Active(z.Service) {
			s.Chaos = append(s.Chaos, z.Service)
		}
		services[z.Service] = true
		if z.Bulkhead <= 0 && z.Compartment == "" {
			continue // no bulkhead (a named compartment has Compartment without Bulkhead)
		}
		name := cmp.Or(z.Compartment, z.Service)
		if seenComp[name] {
			continue
		}
		seenComp[name] = true
		if i := slices.IndexFunc(snap.Compartments, func(c runtime.CompartmentSnapshot) bool { return c.Name == name }); i >= 0 {
			b := snap.Compartments[i]
			s.Compartments = append(s.Compartments, compartmentView{Name: name, Active: max(b.Active, 0), Max: b.Max,
				Waiting: b.Waiting, MaxWaiting: b.MaxWaiting})
		}
	}
	delta, span, sinceStart := h.window(now, snap.Calls)
	s.WindowSeconds, s.SinceStart = span.Seconds(), sinceStart
	tot := report.TotalsOf(delta...)
	s.Resolution = adminapi.Resolution(tot.Resolution())
	s.Overview = Overview{
		Services: len(services), Methods: len(specs), Store: "NORMAL",
		Calls: tot.Calls, Successes: tot.Successes, Failures: tot.Failures, Rejected: tot.Rejected(),
		Retries: tot.Retries, Timeouts: tot.Timeouts, Fallbacks: tot.Fallbacks, FailureRatio: tot.FailureRatio(),
	}
	if snap.Store.Degraded {
		s.Overview.Store = "DEGRADED"
	}
	bySvc := map[string][]runtime.CallStats{}
	for _, d := range delta {
		bySvc[d.Service] = append(bySvc[d.Service], d)
		mt := report.TotalsOf(d)
		if mt.Retries >= report.RetryAlertMin && mt.Calls > 0 && float64(mt.Retries)/float64(mt.Calls) >= report.RetryAlertRatio {
			ratio := float64(mt.Retries) / float64(mt.Calls)
			s.RetryAlerts = append(s.RetryAlerts, RetryAlert{Service: d.Service, Method: d.Method, Retries: mt.Retries, Calls: mt.Calls, Ratio: ratio,
				Message: fmt.Sprintf("%s.%s retried %d times for %d calls (%.0f%%)", d.Service, d.Method, mt.Retries, mt.Calls, 100*ratio)})
		}
	}
	var bulkheadService string
	var bulkheadMost uint64
	for svc, stats := range bySvc {
		st := report.TotalsOf(stats...)
		if st.RejectedBulkhead > bulkheadMost || (st.RejectedBulkhead == bulkheadMost && bulkheadMost > 0 && svc < bulkheadService) {
			bulkheadService, bulkheadMost = svc, st.RejectedBulkhead
		}
		if st.Failures+st.Rejected() == 0 {
			continue
		}
		s.NoisiestServices = append(s.NoisiestServices, NoisyService{Service: svc, Failures: st.Failures, Rejected: st.Rejected(),
			Timeouts: st.Timeouts, FailureRatio: st.FailureRatio()})
	}
	slices.SortFunc(s.NoisiestServices, func(a, b NoisyService) int {
		return cmp.Or(cmp.Compare(b.Failures+b.Rejected, a.Failures+a.Rejected), cmp.Compare(a.Service, b.Service))
	})
	if len(s.NoisiestServices) > noisiestMax {
		s.NoisiestServices = s.NoisiestServices[:noisiestMax]
	}
	for _, ft := range []FailureType{
		{Type: "error", Count: tot.Failures - min(tot.Timeouts, tot.Failures)}, {Type: "timeout", Count: tot.Timeouts},
		{Type: "breaker_open", Count: tot.RejectedBreaker}, {Type: "bulkhead_full", Count: tot.RejectedBulkhead},
	} {
		if ft.Count > 0 {
			s.FailureTypes = append(s.FailureTypes, ft)
		}
	}
	slices.SortStableFunc(s.FailureTypes, func(a, b FailureType) int { return cmp.Compare(b.Count, a.Count) })

	// The dead-letter queue: Options.DLQ, or the depth of the queue.
	dctx, cancel := context.WithTimeout(ctx, h.checkTTL)
	depth, err := h.dlq.DLQDepth(dctx)
	cancel()
	if err == nil {
		s.DLQ.Available = true
		for _, d := range depth {
			switch n := max(d.Entries, 0); d.State {
			case string(dlq.StatePending):
				s.DLQ.Pending += n
			case string(dlq.StateReplaying):
				s.DLQ.Replaying += n
			case string(dlq.StateNeedsReview):
				s.DLQ.NeedsReview += n
			}
		}
	} else {
		s.DLQ.Error = err.Error()
		s.Partial = append(s.Partial, "dlq")
	}

	// The verdict: first matching rule (VerdictRule).
	var noisiest, alertService string
	if len(s.NoisiestServices) > 0 {
		noisiest = s.NoisiestServices[0].Service
	}
	if len(s.RetryAlerts) > 0 {
		alertService = s.RetryAlerts[0].Service
	}
	s.Verdict, s.VerdictReason, s.VerdictService = report.Decide(report.VerdictInput{
		Window: tot, Disabled: !snap.Enabled, DryRun: snap.DryRun, StoreDegraded: snap.Store.Degraded,
		Draining: s.Draining, Breakers: s.Breakers.Total, Open: openish, NotClosed: notClosed,
		ForcedClosed: forcedClosed, StateError: stateErr, NeedsReview: s.DLQ.NeedsReview,
		RetryAlerts: len(s.RetryAlerts), FirstAlert: firstMessage(s.RetryAlerts),
		Noisiest: noisiest, FirstAlertService: alertService, ForcedClosedName: forcedClosedName, BulkheadService: bulkheadService,
	})
	if s.Verdict == VerdictCritical && !snap.Enabled {
		s.VerdictReason += fmt.Sprintf(" (reason: %q)", h.ctl.Status().Reason)
	}
	return s
}

func firstMessage(as []RetryAlert) string {
	if len(as) == 0 {
		return ""
	}
	return as[0].Message
}

func (c *call) summary() {
	fresh, ok := c.nocache()
	if !ok {
		return
	}
	c.ok(c.h.summaryNow(c.r.Context(), fresh))
}
