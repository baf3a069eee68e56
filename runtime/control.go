package runtime

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/baldur-go/baldur/runtime/control"
)

// The operator switches. The runtime keeps the kill switch and dry-run in one
// atomic word that every zone reads; control.Control keeps them in the
// runtime's store (Redis fleet-wide, with the DEGRADED journal during an
// outage; else the embedded store under StateDir), records who changed what
// and why, and applies every state it adopts to that word.

// openControl builds the switches on the runtime's store. A control.json left
// in StateDir by an earlier version is moved into the store.
func (rt *Runtime) openControl(ctx context.Context) error {
	opts := control.Options{Store: rt.store, Target: modeTarget{rt}, Logger: rt.log, Clock: rt.clock, Node: rt.node, Where: "store"}
	if rt.ownsStore {
		opts.Where = "embedded"
		if rt.redis != nil {
			opts.Where = "redis"
		}
		opts.LegacyFile = filepath.Join(rt.cfg.StateDir, legacyControlFile)
	}
	ctl, err := control.New(ctx, opts)
	if err != nil {
		return fmt.Errorf("baldur: kill switch and dry-run: %w", err)
	}
	rt.ctl = ctl
	return nil
}

// legacyControlFile is where earlier versions kept the switches, in StateDir.
const legacyControlFile = "control.json"

// Control returns the persisted kill switch and dry-run: Disable, Enable,
// StartDryRun and GoLive (each returns the state it put in force), Status and
// History.
func (rt *Runtime) Control() *control.Control { return rt.ctl }

// modeTarget is what control.Control drives: the atomic mode word every zone
// reads. It is unexported so that the only way to change the mode is through
// Control (persisted, fleet-wide, audited).
type modeTarget struct{ rt *Runtime }

func (m modeTarget) SetEnabled(on bool) { m.rt.setMode(modeDisabled, !on) }
func (m modeTarget) SetDryRun(on bool)  { m.rt.setMode(modeDryRun, on) }
