package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func dec(id, action string, secs int, supersedes string) decision {
	return decision{ID: id, At: base.Add(time.Duration(secs) * time.Second), Who: id, Action: action, Supersedes: supersedes}
}

// The reconciliation rule gives the same state whichever order the
// decisions reach the shared state in, and records exactly one conflict per
// contradicting pair.
func TestFoldConcurrentDecisionsIsOrderIndependent(t *testing.T) {
	for name, tc := range map[string]struct {
		a, b       decision
		ks         Switch
		mode       Mode
		rule       string
		noConflict bool
	}{
		"later wins, even when less safe": {a: dec("a", ActionDisable, 200, ""), b: dec("b", ActionEnable, 250, ""), ks: Enabled, mode: Live, rule: "later"},
		"later wins":                      {a: dec("a", ActionDisable, 300, ""), b: dec("b", ActionEnable, 250, ""), ks: Disabled, mode: Live, rule: "later"},
		"tie: DISABLED over ENABLED":      {a: dec("a", ActionEnable, 300, ""), b: dec("b", ActionDisable, 300, ""), ks: Disabled, mode: Live, rule: "tie: safer state"},
		"tie: DRY_RUN over LIVE":          {a: dec("a", ActionGoLive, 300, ""), b: dec("b", ActionDryRunOn, 300, ""), ks: Enabled, mode: DryRun, rule: "tie: safer state"},
		"agreeing decisions":              {a: dec("a", ActionDisable, 300, ""), b: dec("b", ActionDisable, 310, ""), ks: Disabled, mode: Live, noConflict: true},
		"different switches":              {a: dec("a", ActionDisable, 300, ""), b: dec("b", ActionDryRunOn, 300, ""), ks: Disabled, mode: DryRun, noConflict: true},
	} {
		t.Run(name, func(t *testing.T) {
			for _, order := range [][]decision{{tc.a, tc.b}, {tc.b, tc.a}} {
				s, conflicts := fold(Default(), order, 100)
				assert.Equal(t, tc.ks, s.KillSwitch, "order %s,%s", order[0].ID, order[1].ID)
				assert.Equal(t, tc.mode, s.Mode, "order %s,%s", order[0].ID, order[1].ID)
				require.Len(t, s.History, 2, "both decisions are kept")
				if tc.noConflict {
					assert.Empty(t, conflicts)
					continue
				}
				require.Len(t, conflicts, 1)
				assert.Equal(t, tc.rule, conflicts[0].rule)
				second := s.History[1]
				assert.NotEmpty(t, second.Conflict)
				assert.Equal(t, !conflicts[0].won, second.Superseded)
			}
		})
	}
}

// A decision made knowing the one in force simply applies, whatever the
// clocks say (a process with a slow clock can still undo a change it saw).
func TestFoldSequentialDecisionAppliesDespiteAnOlderTimestamp(t *testing.T) {
	s, conflicts := fold(Default(), []decision{dec("a", ActionDisable, 300, ""), dec("b", ActionEnable, 100, "a")}, 100)
	assert.Empty(t, conflicts)
	assert.Equal(t, Enabled, s.KillSwitch)
	assert.Equal(t, "b", s.KillSwitchID)
}

func TestFoldSkipsADecisionAlreadyApplied(t *testing.T) {
	d := dec("a", ActionDisable, 300, "")
	s, _ := fold(Default(), []decision{d}, 100)
	s2, conflicts := fold(s, []decision{d}, 100)
	assert.Empty(t, conflicts)
	assert.Equal(t, s.Revision, s2.Revision, "a journal replayed twice applies once")
	assert.Len(t, s2.History, 1)
}

// A state written by an earlier version has no per-switch stamps: they are
// read from its history, so a concurrent decision is compared with the right one.
func TestDecodeDerivesStampsFromAnOldHistory(t *testing.T) {
	s, err := Decode([]byte(`{"schema":1,"kill_switch":"DISABLED","mode":"DRY_RUN","revision":2,"history":[
		{"at":"2025-03-01T12:00:00Z","who":"alice","action":"disable","kill_switch":"DISABLED","mode":"LIVE","revision":1},
		{"at":"2025-03-01T12:01:00Z","who":"bob","action":"dry_run_on","kill_switch":"DISABLED","mode":"DRY_RUN","revision":2}]}`))
	require.NoError(t, err)
	assert.Equal(t, base, s.KillSwitchAt)
	assert.Equal(t, base.Add(time.Minute), s.ModeAt)
	// A decision from before the outage that did not know this state, older
	// than the disable: it loses.
	s2, conflicts := fold(s, []decision{dec("x", ActionEnable, -10, "other")}, 100)
	require.Len(t, conflicts, 1)
	assert.Equal(t, Disabled, s2.KillSwitch)
	assert.Contains(t, s2.History[2].Conflict, "disable by alice")
}
