package adminapi

import (
	"net/url"
	"strings"
	"time"
)

// Canary rollouts of overrides (README, Canary rollouts).
const (
	PathCanary              = "canary"
	PathCanaryStart         = "canary/start"
	PathCanaryStartBypass   = "canary/start-bypass"
	PathCanaryPanicRollback = "canary/panic-rollback"
	PathCanaryRollout       = "canary/{id}"
	PathCanaryAbort         = "canary/{id}/abort"
)

// CanaryPath fills the {id} of a canary/{id} pattern.
func CanaryPath(pattern, id string) string {
	return strings.Replace(pattern, "{id}", url.PathEscape(id), 1)
}

// CanaryStartRequest is the body of canary/start/ and canary/start-bypass/.
type CanaryStartRequest struct {
	ActionRequest
	// Scope: method, service or all.
	Scope   string `json:"scope"`
	Service string `json:"service,omitempty"`
	Method  string `json:"method,omitempty"`
	// Directive is the override, in the directive's grammar: "retry=5 timeout=2s".
	Directive string `json:"directive"`
	// Stages in percent of calls, rising, the last 100; empty: the default.
	Stages []float64 `json:"stages,omitempty"`
	// Hold per stage, a Go duration ("5m"); empty: the default.
	Hold string `json:"hold,omitempty"`
	// Bypass is the written reason for passing the gates (canary/start-bypass/ only).
	Bypass string `json:"bypass,omitempty"`
}

// CanaryScope is a rollout's scope.
type CanaryScope struct {
	Kind    string `json:"kind"`
	Service string `json:"service,omitempty"`
	Method  string `json:"method,omitempty"`
}

// CanaryFigures are one cohort's figures, summed over the fleet.
type CanaryFigures struct {
	Calls     uint64  `json:"calls"`
	Failures  uint64  `json:"failures"`
	ErrorRate float64 `json:"error_rate_pct"`
	Samples   uint64  `json:"latency_samples"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
}

// CanaryVerdict is the last judgement of a stage.
type CanaryVerdict struct {
	Outcome string    `json:"outcome"` // wait, pass, fail; once ended by a person or the panic button: rolled_back or aborted
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// CanaryStage is one finished stage.
type CanaryStage struct {
	Percent  float64       `json:"percent"`
	Started  time.Time     `json:"started"`
	Ended    time.Time     `json:"ended"`
	Outcome  string        `json:"outcome"`
	Canary   CanaryFigures `json:"canary"`
	Baseline CanaryFigures `json:"baseline"`
	Reason   string        `json:"reason,omitempty"`
}

// CanaryRollout is one rollout.
type CanaryRollout struct {
	ID           string         `json:"id"`
	Scope        CanaryScope    `json:"scope"`
	Directive    string         `json:"directive"`
	Types        []string       `json:"types"`
	Stages       []float64      `json:"stages"`
	Stage        int            `json:"stage"`
	Percent      float64        `json:"percent"`
	HoldSeconds  float64        `json:"hold_seconds"`
	State        string         `json:"state"` // running, completed, rolled_back, aborted
	Who          string         `json:"who"`
	Reason       string         `json:"reason,omitempty"`
	Started      time.Time      `json:"started"`
	StageStarted time.Time      `json:"stage_started"`
	Deadline     time.Time      `json:"deadline"`
	Ended        time.Time      `json:"ended,omitzero"`
	EndReason    string         `json:"end_reason,omitempty"`
	Canary       CanaryFigures  `json:"canary"`
	Baseline     CanaryFigures  `json:"baseline"`
	Reference    *CanaryFigures `json:"reference,omitempty"`
	Verdict      CanaryVerdict  `json:"verdict"`
	Blocked      string         `json:"blocked,omitempty"`
	Bypass       string         `json:"bypass,omitempty"`
	Review       bool           `json:"review,omitempty"`
	History      []CanaryStage  `json:"history,omitempty"`
}

// CanaryThresholds are the figures a stage is judged by.
type CanaryThresholds struct {
	Stages               []float64 `json:"stages"`
	HoldSeconds          float64   `json:"hold_seconds"`
	StageDeadlineSeconds float64   `json:"stage_deadline_seconds"`
	MinCalls             uint64    `json:"min_calls"`
	MinSamples           uint64    `json:"min_samples"`
	MaxErrorRise         float64   `json:"max_error_rise_points"`
	MaxP99Ratio          float64   `json:"max_p99_ratio"`
	MaxEmergency         string    `json:"max_emergency"` // a level, or off
}

// CanaryCounts are this process's counters since it started.
type CanaryCounts struct {
	Started    uint64 `json:"started"`
	Promoted   uint64 `json:"promoted"`
	Completed  uint64 `json:"completed"`
	RolledBack uint64 `json:"rolled_back"`
	Aborted    uint64 `json:"aborted"`
	Blocked    uint64 `json:"blocked"`
	Watchdog   uint64 `json:"watchdog"`
	Panics     uint64 `json:"panics"`
}

// CanaryList is the answer of canary/: running rollouts first, then the
// ended ones the store keeps, newest first.
type CanaryList struct {
	Rollouts   []CanaryRollout  `json:"rollouts"`
	Thresholds CanaryThresholds `json:"thresholds"`
	Counts     CanaryCounts     `json:"counts"`
}

// CanaryAnswer is the answer of canary/{id}/, canary/start/ and canary/{id}/abort/.
type CanaryAnswer struct {
	Rollout CanaryRollout `json:"rollout"`
}

// CanaryPanicAnswer is the answer of canary/panic-rollback/: the rollouts it rolled back.
type CanaryPanicAnswer struct {
	RolledBack []CanaryRollout `json:"rolled_back"`
}
