package adminapi

import "time"

// SeriesScope says what the series cover: "process", the process that
// answered (the rings are not merged across the fleet).
const SeriesScopeProcess = "process"

// SeriesList is the answer of series/: every service at a glance, with its
// last hour as sparkline material.
type SeriesList struct {
	Scope       string             `json:"scope"`
	GeneratedAt time.Time          `json:"generated_at"`
	StepSeconds int                `json:"step_seconds"` // of the sparkline points (60)
	Services    []SeriesSummary    `json:"services"`
	Annotations []SeriesAnnotation `json:"annotations"`
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
	GeneratedAt time.Time          `json:"generated_at"`
	Service     string             `json:"service"`
	State       string             `json:"state"`
	Minutes     []SeriesPoint      `json:"minutes"`
	Hours       []SeriesPoint      `json:"hours"`
	Transitions []SeriesTransition `json:"transitions"`
	Annotations []SeriesAnnotation `json:"annotations"`
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

// SeriesAnnotation is a kill-switch or dry-run change on the time axis.
type SeriesAnnotation struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // the control action
	Who    string    `json:"who"`
	Reason string    `json:"reason,omitempty"`
}

// SeriesPath fills the service's name into series/{name}.
func SeriesPath(name string) string { return BreakerPath(PathSeriesService, name) }
