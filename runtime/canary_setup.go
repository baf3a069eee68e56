package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/schedule"
)

// Canary rollouts in the runtime (README, Canary rollouts): the controller
// keeps the rollouts in the runtime's store; three scheduler tasks drive it.
const (
	// CanaryStepTask judges and promotes, on the leader; an automated action,
	// so the governance gate stands in front of each run.
	CanaryStepTask = "canary_step"
	// CanaryWatchdogTask rolls back stalled rollouts and records which gate
	// blocks the others, on the leader; not gated (it only rolls back).
	CanaryWatchdogTask = "canary_watchdog"
	// CanarySyncTask stages the rollouts' fractions in this process and
	// publishes its cohort figures, on every process.
	CanarySyncTask = "canary_sync"
)

// openCanary builds the controller when an override engine is configured
// (Config.CanaryOverrides) and schedules its tasks. Without one, Canary()
// is nil and the routes answer 503.
func (rt *Runtime) openCanary(ctx context.Context) error {
	ov := rt.cfg.CanaryOverrides
	if ov == nil {
		return nil
	}
	c, err := canary.New(canary.Options{Store: rt.store, Overrides: ov, Config: rt.cfg.Canary, Clock: rt.clock,
		Logger: rt.log, Node: rt.node, Gates: canary.Gates{
			KillSwitchEngaged: func() bool { return !rt.Enabled() },
			Emergency:         func() emergency.Level { return rt.EmergencyLevel() },
			Governance:        rt.Governance().Check,
			Chaos:             rt.canaryChaos(),
			Services:          rt.serviceNames,
		}})
	if err != nil {
		return fmt.Errorf("baldur: canary: %w", err)
	}
	if err := c.Follow(ctx); err != nil {
		rt.log.LogAttrs(ctx, slog.LevelWarn, "canary.follow_failed", slog.String("error", err.Error()))
	}
	rt.canary = c
	every := canary.DefaultInterval.String()
	for _, t := range []struct {
		name string
		fn   schedule.Func
		opts schedule.TaskOptions
	}{
		{CanaryStepTask, c.Step, schedule.TaskOptions{Automated: true}},
		{CanaryWatchdogTask, c.Watchdog, schedule.TaskOptions{}},
		{CanarySyncTask, c.Sync, schedule.TaskOptions{Scope: schedule.EveryNode}},
	} {
		if err := rt.Schedule(t.name, every, t.fn, t.opts); err != nil {
			return fmt.Errorf("baldur: canary: %w", err)
		}
	}
	return nil
}

// canaryChaos is the chaos guard: the runtime's fault injection, when it
// has one. This build has none (nil: nothing to guard against).
func (rt *Runtime) canaryChaos() canary.Chaos { return nil }

// serviceNames lists the services of every zone, sorted.
func (rt *Runtime) serviceNames() []string {
	rt.mu.Lock()
	seen := map[string]bool{}
	for k := range rt.zones {
		seen[k.service] = true
	}
	rt.mu.Unlock()
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Canary returns the canary controller: list, start, abort, panic rollback.
// nil when no override engine is configured.
func (rt *Runtime) Canary() *canary.Controller { return rt.canary }

func (rt *Runtime) closeCanary() {
	if rt.canary != nil {
		rt.canary.Close()
	}
}
