package canary

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
)

// Chaos is the fault-injection side of the runtime: whether an experiment
// targets service now.
type Chaos interface {
	Active(service string) bool
}

// ChaosFunc adapts a function to Chaos.
type ChaosFunc func(service string) bool

// Active calls f.
func (f ChaosFunc) Active(service string) bool { return f(service) }

// Gates are what the gates read. Every gate fails closed: a missing reader
// blocks, naming itself, except Chaos (nil: no fault injection in this
// build, nothing to guard against).
type Gates struct {
	// KillSwitchEngaged reports whether the kill switch is engaged (policies
	// disabled).
	KillSwitchEngaged func() bool
	// Emergency is the emergency level in force.
	Emergency func() emergency.Level
	// Governance asks the governance gate; a decision that is FAILSAFE (a
	// check could not be evaluated) blocks here.
	Governance func(ctx context.Context, a governance.Action) governance.Decision
	// Chaos guards against an experiment on the same service.
	Chaos Chaos
	// Services lists every service (the chaos guard of scope all).
	Services func() []string
}

// ActionPromote is the governance action a start or promotion asks for.
const ActionPromote = "canary.promote"

// check runs the gates in order for a rollout on scope; the first that
// refuses is returned. bypass (a written reason) lets everything but the kill
// switch through.
func (c *Controller) check(ctx context.Context, id string, scope Scope, bypass string) *BlockedError {
	g := c.gates
	if g.KillSwitchEngaged == nil {
		return &BlockedError{Gate: GateKillSwitch, Reason: "the kill switch cannot be read"}
	}
	if g.KillSwitchEngaged() {
		return &BlockedError{Gate: GateKillSwitch, Reason: "the kill switch is engaged"}
	}
	if bypass != "" {
		c.log.LogAttrs(ctx, slog.LevelWarn, "canary.gate_bypassed", slog.String("rollout", id),
			slog.String("scope", scope.String()), slog.String("reason", bypass))
		return nil
	}
	if !c.cfg.EmergencyOff {
		if g.Emergency == nil {
			return &BlockedError{Gate: GateEmergency, Reason: "the emergency level cannot be read"}
		}
		if l := g.Emergency(); l >= c.cfg.MaxEmergency {
			return &BlockedError{Gate: GateEmergency, Reason: fmt.Sprintf("emergency level %s is at or above %s (%s)", l, c.cfg.MaxEmergency, EnvMaxEmergency)}
		}
	}
	if g.Governance == nil {
		return &BlockedError{Gate: GateGovernance, Reason: "the governance check cannot run: no gate"}
	}
	d := g.Governance(ctx, governance.Action{Name: ActionPromote, Service: scope.Service})
	switch {
	case !d.Allowed:
		return &BlockedError{Gate: GateGovernance, Reason: fmt.Sprintf("%s: %s", d.BlockedBy, d.Reason)}
	case d.Failsafe:
		var failed []string
		for _, r := range d.Checks {
			if r.Outcome == governance.Failsafe {
				failed = append(failed, string(r.Check))
			}
		}
		return &BlockedError{Gate: GateGovernance, Reason: fmt.Sprintf("the governance check cannot run (%v could not be evaluated)", failed)}
	}
	if g.Chaos != nil {
		services := []string{scope.Service}
		if scope.Kind == ScopeAll {
			services = nil
			if g.Services != nil {
				services = g.Services()
			}
		}
		for _, s := range services {
			if g.Chaos.Active(s) {
				return &BlockedError{Gate: GateChaos, Reason: fmt.Sprintf("a fault-injection experiment targets service %s", s)}
			}
		}
	}
	return nil
}
