package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
)

// The emergency level and the governance gate:
//
//	viewer    emergency/, governance/ (status)
//	operator  emergency/declare/ (destructive: from HIGH it sheds calls),
//	          emergency/release/ (the gated recovery), governance/strict/ (blocks
//	          automation), governance/strict/end/ (destructive: automation resumes),
//	          governance/break-glass/close/
//	admin     emergency/force-release/ and governance/break-glass/ (destructive,
//	          both flagged for review)

func (h *Handler) emergencyRoutes(get func(Role, string, func(*call)) endpoint,
	act func(Role, bool, string, func(*call)) endpoint) []route {
	level := func(ep endpoint) endpoint {
		ep.request = func() (any, *adminapi.ActionRequest, string) {
			r := &adminapi.EmergencyRequest{}
			return r, &r.ActionRequest, "level"
		}
		return ep
	}
	window := func(ep endpoint) endpoint {
		ep.request = func() (any, *adminapi.ActionRequest, string) {
			r := &adminapi.GovernanceRequest{}
			return r, &r.ActionRequest, "timeout"
		}
		return ep
	}
	return []route{
		{adminapi.PathEmergency, []endpoint{get(RoleViewer, "the emergency level in force, its signals, the recovery under way and the forced releases awaiting review", (*call).emergencyStatus)}},
		{adminapi.PathEmergencyDeclare, []endpoint{level(act(RoleOperator, true, `raise the fleet's emergency level: {"level":"ELEVATED|HIGH|CRITICAL","reason":...}`, (*call).emergencyDeclare))}},
		{adminapi.PathEmergencyRelease, []endpoint{level(act(RoleOperator, false, `start the gated recovery down to {"level":...,"reason":...}: one level per stabilisation window, only while the error rate and CPU/load read safe`, (*call).emergencyRelease))}},
		{adminapi.PathEmergencyForceRelease, []endpoint{reviewed(level(act(RoleAdmin, true, `drop the level to {"level":...,"reason":...} at once, without the gate; flagged for review`, (*call).emergencyForceRelease)))}},
		{adminapi.PathGovernance, []endpoint{get(RoleViewer, "each governance check as it stands, STRICT mode, Break Glass and the grants awaiting review", (*call).governanceStatus)}},
		{adminapi.PathGovernanceStrict, []endpoint{window(act(RoleOperator, false, `block every automated action until it ends: {"reason":...,"timeout":"1h"} (at most 24h)`, (*call).governanceStrict))}},
		{adminapi.PathGovernanceStrictEnd, []endpoint{window(act(RoleOperator, true, "end STRICT mode before its timeout: automation resumes", (*call).governanceStrictEnd))}},
		{adminapi.PathGovernanceBreakGlass, []endpoint{reviewed(window(act(RoleAdmin, true, `let automated actions through the emergency, error-budget and STRICT checks: {"reason":...,"timeout":"1h"} (at most 4h); flagged for review`, (*call).governanceBreakGlass)))}},
		{adminapi.PathGovernanceBreakGlassClose, []endpoint{window(act(RoleOperator, false, "close Break Glass before it expires", (*call).governanceBreakGlassClose))}},
	}
}

func (c *call) emergencyStatus() {
	c.ok(adminapi.EmergencyAnswer{Emergency: c.h.emergencyView()})
}

func (c *call) governanceStatus() {
	c.ok(adminapi.GovernanceAnswer{Governance: governanceView(c.h.rt.Governance().Status(c.r.Context()))})
}

// emergencyLevel reads the body's level.
func (c *call) emergencyLevel() (emergency.Level, bool) {
	req, _ := c.req.(*adminapi.EmergencyRequest)
	if req == nil || strings.TrimSpace(req.Level) == "" {
		c.refuse(http.StatusBadRequest, GateInput, "a level is required",
			`send {"level":"ELEVATED", ...}: NORMAL, ELEVATED, HIGH or CRITICAL (CLI: the level after the command)`)
		return 0, false
	}
	l, err := emergency.ParseLevel(req.Level)
	if err != nil {
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "use NORMAL, ELEVATED, HIGH or CRITICAL")
		return 0, false
	}
	return l, true
}

