package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/policy"
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

// openCanary builds the controller on the runtime's policy overrides (or
// Config.CanaryOverrides) and schedules its tasks.
func (rt *Runtime) openCanary(ctx context.Context) error {
	ov := rt.cfg.CanaryOverrides
	if ov == nil {
		ov = policyCanary{rt.Policy()}
	}
	c, err := canary.New(canary.Options{Store: rt.store, Overrides: ov, Config: rt.cfg.Canary, Clock: rt.clock,
		Logger: rt.log, Node: rt.node, OnChange: func(r canary.Rollout, what string) {
			rt.annotate("canary", r.Scope.Service, "canary "+r.ID+" ("+r.Directive+") "+what)
		}, Gates: canary.Gates{
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

// canaryChaos is the chaos guard: whether a fault-injection experiment
// targets a service (Chaos is nil-safe), read at each check, so the order of
// openChaos and openCanary does not matter.
func (rt *Runtime) canaryChaos() canary.Chaos {
	return canary.ChaosFunc(func(service string) bool { return rt.chaos.Active(service) })
}

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
func (rt *Runtime) Canary() *canary.Controller { return rt.canary }

func (rt *Runtime) closeCanary() {
	if rt.canary != nil {
		rt.canary.Close()
	}
}

// policyCanary is the runtime's policy overrides as the canary's engine:
// one canary per rollout, at most one per config type and scope, kept in
// the store for the whole fleet.
type policyCanary struct{ p *Policies }

// policyScope is the policy package's spelling of a scope.
func policyScope(s canary.Scope) string {
	switch s.Kind {
	case canary.ScopeAll:
		return string(policy.All)
	case canary.ScopeService:
		return s.Service
	}
	return s.Service + "." + s.Method
}

// inputErr turns the engine's refusal of bad input into the canary's.
func inputErr(field string, err error) error {
	if errors.Is(err, ErrBadOverride) {
		return &canary.InputError{Field: field, Reason: err.Error()}
	}
	return err
}

func (a policyCanary) Validate(s canary.Scope, directive string) ([]string, error) {
	_, canon, err := a.p.check(context.Background(), policyScope(s), directive)
	if err != nil {
		return nil, err
	}
	o, err := annotations.ParseOverride(canon)
	if err != nil {
		return nil, err
	}
	return annotations.RolloutTypes(o), nil
}

func (a policyCanary) Stage(ctx context.Context, r canary.Rollout, fraction float64) error {
	permille := min(max(int(math.Round(fraction*policy.MaxPermille)), 1), policy.MaxPermille)
	_, err := a.p.StageCanary(ctx, r.ID, policyScope(r.Scope), r.Directive, permille, r.Who)
	return inputErr("directive", err)
}

func (a policyCanary) Unstage(ctx context.Context, r canary.Rollout, who string) error {
	if err := a.p.ClearCanary(ctx, r.ID, who); err != nil && !errors.Is(err, ErrNoOverride) {
		return err
	}
	return nil
}

func (a policyCanary) Staged(r canary.Rollout) (float64, bool) {
	d := a.p.Doc()
	c, ok := d.Canary(r.ID)
	if !ok {
		return 0, false
	}
	return float64(c.Permille) / policy.MaxPermille, true
}

func (a policyCanary) Cohorts(r canary.Rollout) (canary.Cohort, canary.Cohort, error) {
	c, b, err := a.p.Cohorts(r.ID)
	if err != nil {
		return canary.Cohort{}, canary.Cohort{}, err
	}
	return cohortOf(c), cohortOf(b), nil
}

// cohortOf counts attempts: successes and failures (the caller's own
// cancellations left out), each sampled duration at its bucket's bound.
func cohortOf(s CallStats) canary.Cohort {
	c := canary.Cohort{Calls: s.Successes + s.Failures, Failures: s.Failures}
	for i, n := range s.Buckets {
		bound := 2 * DurationBuckets[len(DurationBuckets)-1]
		if i < len(DurationBuckets) {
			bound = DurationBuckets[i]
		}
		c.Latency[canary.BucketOf(bound)] += n
	}
	return c
}

func (a policyCanary) Commit(ctx context.Context, r canary.Rollout) error {
	_, err := a.p.PromoteCanary(ctx, r.ID, r.Who)
	return err
}
