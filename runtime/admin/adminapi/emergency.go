package adminapi

import "time"

// Emergency mode and the governance gate.
const (
	PathEmergency             = "emergency"
	PathEmergencyDeclare      = "emergency/declare"
	PathEmergencyRelease      = "emergency/release"
	PathEmergencyForceRelease = "emergency/force-release"

	PathGovernance                = "governance"
	PathGovernanceStrict          = "governance/strict"
	PathGovernanceStrictEnd       = "governance/strict/end"
	PathGovernanceBreakGlass      = "governance/break-glass"
	PathGovernanceBreakGlassClose = "governance/break-glass/close"
)

// EmergencyRequest is the body of the emergency/ actions: the level to
// declare, or the level a release goes down to.
type EmergencyRequest struct {
	ActionRequest
	Level string `json:"level"` // NORMAL, ELEVATED, HIGH or CRITICAL
}

// GovernanceRequest is the body of the governance/ actions; Timeout (a Go
// duration, "1h") applies to governance/strict/ and governance/break-glass/.
type GovernanceRequest struct {
	ActionRequest
	Timeout string `json:"timeout,omitempty"`
}

// EmergencySignals is the last reading of the signals.
type EmergencySignals struct {
	At           time.Time `json:"at,omitzero"`
	BreakersOpen float64   `json:"breakers_open"`
	Breakers     int       `json:"breakers"`
	ErrorRate    float64   `json:"error_rate"`
	Calls        uint64    `json:"calls"`
	DegradedSecs float64   `json:"degraded_seconds"`
	CPU          float64   `json:"cpu"`
	Load         float64   `json:"load"`
	CallsError   string    `json:"calls_error,omitempty"`
	RateError    string    `json:"rate_error,omitempty"`
	HostError    string    `json:"host_error,omitempty"`
}

// EmergencyRecovery is a release under way.
type EmergencyRecovery struct {
	Target    string    `json:"target"`
	By        string    `json:"by"`
	Reason    string    `json:"reason,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Auto      bool      `json:"auto"`
}

// EmergencyChange is one entry of the level's history.
type EmergencyChange struct {
	At       time.Time `json:"at"`
	Who      string    `json:"who"`
	Action   string    `json:"action"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason,omitempty"`
	Node     string    `json:"node,omitempty"`
	Revision uint64    `json:"revision"`
	Review   bool      `json:"review,omitempty"`
}

// EmergencyStatus is the level in force and how it got there.
type EmergencyStatus struct {
	Level        string             `json:"level"`
	Source       string             `json:"source"` // operator or auto
	Floor        string             `json:"floor"`
	Reason       string             `json:"reason,omitempty"`
	ChangedBy    string             `json:"changed_by,omitempty"`
	ChangedAt    time.Time          `json:"changed_at,omitzero"`
	Revision     uint64             `json:"revision"`
	Backend      string             `json:"backend"`
	Auto         bool               `json:"auto"`
	PendingFleet bool               `json:"pending_fleet"`
	Recovery     *EmergencyRecovery `json:"recovery,omitempty"`
	RecoveryHeld string             `json:"recovery_held,omitempty"`
	NextStepAt   time.Time          `json:"next_step_at,omitzero"`
	Signals      EmergencySignals   `json:"signals"`
	Demanded     string             `json:"demanded"`
	Why          []string           `json:"why,omitempty"`
	Reviews      []EmergencyChange  `json:"reviews"`
	StateError   string             `json:"state_error,omitempty"`
	History      []EmergencyChange  `json:"history"`
	ShedCalls    uint64             `json:"shed_calls"`
}

// EmergencyAnswer is the answer of emergency/ and of its actions.
type EmergencyAnswer struct {
	Emergency EmergencyStatus `json:"emergency"`
}

// GovernanceCheck is one check of the gate as it stands.
type GovernanceCheck struct {
	Check   string `json:"check"`   // kill_switch, emergency, error_budget, strict
	Outcome string `json:"outcome"` // pass, block, failsafe, bypassed, off
	Detail  string `json:"detail"`
}

// GovernanceWindow is STRICT mode or a Break Glass grant.
type GovernanceWindow struct {
	Who    string    `json:"who"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// GovernanceChange is one entry of the gate's history or review list.
type GovernanceChange struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Node   string    `json:"node,omitempty"`
	Review bool      `json:"review,omitempty"`
}

// GovernanceObjective is one service's availability objective.
type GovernanceObjective struct {
	Service   string `json:"service"`
	Objective string `json:"objective"` // "99.9%/30d"
}

// GovernanceStatus is every check as it stands, the open windows, and the
// grants awaiting review.
type GovernanceStatus struct {
	At         time.Time             `json:"at"`
	Checks     []GovernanceCheck     `json:"checks"`
	BlockedBy  string                `json:"blocked_by,omitempty"`
	Reason     string                `json:"reason,omitempty"`
	Strict     *GovernanceWindow     `json:"strict,omitempty"`
	BreakGlass *GovernanceWindow     `json:"break_glass,omitempty"`
	BlockAt    string                `json:"block_at"`
	Objectives []GovernanceObjective `json:"objectives"`
	Reviews    []GovernanceChange    `json:"reviews"`
	History    []GovernanceChange    `json:"history"`
	StateError string                `json:"state_error,omitempty"`
}

// GovernanceAnswer is the answer of governance/ and of its actions.
type GovernanceAnswer struct {
	Governance GovernanceStatus `json:"governance"`
}