// emergencyAct runs one change of the level and answers the status after it.
func (c *call) emergencyAct(do func(ctx context.Context, e *emergency.Emergency, l emergency.Level, reason string) (emergency.State, error)) {
	l, ok := c.emergencyLevel()
	if !ok {
		return
	}
	reason, ok := c.reason(true)
	if !ok {
		return
	}
	_, err := do(c.r.Context(), c.h.rt.Emergency(), l, reason)
	switch {
	case err == nil:
	case errors.Is(err, emergency.ErrWouldLower), errors.Is(err, emergency.ErrNotLower):
		c.refuse(http.StatusConflict, GateState, err.Error(), "see emergency/ for the level in force")
		return
	case errors.Is(err, control.ErrReasonRequired), errors.Is(err, control.ErrReasonTooLong):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), `send {"reason":"why you are doing this", ...} (CLI: --reason)`)
		return
	case errors.Is(err, control.ErrConfirmationRequired):
		c.refuse(http.StatusForbidden, GateConfirm, err.Error(), `send {"confirm":"CONFIRM"} in the JSON body (CLI: --confirm)`)
		return
	case errors.Is(err, emergency.ErrUnavailable) && c.h.rt.Emergency().Status().PendingFleet:
		// A raise is in force here and reaches the fleet when the store answers: pending_fleet says so.
	case errors.Is(err, emergency.ErrUnavailable):
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "the fleet store is unreachable; see health/?nocache=true")
		return
	default:
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "see emergency/ for the level in force")
		return
	}
	c.ok(adminapi.EmergencyAnswer{Emergency: c.h.emergencyView()})
}

func (c *call) emergencyDeclare() {
	c.emergencyAct(func(ctx context.Context, e *emergency.Emergency, l emergency.Level, reason string) (emergency.State, error) {
		return e.Declare(ctx, c.who, l, reason)
	})
}

func (c *call) emergencyRelease() {
	c.emergencyAct(func(ctx context.Context, e *emergency.Emergency, l emergency.Level, reason string) (emergency.State, error) {
		return e.Release(ctx, c.who, l, reason)
	})
}

func (c *call) emergencyForceRelease() {
	c.emergencyAct(func(ctx context.Context, e *emergency.Emergency, l emergency.Level, reason string) (emergency.State, error) {
		return e.ForceRelease(ctx, c.who, l, c.body.Confirm, reason)
	})
}

// governanceTimeout reads the body's timeout; zero means the default.
func (c *call) governanceTimeout() (time.Duration, bool) {
	req, _ := c.req.(*adminapi.GovernanceRequest)
	if req == nil || strings.TrimSpace(req.Timeout) == "" {
		return 0, true
	}
	d, err := env.ParseDuration(req.Timeout, false)
	if err != nil {
		c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("timeout %q: %v", req.Timeout, err), `send {"timeout":"1h"}, or leave it out for the default`)
		return 0, false
	}
	return d, true
}

// governanceAct runs one change of STRICT mode or Break Glass and answers the status after it.
func (c *call) governanceAct(reasonRequired bool, do func(ctx context.Context, g *governance.Gate, reason string, timeout time.Duration) error) {
	timeout, ok := c.governanceTimeout()
	if !ok {
		return
	}
	reason, ok := c.reason(reasonRequired)
	if !ok {
		return
	}
	err := do(c.r.Context(), c.h.rt.Governance(), reason, timeout)
	switch {
	case err == nil:
	case errors.Is(err, governance.ErrNotActive):
		c.refuse(http.StatusConflict, GateState, err.Error(), "see governance/ for what is open")
		return
	case errors.Is(err, control.ErrReasonRequired), errors.Is(err, control.ErrReasonTooLong),
		strings.Contains(err.Error(), "timeout"):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), `send {"reason":"why", "timeout":"1h"}`)
		return
	case errors.Is(err, control.ErrConfirmationRequired):
		c.refuse(http.StatusForbidden, GateConfirm, err.Error(), `send {"confirm":"CONFIRM"} in the JSON body (CLI: --confirm)`)
		return
	default:
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "the governance store refused the change; see health/?nocache=true")
		return
	}
	c.ok(adminapi.GovernanceAnswer{Governance: governanceView(c.h.rt.Governance().Status(c.r.Context()))})
}

func (c *call) governanceStrict() {
	c.governanceAct(true, func(ctx context.Context, g *governance.Gate, reason string, timeout time.Duration) error {
		_, err := g.DeclareStrict(ctx, c.who, reason, timeout)
		return err
	})
}

func (c *call) governanceStrictEnd() {
	c.governanceAct(false, func(ctx context.Context, g *governance.Gate, reason string, _ time.Duration) error {
		_, err := g.EndStrict(ctx, c.who, reason)
		return err
	})
}

