package adminapi

import "time"

// Summary is the dashboard/summary/ answer.
type Summary struct {
	Verdict       string `json:"verdict"`
	VerdictReason string `json:"verdict_reason"`
	VerdictRule   string `json:"verdict_rule"`
	// VerdictService is the service the reason is about (the first breaker
	// it names, the window's noisiest service, the retry alert's...); empty
	// when it names none. The console's reason link opens its plot.
	VerdictService string    `json:"verdict_service,omitempty"`
	Mode           string    `json:"mode"` // LIVE, DRY_RUN or DISABLED
	GeneratedAt    time.Time `json:"generated_at"`
	Cached         bool      `json:"cached"`
	// WindowSeconds is the span the call counts cover; SinceStart is set when
	// they cover everything since the runtime started.
	WindowSeconds float64 `json:"window_seconds,omitempty"`
	SinceStart    bool    `json:"since_start,omitempty"`

	Overview         Overview       `json:"overview"`
	Resolution       Resolution     `json:"resolution"`
	RecentActivity   []Activity     `json:"recent_activity"`
	NoisiestServices []NoisyService `json:"noisiest_services"`
	FailureTypes     []FailureType  `json:"failure_types"`
	RetryAlerts      []RetryAlert   `json:"retry_alerts"`
	Breakers         BreakerCounts  `json:"breakers"`
	Zones            int            `json:"zones"`
	// Chaos lists the services under a fault-injection experiment here.
	Chaos        []string       `json:"chaos,omitempty"`
	WouldHave    map[string]int `json:"would_have"`
	DLQ          SummaryDLQ     `json:"dlq"`
	Control      *ControlStatus `json:"control"` // nil when the server has no kill switch
	Draining     bool           `json:"draining"`
	Partial      []string       `json:"partial"`
	Compartments []Compartment  `json:"compartments"`
}

// Overview counts what the runtime protects and what the window saw.
type Overview struct {
	Services     int     `json:"services"`
	Methods      int     `json:"methods"`
	Store        string  `json:"store"` // NORMAL or DEGRADED
	Calls        uint64  `json:"calls"`
	Successes    uint64  `json:"successes"`
	Failures     uint64  `json:"failures"`
	Rejected     uint64  `json:"rejected"`
	Retries      uint64  `json:"retries"`
	Timeouts     uint64  `json:"timeouts"`
	Fallbacks    uint64  `json:"fallbacks"`
	FailureRatio float64 `json:"failure_ratio"`
}

// BreakerCounts counts breakers by state.
type BreakerCounts struct {
	Total   int            `json:"total"`
	ByState map[string]int `json:"by_state"`
}

// Activity is one recent event, newest first in the summary.
type Activity struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"` // breaker, dry_run, control
	Service string    `json:"service,omitempty"`
	What    string    `json:"what"`
	Reason  string    `json:"reason,omitempty"`
}

// NoisyService is a service that failed or was refused in the window.
type NoisyService struct {
	Service      string  `json:"service"`
	Failures     uint64  `json:"failures"`
	Rejected     uint64  `json:"rejected"`
	Timeouts     uint64  `json:"timeouts"`
	FailureRatio float64 `json:"failure_ratio"`
}

// FailureType counts one kind of trouble in the window: timeout, error (a
// failed attempt that was not a timeout), breaker_open, bulkhead_full. The
// runtime does not record error types, only these kinds.
type FailureType struct {
	Type  string `json:"type"`
	Count uint64 `json:"count"`
}

// RetryAlert is a method that retried a lot in the window.
type RetryAlert struct {
	Service string  `json:"service"`
	Method  string  `json:"method"`
	Retries uint64  `json:"retries"`
	Calls   uint64  `json:"calls"`
	Ratio   float64 `json:"ratio"`
	Message string  `json:"message"`
}

// Resolution is how many troubled calls were resolved (the report's
// resolution rate), field for field the runtime report's.
type Resolution struct {
	Rate             *float64 `json:"rate"`
	Troubled         uint64   `json:"troubled"`
	ResolvedFallback uint64   `json:"resolved_by_fallback"`
	RetriedSuccesses uint64   `json:"resolved_by_retry"`
	Unresolved       uint64   `json:"unresolved"`
	Definition       string   `json:"definition"`
}

// SummaryDLQ is the dead-letter queue's part of the summary: the entries in
// each state across every domain, or why the queue could not be read.
type SummaryDLQ struct {
	Available   bool   `json:"available"`
	Pending     int64  `json:"pending"`
	Replaying   int64  `json:"replaying"`
	NeedsReview int64  `json:"needs_review"`
	Error       string `json:"error,omitempty"`
}
