package emergency

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sources of a level.
const (
	// SourceOperator: declared by an operator.
	SourceOperator = "operator"
	// SourceAuto: raised by the signals.
	SourceAuto = "auto"
)

// Actions recorded in the history.
const (
	ActionDeclare      = "declare"       // an operator raised the level (or re-declared it)
	ActionRaise        = "raise"         // the signals raised it
	ActionRelease      = "release"       // an operator asked for a gated recovery
	ActionRecover      = "recover"       // the signals calmed down: a gated recovery started by itself
	ActionStepDown     = "step_down"     // recovery dropped one level
	ActionForceRelease = "force_release" // an admin dropped it without the gate: flagged for review
)

// Confirmation is the word an admin types to force a release.
const Confirmation = "CONFIRM"

// ErrCorrupt: the stored state could not be decoded.
var ErrCorrupt = errors.New("emergency state is corrupt")

const schemaVersion = 1

// State is the fleet's emergency state, kept in the store under StateKey.
// Revision grows by one with every change.
type State struct {
	Schema int   `json:"schema"`
	Level  Level `json:"level"`
	// Source is who set the level in force: SourceOperator or SourceAuto.
	Source string `json:"source"`
	// Floor is the level an operator declared: automatic recovery never
	// goes below it; only a release (or a forced one) lowers it.
	Floor     Level     `json:"floor"`
	Reason    string    `json:"reason,omitempty"`
	ChangedBy string    `json:"changed_by,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"` // when the level last moved: the stabilisation window runs from here
	Revision  uint64    `json:"revision"`
	// Recovery is the gated recovery under way, if any.
	Recovery *Recovery `json:"recovery,omitempty"`
	History  []Change  `json:"history"` // oldest first, bounded
}

// Recovery is a release under way: one level at a time toward Target, each
// step after the stabilisation window and only through the gate.
type Recovery struct {
	Target    Level     `json:"target"`
	By        string    `json:"by"`
	Reason    string    `json:"reason,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Auto      bool      `json:"auto"` // started by the signals calming down, not by an operator
}

// Change is one entry of the history.
type Change struct {
	At       time.Time `json:"at"`
	Who      string    `json:"who"`
	Action   string    `json:"action"`
	From     Level     `json:"from"`
	To       Level     `json:"to"`
	Reason   string    `json:"reason,omitempty"`
	Node     string    `json:"node,omitempty"`
	Revision uint64    `json:"revision"`
	// Review marks an action that bypassed a safety check (a forced
	// release): it must be reviewed after the incident.
	Review bool `json:"review,omitempty"`
}

// Default is the state when nothing is stored: NORMAL.
func Default() State {
	return State{Schema: schemaVersion, Level: Normal, Source: SourceAuto, History: []Change{}}
}

func (s State) clone() State {
	s.History = append([]Change(nil), s.History...)
	if s.Recovery != nil {
		r := *s.Recovery
		s.Recovery = &r
	}
	return s
}

// Encode returns the JSON kept in the store.
func (s State) Encode() ([]byte, error) { return json.Marshal(s) }

// Decode parses and validates a stored state; anything it cannot vouch for
// wraps ErrCorrupt.
func Decode(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case s.Schema != schemaVersion:
		return State{}, fmt.Errorf("%w: schema %d, want %d", ErrCorrupt, s.Schema, schemaVersion)
	case s.Source != SourceOperator && s.Source != SourceAuto:
		return State{}, fmt.Errorf("%w: source %q, want operator or auto", ErrCorrupt, s.Source)
	case s.Floor > s.Level:
		return State{}, fmt.Errorf("%w: floor %s above level %s", ErrCorrupt, s.Floor, s.Level)
	case s.Recovery != nil && s.Recovery.Target >= s.Level:
		return State{}, fmt.Errorf("%w: recovery target %s not below level %s", ErrCorrupt, s.Recovery.Target, s.Level)
	}
	if s.History == nil {
		s.History = []Change{}
	}
	return s, nil
}

// record appends a change and bumps the revision.
func (s *State) record(c Change, limit int) {
	s.Revision++
	c.Revision = s.Revision
	s.History = append(s.History, c)
	if n := len(s.History) - limit; n > 0 {
		s.History = append([]Change(nil), s.History[n:]...)
	}
}

// Reviews returns the changes flagged for review, newest first.
func (s State) Reviews() []Change {
	var out []Change
	for i := len(s.History) - 1; i >= 0; i-- {
		if s.History[i].Review {
			out = append(out, s.History[i])
		}
	}
	return out
}
