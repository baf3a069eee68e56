package admin

import (
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/report"
)

// The runtime's values as the contract (adminapi) shows them.

func entryView(e dlq.Entry) adminapi.DLQEntry {
	return adminapi.DLQEntry{
		ID: e.ID, Domain: e.Domain, Operation: e.Operation, Signature: e.Signature, Args: e.Args,
		Error: e.Error, FailureType: e.FailureType, Attempts: e.Attempts,
		FirstFailure: e.FirstFailure, LastFailure: e.LastFailure, ReplayCount: e.ReplayCount,
		State: string(e.State), Reason: e.Reason, LastError: e.LastError,
		LeaseUntil: e.LeaseUntil, Owner: e.Owner, UpdatedAt: e.UpdatedAt,
	}
}

func entryViews(es []dlq.Entry) []adminapi.DLQEntry {
	out := make([]adminapi.DLQEntry, len(es))
	for i, e := range es {
		out[i] = entryView(e)
	}
	return out
}

func groupViews(gs []dlq.GroupStats) []adminapi.DLQGroup {
	out := make([]adminapi.DLQGroup, len(gs))
	for i, g := range gs {
		out[i] = adminapi.DLQGroup(g)
	}
	return out
}

func statsView(s dlq.Stats, aggs []dlq.Aggregate) adminapi.DLQStatsAnswer {
	out := adminapi.DLQStatsAnswer{
		Stats:      adminapi.DLQStats{Total: s.Total, Evicted: s.Evicted, Groups: groupViews(s.Groups), Domains: groupViews(s.Domains)},
		Aggregates: make([]adminapi.DLQAggregate, len(aggs)),
	}
	out.Stats.Operations = make([]adminapi.DLQOperationGroup, len(s.Operations))
	for i, o := range s.Operations {
		out.Stats.Operations[i] = adminapi.DLQOperationGroup(o)
	}
	for i, a := range aggs {
		out.Aggregates[i] = adminapi.DLQAggregate(a)
	}
	return out
}

func batchView(r dlq.BatchReport) adminapi.DLQBatchReport {
	out := adminapi.DLQBatchReport{
		Domain: r.Domain, Automatic: r.Automatic, Replayed: r.Replayed, Outcomes: make(map[string]int, len(r.Outcomes)),
		Busy: r.Busy, Stopped: r.Stopped, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	for o, n := range r.Outcomes {
		out.Outcomes[string(o)] = n
	}
	return out
}

func decisionView(d runtime.Decision) adminapi.Decision {
	return adminapi.Decision{At: d.At, Service: d.Service, Method: d.Method, Policy: d.Policy, Decision: d.Outcome, Reason: d.Reason}
}

func dayView(d report.Day) adminapi.ReportDay {
	return adminapi.ReportDay{Date: d.Date, Report: d.Report, Text: d.Text, Missing: d.Missing}
}
