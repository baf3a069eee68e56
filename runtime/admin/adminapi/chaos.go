package adminapi

import "time"

// Fault injection (README, Fault injection).
const (
	PathChaos     = "chaos"
	PathChaosStop = "chaos/stop"
)

// ChaosRequest is the body of chaos/ (POST: start an experiment) and
// chaos/stop/ (only Service is read).
type ChaosRequest struct {
	ActionRequest
	Service string `json:"service"`
	// ErrorPercent is the share of calls failed, 0 to 100.
	ErrorPercent float64 `json:"error_percent,omitempty"`
	// Latency is added to the calls LatencyPercent selects (a Go duration, "200ms").
	Latency        string  `json:"latency,omitempty"`
	LatencyPercent float64 `json:"latency_percent,omitempty"`
	// For is how long the experiment runs (a Go duration, "5m"); at most MaxFor.
	For string `json:"for,omitempty"`
}

// ChaosExperiment is one experiment in force.
type ChaosExperiment struct {
	Service        string    `json:"service"`
	ErrorPercent   float64   `json:"error_percent"`
	Latency        string    `json:"latency,omitempty"`
	LatencyMS      float64   `json:"latency_ms"`
	LatencyPercent float64   `json:"latency_percent"`
	StartedAt      time.Time `json:"started_at"`
	Until          time.Time `json:"until"`
	By             string    `json:"by"`
	Reason         string    `json:"reason,omitempty"`
	Node           string    `json:"node,omitempty"`
	// Applied: this process injects it (false while the emergency level is
	// HIGH or above, or with BALDUR_CHAOS_ENABLED=false here).
	Applied bool `json:"applied"`
	// What this process injected for the service since it started.
	InjectedErrors uint64 `json:"injected_errors"`
	InjectedDelays uint64 `json:"injected_delays"`
}

// ChaosAnswer is chaos/ (GET) and the answer of the chaos actions.
type ChaosAnswer struct {
	Experiments []ChaosExperiment `json:"experiments"`
	Disabled    bool              `json:"disabled"` // BALDUR_CHAOS_ENABLED=false in this process
	MaxFor      string            `json:"max_for"`
	// Paused: the emergency level (HIGH or above) stops injection and refuses experiments.
	Paused  bool             `json:"paused"`
	Started *ChaosExperiment `json:"started,omitempty"`
	Stopped *ChaosExperiment `json:"stopped,omitempty"`
}
