package runtime

import (
	"context"
	"fmt"

	"github.com/baldur-go/baldur/runtime/control"
)

// The operator switches. The runtime keeps the kill switch and dry-run in one
// atomic word that every zone reads; control.Control persists them (a file
// under StateDir, or Redis fleet-wide), records who changed what and why, and
// applies every state it adopts to that word.

// openControl builds the switches' backend: Config.Control when given, else
// Redis when the state is in Redis (so a flip reaches the whole fleet), else
// a file in StateDir (so it survives a restart); with a Store passed in
// Config (tests), memory.
func (rt *Runtime) openControl(ctx context.Context) error {
	backend := rt.cfg.Control
	if backend == nil {
		if rt.redis != nil {
			prefix := rt.cfg.RedisPrefix
			if prefix == "" {
				prefix = control.DefaultRedisPrefix
			}
			backend = control.NewRedis(rt.redis.Client(), prefix)
		} else if rt.cfg.Store != nil {
			backend = control.NewMemory()
		} else {
			backend = control.NewFileInDir(rt.cfg.StateDir)
		}
	}
	ctl, err := control.New(ctx, control.Options{Backend: backend, Target: rt, Logger: rt.log, Clock: rt.clock})
	if err != nil {
		return fmt.Errorf("baldur: kill switch and dry-run (%s): %w", backend.Describe(), err)
	}
	rt.ctl = ctl
	return nil
}

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
