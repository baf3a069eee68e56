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
	// Enabled: policies run (the default, and what an unreadable state means at start).
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
// change can tell old states from corrupt ones. Fields added since (the
// per-switch decision stamps, change IDs) are optional, so states written by
// earlier versions still read.
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
	// KillSwitchAt and ModeAt are when the decision now in force on each
	// switch was made, KillSwitchID and ModeID which one it was: what
	// reconciliation compares a concurrent decision with.
	KillSwitchAt time.Time `json:"kill_switch_at,omitzero"`
	KillSwitchID string    `json:"kill_switch_id,omitempty"`
	ModeAt       time.Time `json:"mode_at,omitzero"`
	ModeID       string    `json:"mode_id,omitempty"`
	History      []Change  `json:"history"` // in the order applied, bounded
}

// Change is one entry of the audit history: who did what, why and when, and
// the state it left behind.
type Change struct {
	ID         string    `json:"id,omitempty"` // unique per decision
	At         time.Time `json:"at"`           // when the operator made it
	Who        string    `json:"who"`
	Action     string    `json:"action"`
	Reason     string    `json:"reason,omitempty"`
	Node       string    `json:"node,omitempty"` // the process that took it
	KillSwitch Switch    `json:"kill_switch"`
	Mode       Mode      `json:"mode"`
	Revision   uint64    `json:"revision"`
	// Conflict is set on a decision that met a contradicting decision made
	// concurrently elsewhere (while the fleet store was unreachable): which one
	// it was and which won.
	Conflict string `json:"conflict,omitempty"`
	// Superseded is true when the decision lost reconciliation: it is kept
	// here, but the state it asked for is not in force.
	Superseded bool `json:"superseded,omitempty"`
}

// decision is what an operator action journals: enough to fold it into any
// state, in any process, later.
type decision struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Action string    `json:"action"`
	Reason string    `json:"reason,omitempty"`
	Node   string    `json:"node,omitempty"`
	// Supersedes is the ID of the decision in force on the same switch when
	// this one was made, as its process knew it: equal to the state's means a
	// plain sequential change, different means a concurrent one.
	Supersedes string `json:"supersedes"`
}

// Default is the state used when nothing is stored, or when the stored state
// cannot be read at start: enabled and live, so that a broken control store
// never silently switches protection off.
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

// Encode returns the JSON form kept in the store.
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
	// A state written before the per-switch stamps existed: the newest change
	// of each switch in the history is the decision in force.
	for i := len(s.History) - 1; i >= 0 && (s.KillSwitchAt.IsZero() || s.ModeAt.IsZero()); i-- {
		ch := s.History[i]
		if ch.Superseded {
			continue
		}
		if onKillSwitch(ch.Action) && s.KillSwitchAt.IsZero() {
			s.KillSwitchAt, s.KillSwitchID = ch.At, ch.ID
		} else if !onKillSwitch(ch.Action) && s.ModeAt.IsZero() {
			s.ModeAt, s.ModeID = ch.At, ch.ID
		}
	}
	return s, nil
}

// onKillSwitch reports whether action moves the kill switch (else dry-run).
func onKillSwitch(action string) bool { return action == ActionDisable || action == ActionEnable }

// position is a switch setting as a comparable word, with its safety rank:
// DISABLED over ENABLED, DRY_RUN over LIVE.
func position(action string) (value string, safer bool) {
	switch action {
	case ActionDisable:
		return string(Disabled), true
	case ActionEnable:
		return string(Enabled), false
	case ActionDryRunOn:
		return string(DryRun), true
	}
	return string(Live), false
}

// inForce returns the setting of the switch action moves, the decision that
// set it and when that decision was made.
func (s *State) inForce(action string) (value, id string, at time.Time) {
	if onKillSwitch(action) {
		return string(s.KillSwitch), s.KillSwitchID, s.KillSwitchAt
	}
	return string(s.Mode), s.ModeID, s.ModeAt
}

func (s *State) set(d decision) {
	v, _ := position(d.Action)
	if onKillSwitch(d.Action) {
		s.KillSwitch, s.KillSwitchID, s.KillSwitchAt = Switch(v), d.ID, d.At
	} else {
		s.Mode, s.ModeID, s.ModeAt = Mode(v), d.ID, d.At
	}
}

