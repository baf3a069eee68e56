package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

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
	opts := control.Options{Store: rt.store, Target: rt, Logger: rt.log, Clock: rt.clock, Node: rt.node, Where: "store",
		PollInterval: controlPoll, Beat: rt.beats.control.Beat}
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

// controlPoll is how often the switches are re-read behind the change feed.
const controlPoll = 5 * time.Second

// legacyControlFile is where earlier versions kept the switches, in StateDir.
const legacyControlFile = "control.json"

// Control returns the persisted kill switch and dry-run.
func (rt *Runtime) Control() *control.Control { return rt.ctl }

// Disable turns the kill switch off: every wrapper delegates untouched. A
// reason is required; who, why and when are recorded.
func (rt *Runtime) Disable(ctx context.Context, who, reason string) error {
	_, err := rt.ctl.Disable(ctx, who, reason)
	return err
}

// Enable turns policies back on.
func (rt *Runtime) Enable(ctx context.Context, who, reason string) error {
	_, err := rt.ctl.Enable(ctx, who, reason)
	return err
}

// StartDryRun makes every policy evaluate and record, but never intervene.
func (rt *Runtime) StartDryRun(ctx context.Context, who, reason string) error {
	_, err := rt.ctl.StartDryRun(ctx, who, reason)
	return err
}

// GoLive leaves dry-run; confirm must be exactly "CONFIRM".
func (rt *Runtime) GoLive(ctx context.Context, who, confirm, reason string) error {
	_, err := rt.ctl.GoLive(ctx, who, confirm, reason)
	return err
}
