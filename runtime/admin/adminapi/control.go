package adminapi

import "time"

// ControlStatus is the kill switch and dry-run as control/ reports them.
type ControlStatus struct {
	KillSwitch   string    `json:"kill_switch"` // ENABLED or DISABLED
	Mode         string    `json:"mode"`        // LIVE or DRY_RUN
	Enabled      bool      `json:"enabled"`
	DryRun       bool      `json:"dry_run"`
	Reason       string    `json:"reason,omitempty"`
	ChangedBy    string    `json:"changed_by,omitempty"`
	ChangedAt    time.Time `json:"changed_at,omitzero"`
	Revision     uint64    `json:"revision"`
	Backend      string    `json:"backend"` // where the switches are stored
	PendingFleet bool      `json:"pending_fleet"`
	StateError   string    `json:"state_error,omitempty"`
}

// ControlChange is one recorded decision of an operator.
type ControlChange struct {
	ID         string    `json:"id,omitempty"`
	At         time.Time `json:"at"`
	Who        string    `json:"who"`
	Action     string    `json:"action"`
	Reason     string    `json:"reason,omitempty"`
	Node       string    `json:"node,omitempty"`
	KillSwitch string    `json:"kill_switch"`
	Mode       string    `json:"mode"`
	Revision   uint64    `json:"revision"`
	Conflict   string    `json:"conflict,omitempty"`
	Superseded bool      `json:"superseded,omitempty"`
}

// ControlAnswer is the answer of control/ and control/status/.
type ControlAnswer struct {
	Control ControlStatus `json:"control"`
}

// ControlHistory is the answer of control/history/, newest first.
type ControlHistory struct {
	History []ControlChange `json:"history"`
}

// ControlChangeAnswer is the answer of the control/ actions: the status
// after the change, the change, and whether it has yet to reach the fleet.
type ControlChangeAnswer struct {
	Control      ControlStatus  `json:"control"`
	Change       *ControlChange `json:"change"`
	PendingFleet bool           `json:"pending_fleet"`
}
