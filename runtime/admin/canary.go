package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/canary"
	"github.com/baldur-go/baldur/runtime/store"
)

// Canary rollouts of overrides:
//
//	viewer    canary/, canary/{id}/ (status, cohort figures, verdict)
//	operator  canary/start/ (gated: kill switch, emergency, governance, chaos),
//	          canary/{id}/abort/ (the safe direction: not destructive)
//	admin     canary/start-bypass/ (passes every gate but the kill switch;
//	          destructive, flagged for review), canary/panic-rollback/ (every
//	          running rollout, fleet-wide; destructive)

func (h *Handler) canaryRoutes(get func(Role, string, func(*call)) endpoint,
	act func(Role, bool, string, func(*call)) endpoint) []route {
	start := func(ep endpoint) endpoint {
		ep.request = func() (any, *adminapi.ActionRequest, string) {
			r := &adminapi.CanaryStartRequest{}
			return r, &r.ActionRequest, "scope, service, method, directive, stages, hold, bypass"
		}
		return ep
	}
	return []route{
		{adminapi.PathCanary, []endpoint{get(RoleViewer, "canary rollouts, running first: stage, cohort figures (canary against baseline), verdict, the gate that blocks; the thresholds", (*call).canaryList)}},
		{adminapi.PathCanaryStart, []endpoint{start(act(RoleOperator, false, `stage an override for a fraction of calls, promoted stage by stage: {"scope":"method|service|all","service":...,"method":...,"directive":"retry=5 timeout=2s","stages":[1,10,50,100],"hold":"5m","reason":...}; refused while a gate blocks`, (*call).canaryStart))}},
		{adminapi.PathCanaryStartBypass, []endpoint{reviewed(start(act(RoleAdmin, true, `canary/start/ past the emergency, governance and chaos gates (never the kill switch), at the start and every promotion: {"bypass":"the written reason", ...}; flagged for review`, (*call).canaryStartBypass)))}},
		{adminapi.PathCanaryPanicRollback, []endpoint{act(RoleAdmin, true, `roll back every running rollout across the fleet at once: {"reason":...,"confirm":"CONFIRM"}`, (*call).canaryPanic)}},
		{adminapi.PathCanaryRollout, []endpoint{get(RoleViewer, "one rollout: its stages, cohort figures and verdict", (*call).canaryGet)}},
		{adminapi.PathCanaryAbort, []endpoint{act(RoleOperator, false, `roll one rollout back now: {"reason":...}`, (*call).canaryAbort)}},
	}
}

// canaryCtl answers 503 when the runtime has no canary controller.
func (c *call) canaryCtl() (*canary.Controller, bool) {
	ctl := c.h.rt.Canary()
	if ctl == nil {
		c.refuse(http.StatusServiceUnavailable, GateUnavailable, "canary rollouts are not configured in this process (no override engine)",
			"see the README, Canary rollouts")
		return nil, false
	}
	return ctl, true
}

// canaryID checks the {id} segment: a rollout id is hex.
func (c *call) canaryID() (string, bool) {
	id := c.name
	if id == "" || len(id) > 64 || strings.IndexFunc(id, func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') }) >= 0 {
		if len(id) > 40 {
			id = id[:40] + "..."
		}
		c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("id %q is not a rollout id", id), "use an id as canary/ lists it (hex digits)")
		return "", false
	}
	return id, true
}

// canaryRefuse maps the controller's errors to answers.
func (c *call) canaryRefuse(err error) {
	var in *canary.InputError
	var blk *canary.BlockedError
	switch {
	case errors.As(err, &in):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "nothing was changed; GET "+Prefix+" says what canary/start/ takes")
	case errors.As(err, &blk):
		c.refuse(http.StatusConflict, GateState, err.Error(), "nothing was changed; wait for the "+blk.Gate+" gate to open, or an admin may use canary/start-bypass/ with a written reason")
	case errors.Is(err, canary.ErrNotFound):
		c.refuse(http.StatusNotFound, GateNotFound, err.Error(), "canary/ lists the rollouts")
	case errors.Is(err, canary.ErrNotActive), errors.Is(err, canary.ErrContention):
		c.refuse(http.StatusConflict, GateState, err.Error(), "canary/ lists the rollouts")
	case errors.Is(err, store.ErrUnavailable):
		c.refuse(http.StatusServiceUnavailable, GateBackend, "the store is unreachable: "+err.Error(), "see health/?nocache=true")
	default:
		c.refuse(http.StatusInternalServerError, GateBackend, err.Error(), "see health/?nocache=true")
	}
}

func (c *call) canaryList() {
	ctl, ok := c.canaryCtl()
	if !ok {
		return
	}
	rs, err := ctl.List(c.r.Context())
	if err != nil {
		c.canaryRefuse(err)
		return
	}
	out := adminapi.CanaryList{Rollouts: make([]adminapi.CanaryRollout, 0, len(rs)),
		Thresholds: canaryThresholds(ctl.Config()), Counts: adminapi.CanaryCounts(ctl.Stats())}
	for _, r := range rs {
		out.Rollouts = append(out.Rollouts, canaryView(r))
	}
	c.ok(out)
}

