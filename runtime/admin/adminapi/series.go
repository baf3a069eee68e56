package adminapi

import "time"

// Series scopes, the ?scope= of the series routes: "fleet" (the default)
// merges every live process's series from the store; "process" is the
// process that answered.
const (
	SeriesScopeProcess = "process"
	SeriesScopeFleet   = "fleet"
)

// SeriesFleetInfo says what a fleet answer merged: Processes and their
// Nodes; Skipped snapshots could not be decoded; Error is set when the
// store could not be read (the answer is then the process's alone, with
// Scope "process").
type SeriesFleetInfo struct {
	Processes int      `json:"processes"`
	Nodes     []string `json:"nodes"`
	Skipped   int      `json:"skipped,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// SeriesTrack is the process-wide (fleet: merged) track on the same time
// axis: dead-letter replays per interval and the emergency level.
type SeriesTrack struct {
	Minutes []SeriesTrackPoint `json:"minutes"`
	Hours   []SeriesTrackPoint `json:"hours"`
}

// SeriesTrackPoint is one interval of the track.
type SeriesTrackPoint struct {
	Start       time.Time `json:"start"`
	StepSeconds int       `json:"step_seconds"`
	Replays     uint64    `json:"replays"`  // dead-letter replays run to an outcome
	Resolved    uint64    `json:"resolved"` // of which resolved their entry
	// Level is the emergency level at the end of the interval, Worst the
	// highest during it: NORMAL, ELEVATED, HIGH, CRITICAL.
	Level string `json:"level"`
	Worst string `json:"worst"`
}

// SeriesList is the answer of series/: every service at a glance, with its
// last hour as sparkline material.
type SeriesList struct {
	Scope       string             `json:"scope"`
	Fleet       *SeriesFleetInfo   `json:"fleet,omitempty"`
	GeneratedAt time.Time          `json:"generated_at"`
	StepSeconds int                `json:"step_seconds"` // of the sparkline points (60)
	Services    []SeriesSummary    `json:"services"`
	Annotations []SeriesAnnotation `json:"annotations"`
	Track       SeriesTrack        `json:"track"`
}

// SeriesSummary is one service in SeriesList. Calls, Failures and
// Rejections are per minute, oldest first, one per recorded minute.
type SeriesSummary struct {
	Service    string       `json:"service"`
	State      string       `json:"state"` // the breaker now: CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, FORCED_CLOSED
	Last       *SeriesPoint `json:"last,omitempty"`
	Calls      []uint64     `json:"calls"`
	Failures   []uint64     `json:"failures"`
	Rejections []uint64     `json:"rejections"`
}

// Series is the answer of series/{name}/: the last hour in one-minute
// points and the last day in one-hour points, oldest first, the breaker's
// transitions and the operator annotations on the same time axis.
type Series struct {
	Scope       string             `json:"scope"`
	Fleet       *SeriesFleetInfo   `json:"fleet,omitempty"`
	GeneratedAt time.Time          `json:"generated_at"`
	Service     string             `json:"service"`
	State       string             `json:"state"`
	Minutes     []SeriesPoint      `json:"minutes"`
	Hours       []SeriesPoint      `json:"hours"`
	Transitions []SeriesTransition `json:"transitions"`
	Annotations []SeriesAnnotation `json:"annotations"`
	Track       SeriesTrack        `json:"track"`
}

// SeriesPoint is one interval [start, start+step_seconds).
type SeriesPoint struct {
	Start       time.Time `json:"start"`
	StepSeconds int       `json:"step_seconds"`
	Calls       uint64    `json:"calls"`
	Failures    uint64    `json:"failures"`
	Rejections  uint64    `json:"rejections"`
	// Samples counts the sampled attempt durations; P50Ms and P99Ms are the
	// upper bounds of the histogram buckets the quantiles fall in.
	Samples uint64  `json:"samples"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	// State is the breaker at the end of the interval, Worst the most
	// restrictive state during it (an OPEN that lasted seconds shows).
	State       string `json:"state"`
	Worst       string `json:"worst"`
	Transitions int    `json:"transitions"`
	DLQDepth    int64  `json:"dlq_depth"` // -1: the queue could not be read
}

// SeriesTransition is one breaker transition.
type SeriesTransition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// SeriesAnnotation is an event on the time axis: a kill-switch or dry-run
// change (Kind is the control action), an emergency level change (Kind
// "emergency"), or what another subsystem added (canary, experiment...).
type SeriesAnnotation struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Service string    `json:"service,omitempty"` // empty: every service
	Who     string    `json:"who"`
	Reason  string    `json:"reason,omitempty"`
}

// SeriesPath fills the service's name into series/{name}.
func SeriesPath(name string) string { return BreakerPath(PathSeriesService, name) }
