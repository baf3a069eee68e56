package control

import (
	"encoding/json"
	"fmt"
	"time"
)

// Switch is the kill switch position.
type Switch string

// Mode is LIVE (policies intervene) or DRY_RUN (policies only record).
type Mode string

const (
	// Enabled: policies run (the default, and what an unreadable state means).
	Enabled Switch = "ENABLED"
	// Disabled: every wrapper calls the inner method directly.
	Disabled Switch = "DISABLED"

	// Live: policies intervene (the default).
	Live Mode = "LIVE"
	// DryRun: policies evaluate and record what they would have done.
	DryRun Mode = "DRY_RUN"
)

// Actions recorded in the history.
const (
	ActionDisable  = "disable"
	ActionEnable   = "enable"
	ActionDryRunOn = "dry_run_on"
	ActionGoLive   = "go_live"
)

// Confirmation is the word an operator types to leave dry-run.
const Confirmation = "CONFIRM"

// schemaVersion is written into every persisted state so that a future format
// change can tell old files from corrupt ones.
const schemaVersion = 1

// State is the persisted control state. The zero value is not valid; use
// Default. Revision grows by one with every change.
type State struct {
	Schema     int       `json:"schema"`
	KillSwitch Switch    `json:"kill_switch"`
	Mode       Mode      `json:"mode"`
	Reason     string    `json:"reason,omitempty"` // why the last change was made
	ChangedBy  string    `json:"changed_by,omitempty"`
	ChangedAt  time.Time `json:"changed_at,omitzero"`
	Revision   uint64    `json:"revision"`
	History    []Change  `json:"history"` // oldest first, bounded
}

// Change is one entry of the audit history: who did what, why and when, and
// the state it left behind.
type Change struct {
	At         time.Time `json:"at"`
	Who        string    `json:"who"`
	Action     string    `json:"action"`
	Reason     string    `json:"reason,omitempty"`
	KillSwitch Switch    `json:"kill_switch"`
	Mode       Mode      `json:"mode"`
	Revision   uint64    `json:"revision"`
}

// Default is the state used when nothing is stored or the stored state cannot
// be read: enabled and live, so that a broken control store never silently
// switches protection off.
func Default() State {
	return State{Schema: schemaVersion, KillSwitch: Enabled, Mode: Live, History: []Change{}}
}

// IsEnabled reports whether the kill switch lets policies run.
func (s State) IsEnabled() bool { return s.KillSwitch != Disabled }

// IsDryRun reports whether policies only record.
func (s State) IsDryRun() bool { return s.Mode == DryRun }

func (s State) clone() State {
	s.History = append([]Change(nil), s.History...)
	return s
}

// Encode returns the JSON form backends store.
func (s State) Encode() ([]byte, error) {
	return json.MarshalIndent(s, "", "  ")
}

// Decode parses and validates a stored state. Anything it cannot vouch for is
// an error wrapping ErrCorrupt.
func Decode(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case s.Schema != schemaVersion:
		return State{}, fmt.Errorf("%w: schema %d, want %d", ErrCorrupt, s.Schema, schemaVersion)
	case s.KillSwitch != Enabled && s.KillSwitch != Disabled:
		return State{}, fmt.Errorf("%w: kill_switch %q, want ENABLED or DISABLED", ErrCorrupt, s.KillSwitch)
	case s.Mode != Live && s.Mode != DryRun:
		return State{}, fmt.Errorf("%w: mode %q, want LIVE or DRY_RUN", ErrCorrupt, s.Mode)
	}
	if s.History == nil {
		s.History = []Change{}
	}
	return s, nil
}