func (c *call) canaryGet() {
	ctl, ok := c.canaryCtl()
	if !ok {
		return
	}
	id, ok := c.canaryID()
	if !ok {
		return
	}
	r, err := ctl.Get(c.r.Context(), id)
	if err != nil {
		c.canaryRefuse(err)
		return
	}
	c.ok(adminapi.CanaryAnswer{Rollout: canaryView(r)})
}

func (c *call) canaryStart()       { c.canaryStartWith(false) }
func (c *call) canaryStartBypass() { c.canaryStartWith(true) }

func (c *call) canaryStartWith(bypass bool) {
	ctl, ok := c.canaryCtl()
	if !ok {
		return
	}
	req, _ := c.req.(*adminapi.CanaryStartRequest)
	if req == nil {
		req = &adminapi.CanaryStartRequest{}
	}
	reason, ok := c.reason(false)
	if !ok {
		return
	}
	in := canary.Request{Scope: canary.Scope{Kind: strings.TrimSpace(req.Scope), Service: req.Service, Method: req.Method},
		Directive: req.Directive, Stages: req.Stages, Who: c.who, Reason: reason}
	if strings.TrimSpace(req.Hold) != "" {
		d, err := env.ParseDuration(req.Hold, false)
		if err != nil {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("hold %q: %v", req.Hold, err), `send a Go duration: {"hold":"5m"}`)
			return
		}
		in.Hold = d
	}
	switch {
	case bypass && strings.TrimSpace(req.Bypass) == "":
		c.refuse(http.StatusBadRequest, GateInput, "bypass: a written reason is required to pass the gates",
			`send {"bypass":"why the gates must be passed", ...} (CLI: --bypass)`)
		return
	case bypass:
		in.Bypass = req.Bypass
	case req.Bypass != "":
		c.refuse(http.StatusBadRequest, GateInput, "bypass: only canary/start-bypass/ (admin, unlocked, CONFIRM) passes the gates",
			"leave bypass out, or use canary/start-bypass/")
		return
	}
	r, err := ctl.Start(c.r.Context(), in)
	if err != nil {
		c.canaryRefuse(err)
		return
	}
	c.ok(adminapi.CanaryAnswer{Rollout: canaryView(r)})
}

func (c *call) canaryAbort() {
	ctl, ok := c.canaryCtl()
	if !ok {
		return
	}
	id, ok := c.canaryID()
	if !ok {
		return
	}
	reason, ok := c.reason(false)
	if !ok {
		return
	}
	r, err := ctl.Abort(c.r.Context(), id, c.who, reason)
	if err != nil {
		c.canaryRefuse(err)
		return
	}
	c.ok(adminapi.CanaryAnswer{Rollout: canaryView(r)})
}

func (c *call) canaryPanic() {
	ctl, ok := c.canaryCtl()
	if !ok {
		return
	}
	reason, ok := c.reason(true)
	if !ok {
		return
	}
	rs, err := ctl.PanicRollback(c.r.Context(), c.who, reason)
	if err != nil {
		c.canaryRefuse(err)
		return
	}
	out := adminapi.CanaryPanicAnswer{RolledBack: make([]adminapi.CanaryRollout, 0, len(rs))}
	for _, r := range rs {
		out.RolledBack = append(out.RolledBack, canaryView(r))
	}
	c.ok(out)
}

func canaryThresholds(cfg canary.Config) adminapi.CanaryThresholds {
	lvl := cfg.MaxEmergency.String()
	if cfg.EmergencyOff {
		lvl = "off"
	}
	return adminapi.CanaryThresholds{Stages: cfg.Stages, HoldSeconds: cfg.Hold.Seconds(),
		StageDeadlineSeconds: cfg.StageDeadline.Seconds(), MinCalls: cfg.Thresholds.MinCalls,
		MinSamples: cfg.Thresholds.MinSamples, MaxErrorRise: cfg.Thresholds.MaxErrorRise,
		MaxP99Ratio: cfg.Thresholds.MaxP99Ratio, MaxEmergency: lvl}
}

func canaryView(r canary.Rollout) adminapi.CanaryRollout {
	v := adminapi.CanaryRollout{ID: r.ID, Scope: adminapi.CanaryScope(r.Scope), Directive: r.Directive, Types: r.Types,
		Stages: r.Stages, Stage: r.Stage, Percent: r.Percent(), HoldSeconds: r.Hold.Seconds(), State: r.State,
		Who: r.Who, Reason: r.Reason, Started: r.Started, StageStarted: r.StageStarted, Deadline: r.Deadline,
		Ended: r.Ended, EndReason: r.EndReason, Canary: adminapi.CanaryFigures(r.Canary),
		Baseline: adminapi.CanaryFigures(r.Baseline), Verdict: adminapi.CanaryVerdict(r.Verdict),
		Blocked: r.Blocked, Bypass: r.Bypass, Review: r.Review}
	if r.Reference != nil {
		ref := adminapi.CanaryFigures(*r.Reference)
		v.Reference = &ref
	}
	for _, s := range r.History {
		v.History = append(v.History, adminapi.CanaryStage{Percent: s.Percent, Started: s.Started, Ended: s.Ended,
			Outcome: s.Outcome, Canary: adminapi.CanaryFigures(s.Canary), Baseline: adminapi.CanaryFigures(s.Baseline), Reason: s.Reason})
	}
	return v
}