func (s *State) has(id string) bool {
	for i := range s.History {
		if s.History[i].ID == id {
			return true
		}
	}
	return false
}

// inForceChange returns the history entry of the decision in force on the
// switch action moves (for a state of an earlier version, whose changes have
// no ID, the newest applied change of that switch).
func (s *State) inForceChange(action string) (Change, bool) {
	_, id, _ := s.inForce(action)
	for i := len(s.History) - 1; i >= 0; i-- {
		ch := s.History[i]
		if ch.ID == id && !ch.Superseded && onKillSwitch(ch.Action) == onKillSwitch(action) {
			return ch, true
		}
	}
	return Change{}, false
}

// conflict is one pair of contradicting concurrent decisions met by fold.
type conflict struct {
	decision, against Change
	won               bool   // whether decision (the one folded) won
	rule              string // "later" or "tie: safer state"
}

// fold applies decisions to s in order and returns the new state, with every
// decision in the history (limit entries at most) and the conflicts met.
//
// A decision made knowing the one in force on its switch (Supersedes equals
// it) simply applies. A concurrent one (made while its process could not see
// the fleet's) that asks for another setting is a conflict: the later decision
// by timestamp wins, a tie goes to the safer setting (DISABLED over ENABLED,
// DRY_RUN over LIVE), and the loser stays in the history marked superseded.
// A decision already in the history (journal replays are at-least-once) is
// skipped.
func fold(s State, ds []decision, limit int) (State, []conflict) {
	s = s.clone()
	var conflicts []conflict
	for _, d := range ds {
		if d.ID != "" && s.has(d.ID) {
			continue
		}
		want, safer := position(d.Action)
		cur, curID, curAt := s.inForce(d.Action)
		ch := Change{ID: d.ID, At: d.At, Who: d.Who, Action: d.Action, Reason: d.Reason, Node: d.Node}
		applied := true
		switch {
		case d.Supersedes == curID:
			s.set(d)
		case want == cur:
			// Concurrent but agreeing: the later of the two is the one in force.
			if d.At.After(curAt) {
				s.set(d)
			}
		default:
			c := conflict{decision: ch, rule: "later"}
			var known bool
			if c.against, known = s.inForceChange(d.Action); !known {
				c.against = Change{ID: curID, At: curAt, Action: actionFor(d.Action, cur)}
			}
			switch {
			case d.At.After(curAt):
				c.won = true
			case d.At.Equal(curAt):
				c.won, c.rule = safer, "tie: safer state"
			}
			applied = c.won
			if applied {
				s.set(d)
			}
			ch.Conflict = conflictNote(c)
			conflicts = append(conflicts, c)
		}
		s.Schema = schemaVersion
		s.Revision++
		if applied {
			s.Reason, s.ChangedBy, s.ChangedAt = d.Reason, d.Who, d.At
		}
		ch.KillSwitch, ch.Mode, ch.Revision, ch.Superseded = s.KillSwitch, s.Mode, s.Revision, !applied
		s.History = append(s.History, ch)
		if n := len(s.History) - limit; n > 0 {
			s.History = append([]Change(nil), s.History[n:]...)
		}
	}
	return s, conflicts
}

// actionFor names the action that set a switch to value, for a decision no
// longer in the history.
func actionFor(sameSwitchAs, value string) string {
	for _, a := range []string{ActionDisable, ActionEnable, ActionDryRunOn, ActionGoLive} {
		if v, _ := position(a); v == value && onKillSwitch(a) == onKillSwitch(sameSwitchAs) {
			return a
		}
	}
	return ""
}

func conflictNote(c conflict) string {
	other := fmt.Sprintf("%s by %s at %s", c.against.Action, orUnknown(c.against.Who), c.against.At.UTC().Format(time.RFC3339Nano))
	if c.against.Node != "" {
		other += " on " + c.against.Node
	}
	if c.won {
		return "concurrent with " + other + "; this decision won (" + c.rule + ")"
	}
	return "concurrent with " + other + ", which won (" + c.rule + "); not applied"
}
