package adminapi

import "time"

// Health statuses: overall and per check.
const (
	Healthy   = "healthy"
	Degraded  = "degraded"
	Unhealthy = "unhealthy"
)

// Health is the answer of health/: 200 when healthy or degraded, 503 when
// unhealthy. Without a viewer key the checks carry their status words only.
type Health struct {
	Status    string                 `json:"status"`
	Draining  bool                   `json:"draining"`
	Checks    map[string]HealthCheck `json:"checks"`
	CheckedAt time.Time              `json:"checked_at"`
	Cached    bool                   `json:"cached"`
}

// HealthCheck is one check of a Health answer. A failing critical check
// makes the service unhealthy, a failing other one degraded.
type HealthCheck struct {
	Status   string `json:"status"`
	Critical bool   `json:"critical,omitempty"`
	Error    string `json:"error,omitempty"`
	Detail   any    `json:"detail,omitempty"` // the check's own shape (breakers: names; control: its status)
}
