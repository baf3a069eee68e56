// Package daily is the daily report's document: the types the report
// package writes and the admin contract (adminapi) carries to the CLI and the
// console, in one place. It imports only the standard library.
package daily

import "time"

// Severity ranks a report or an alert.
type Severity string

// Severities, calm first.
const (
	SeverityOK       Severity = "ok"       // reports stored by earlier versions on a calm day; no longer produced
	SeverityInfo     Severity = "info"     // worth knowing, nothing to do
	SeverityWarning  Severity = "warning"  // trouble that was absorbed or is partial
	SeverityCritical Severity = "critical" // protection is off, or a dependency is cut off
)

// Rank orders severities: 0 for ok (and unknown), 1 info, 2 warning, 3 critical.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Alert is one thing the report asks an operator to notice.
type Alert struct {
	Severity Severity `json:"severity"`
	// Code names the rule: breaker_open, breaker_opened, kill_switch_off,
	// failure_ratio, store_degraded, reconcile_conflicts, bulkhead_rejections,
	// retry_pressure, dlq_needs_review, timeouts, dry_run.
	Code    string `json:"code"`
	Service string `json:"service,omitempty"`
	Message string `json:"message"`
}

// Totals are call counters over a period. Successes, Failures and Ignored
// count attempts (a retried call counts each); the others count calls.
type Totals struct {
	// Calls estimates the calls made: attempts plus rejections minus retries
	// (each retry leads to one more attempt or rejection of the same call).
	Calls            uint64 `json:"calls"`
	Successes        uint64 `json:"successes"`
	Failures         uint64 `json:"failures"`
	FinalFailures    uint64 `json:"final_failures"` // failed attempts that ended their call: Failures - Retries
	Ignored          uint64 `json:"ignored"`
	RejectedBreaker  uint64 `json:"rejected_breaker"`
	RejectedBulkhead uint64 `json:"rejected_bulkhead"`
	Retries          uint64 `json:"retries"`
	Timeouts         uint64 `json:"timeouts"`
	Fallbacks        uint64 `json:"fallbacks"`
	RetriedSuccesses uint64 `json:"retried_successes"` // calls a retry saved
}

// Derive sets Calls and FinalFailures from the counters they follow from.
func (t *Totals) Derive() {
	attempts := t.Successes + t.Failures + t.Ignored + t.RejectedBreaker + t.RejectedBulkhead
	t.Calls = attempts - min(t.Retries, attempts)
	t.FinalFailures = t.Failures - min(t.Retries, t.Failures)
}

// Rejected is the calls refused by a breaker or a bulkhead.
func (t Totals) Rejected() uint64 { return t.RejectedBreaker + t.RejectedBulkhead }

// FailureRatio is failed attempts over attempts that reached the service
// (successes and failures); 0 when there was none.
func (t Totals) FailureRatio() float64 {
	if n := t.Successes + t.Failures; n > 0 {
		return float64(t.Failures) / float64(n)
	}
	return 0
}

// Resolution is how much of the trouble callers never saw.
//
// Troubled calls are those that ended in an error before their fallback
// (FinalFailures + Rejected) plus those that succeeded only on a retry;
// resolved calls are those a fallback answered plus those a retry saved.
// Rate is resolved over troubled, nil when nothing was troubled.
type Resolution struct {
	Rate             *float64 `json:"rate"`
	Troubled         uint64   `json:"troubled"`
	ResolvedFallback uint64   `json:"resolved_by_fallback"`
	RetriedSuccesses uint64   `json:"resolved_by_retry"`
	Unresolved       uint64   `json:"unresolved"`
	Definition       string   `json:"definition"`
}

// ResolutionDefinition explains Resolution in one sentence, for JSON readers.
const ResolutionDefinition = "(fallback answers + successes on a retry) / (calls that ended in an error before their fallback + successes on a retry)"

