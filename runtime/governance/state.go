package governance

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StateKey holds the governance state (STRICT mode and Break Glass) in the
// store, shared by the fleet; ChangedChannel announces every change.
const (
	StateKey       = "{governance}"
	ChangedChannel = "governance:changed"
)

// ErrCorrupt: the stored state could not be decoded.
var ErrCorrupt = errors.New("governance state is corrupt")

const schemaVersion = 1

// Window is a declared period: STRICT mode or a Break Glass grant. It ends
// by itself at Until.
type Window struct {
	Who    string    `json:"who"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// activeAt reports whether w is in force at now.
func (w *Window) activeAt(now time.Time) bool { return w != nil && now.Before(w.Until) }

// Change is one entry of the history: who opened or ended what, and why.
type Change struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Node   string    `json:"node,omitempty"`
	// Review marks a Break Glass grant: it must be reviewed after the incident.
	Review bool `json:"review,omitempty"`
}

// Actions recorded in the history.
const (
	ActionStrictOn        = "strict_on"
	ActionStrictOff       = "strict_off"
	ActionBreakGlassOpen  = "break_glass_open"
	ActionBreakGlassClose = "break_glass_close"
)

// State is what the fleet shares.
type State struct {
	Schema     int      `json:"schema"`
	Strict     *Window  `json:"strict,omitempty"`
	BreakGlass *Window  `json:"break_glass,omitempty"`
	Revision   uint64   `json:"revision"`
	History    []Change `json:"history"` // oldest first, bounded
	// Reviews are the Break Glass grants awaiting their post-incident
	// review, oldest first; kept apart from the history so that they do not
	// roll off with it (bounded by maxReviews).
	Reviews []Change `json:"reviews"`
}

const (
	historyLimit = 100
	maxReviews   = 500
)

func defaultState() State {
	return State{Schema: schemaVersion, History: []Change{}, Reviews: []Change{}}
}

func (s State) clone() State {
	s.History = append([]Change(nil), s.History...)
	s.Reviews = append([]Change(nil), s.Reviews...)
	if s.Strict != nil {
		w := *s.Strict
		s.Strict = &w
	}
	if s.BreakGlass != nil {
		w := *s.BreakGlass
		s.BreakGlass = &w
	}
	return s
}

func (s *State) record(c Change) {
	s.Revision++
	s.History = append(s.History, c)
	if n := len(s.History) - historyLimit; n > 0 {
		s.History = append([]Change(nil), s.History[n:]...)
	}
	if c.Review {
		s.Reviews = append(s.Reviews, c)
		if n := len(s.Reviews) - maxReviews; n > 0 {
			s.Reviews = append([]Change(nil), s.Reviews[n:]...)
		}
	}
}

// Decode parses and validates a stored state.
func Decode(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if s.Schema != schemaVersion {
		return State{}, fmt.Errorf("%w: schema %d, want %d", ErrCorrupt, s.Schema, schemaVersion)
	}
	for _, w := range []*Window{s.Strict, s.BreakGlass} {
		if w != nil && !w.Until.After(w.Since) {
			return State{}, fmt.Errorf("%w: a window ends (%s) before it starts (%s)", ErrCorrupt, w.Until, w.Since)
		}
	}
	if s.History == nil {
		s.History = []Change{}
	}
	if s.Reviews == nil {
		s.Reviews = []Change{}
	}
	return s, nil
}

func jsonEncode(s State) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("governance: encode: %w", err)
	}
	return b, nil
}