func (c *call) governanceBreakGlass() {
	c.governanceAct(true, func(ctx context.Context, g *governance.Gate, reason string, timeout time.Duration) error {
		_, err := g.OpenBreakGlass(ctx, c.who, reason, c.body.Confirm, timeout)
		return err
	})
}

func (c *call) governanceBreakGlassClose() {
	c.governanceAct(false, func(ctx context.Context, g *governance.Gate, reason string, _ time.Duration) error {
		_, err := g.CloseBreakGlass(ctx, c.who, reason)
		return err
	})
}

// emergencyView is the contract's form of the emergency status.
func (h *Handler) emergencyView() adminapi.EmergencyStatus {
	st := h.rt.Emergency().Status()
	out := adminapi.EmergencyStatus{
		Level: st.Level.String(), Source: st.Source, Floor: st.Floor.String(), Reason: st.Reason,
		ChangedBy: st.ChangedBy, ChangedAt: st.ChangedAt, Revision: st.Revision, Backend: st.Backend, Auto: st.Auto,
		PendingFleet: st.PendingFleet, RecoveryHeld: st.RecoveryHeld, NextStepAt: st.NextStepAt,
		Demanded: st.Demanded.String(), Why: st.Why, StateError: st.StateError, ShedCalls: h.rt.ShedCalls(),
		Signals: adminapi.EmergencySignals{
			At: st.Signals.At, BreakersOpen: st.Signals.BreakersOpen, Breakers: st.Signals.Breakers,
			ErrorRate: st.Signals.ErrorRate, Calls: st.Signals.Calls, DegradedSecs: st.Signals.Degraded.Seconds(),
			CPU: st.Signals.CPU, Load: st.Signals.Load, CallsError: st.Signals.CallsError,
			RateError: st.Signals.RateError, HostError: st.Signals.HostError,
		},
		Reviews: emergencyChanges(st.Reviews), History: emergencyChanges(st.History),
	}
	if r := st.Recovery; r != nil {
		out.Recovery = &adminapi.EmergencyRecovery{Target: r.Target.String(), By: r.By, Reason: r.Reason, StartedAt: r.StartedAt, Auto: r.Auto}
	}
	return out
}

func emergencyChanges(cs []emergency.Change) []adminapi.EmergencyChange {
	out := make([]adminapi.EmergencyChange, 0, len(cs))
	for _, c := range cs {
		out = append(out, adminapi.EmergencyChange{At: c.At, Who: c.Who, Action: c.Action, From: c.From.String(),
			To: c.To.String(), Reason: c.Reason, Node: c.Node, Revision: c.Revision, Review: c.Review})
	}
	return out
}

// governanceView is the contract's form of the governance status.
func governanceView(st governance.Status) adminapi.GovernanceStatus {
	out := adminapi.GovernanceStatus{At: st.At, BlockedBy: string(st.BlockedBy), Reason: st.Reason, BlockAt: st.BlockAt,
		StateError: st.StateError, Checks: []adminapi.GovernanceCheck{}, Objectives: []adminapi.GovernanceObjective{},
		Reviews: governanceChanges(st.Reviews), History: governanceChanges(st.History)}
	for _, ch := range st.Checks {
		out.Checks = append(out.Checks, adminapi.GovernanceCheck{Check: string(ch.Check), Outcome: string(ch.Outcome), Detail: ch.Detail})
	}
	for _, o := range st.Objectives {
		out.Objectives = append(out.Objectives, adminapi.GovernanceObjective{Service: o.Service, Objective: o.Objective})
	}
	window := func(w *governance.Window) *adminapi.GovernanceWindow {
		if w == nil {
			return nil
		}
		return &adminapi.GovernanceWindow{Who: w.Who, Reason: w.Reason, Since: w.Since, Until: w.Until}
	}
	out.Strict, out.BreakGlass = window(st.Strict), window(st.BreakGlass)
	return out
}

func governanceChanges(cs []governance.Change) []adminapi.GovernanceChange {
	out := make([]adminapi.GovernanceChange, 0, len(cs))
	for _, c := range cs {
		out = append(out, adminapi.GovernanceChange{At: c.At, Who: c.Who, Action: c.Action, Reason: c.Reason,
			Until: c.Until, Node: c.Node, Review: c.Review})
	}
	return out
}