// Resolution computes t's Resolution.
func (t Totals) Resolution() Resolution {
	r := Resolution{Definition: ResolutionDefinition, RetriedSuccesses: t.RetriedSuccesses}
	r.Troubled = t.FinalFailures + t.Rejected() + r.RetriedSuccesses
	r.ResolvedFallback = min(t.Fallbacks, t.FinalFailures+t.Rejected())
	resolved := r.ResolvedFallback + r.RetriedSuccesses
	r.Unresolved = r.Troubled - resolved
	if r.Troubled > 0 {
		rate := float64(resolved) / float64(r.Troubled)
		r.Rate = &rate
	}
	return r
}

// ServiceDay is one service's totals.
type ServiceDay struct {
	Service string `json:"service"`
	Totals
}

// BreakerDay is one breaker over the period.
type BreakerDay struct {
	Service     string    `json:"service"`
	State       string    `json:"state"`       // at the end of the period
	Opened      int       `json:"opened"`      // transitions to OPEN or FORCED_OPEN
	Closed      int       `json:"closed"`      // transitions to CLOSED (recoveries and operator closes)
	Transitions int       `json:"transitions"` // every transition
	LastChange  time.Time `json:"last_change,omitzero"`
}

// StoreDay is the shared store over the period.
type StoreDay struct {
	Degraded     bool  `json:"degraded"`     // at the end of the period
	Degradations int64 `json:"degradations"` // switches to DEGRADED
	Replayed     int64 `json:"replayed"`
	Conflicts    int64 `json:"conflicts"`
}

// DryRunDay is dry-run over the period.
type DryRunDay struct {
	On        bool           `json:"on"` // at the end of the period
	Decisions int            `json:"decisions"`
	ByPolicy  map[string]int `json:"by_policy,omitempty"`
}

// DLQDay is the dead-letter queue at the end of the period.
type DLQDay struct {
	Pending     int64 `json:"pending"`
	Replaying   int64 `json:"replaying"`
	NeedsReview int64 `json:"needs_review"`
}

// Actions are what the runtime did on its own over the period, the seed's
// "Automated Actions": calls a retry saved, fallback answers, breakers
// opened and closed, dead letters replayed and resolved (by this process's
// sweeps and by operators' replays alike).
type Actions struct {
	RetriesSaved    uint64 `json:"retries_saved"`
	FallbacksServed uint64 `json:"fallbacks_served"`
	BreakersOpened  int    `json:"breakers_opened"`
	BreakersClosed  int    `json:"breakers_closed"`
	DLQReplayed     uint64 `json:"dlq_replayed"`
	DLQResolved     uint64 `json:"dlq_resolved"`
}

// Any reports whether any action was taken.
func (a Actions) Any() bool { return a != Actions{} }

// Report is one day of one runtime, or of every runtime of a fleet that
// shares a store (see Merge).
type Report struct {
	Date        string       `json:"date"` // YYYY-MM-DD in the Generator's location
	Node        string       `json:"node,omitempty"`
	Nodes       []string     `json:"nodes,omitempty"` // the processes merged into this report, sorted
	From        time.Time    `json:"from"`            // the period covered: the day, or the part of it this process saw
	To          time.Time    `json:"to"`
	Final       bool         `json:"final"` // the day is over: written at midnight
	GeneratedAt time.Time    `json:"generated_at"`
	Severity    Severity     `json:"severity"`
	Calm        bool         `json:"calm"`
	Summary     string       `json:"summary"`
	Totals      Totals       `json:"totals"`
	Resolution  Resolution   `json:"resolution"`
	Services    []ServiceDay `json:"services"` // most troubled first
	Breakers    []BreakerDay `json:"breakers"`
	Store       StoreDay     `json:"store"`
	DryRun      DryRunDay    `json:"dry_run"`
	KillSwitch  bool         `json:"kill_switch_enabled"`
	DLQ         *DLQDay      `json:"dlq,omitempty"`
	Actions     Actions      `json:"automated_actions"`
	Alerts      []Alert      `json:"alerts"`
	// Partial lists the parts that could not be read ("dlq"): they are left
	// out, not guessed.
	Partial []string `json:"partial,omitempty"`
}
