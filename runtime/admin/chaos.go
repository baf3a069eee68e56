package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/chaos"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// Fault injection (README, Fault injection):
//
//	viewer    chaos/ (GET: the experiments in force)
//	admin     chaos/ (POST: start one; destructive: it fails real calls)
//	operator  chaos/stop/ (ending a rehearsal is never locked)
func (h *Handler) chaosRoutes(get func(Role, string, func(*call)) endpoint,
	act func(Role, bool, string, func(*call)) endpoint) []route {
	body := func(ep endpoint) endpoint {
		ep.request = func() (any, *adminapi.ActionRequest, string) {
			r := &adminapi.ChaosRequest{}
			return r, &r.ActionRequest, "service, error_percent, latency, latency_percent, for"
		}
		return ep
	}
	return []route{
		{adminapi.PathChaos, []endpoint{
			get(RoleViewer, "the fault-injection experiments in force in the fleet, and what this process injected", (*call).chaosList),
			body(act(RoleAdmin, true, fmt.Sprintf(`inject faults into one service's calls for a while: {"service":...,"error_percent":0-100,"latency":"200ms","latency_percent":0-100 (100),"for":"5m" (at most %s),"reason":...,"confirm":"CONFIRM"}; refused from emergency HIGH up`, chaos.MaxDuration), (*call).chaosStart)),
		}},
		{adminapi.PathChaosStop, []endpoint{body(act(RoleOperator, false, `end a service's experiment fleet-wide: {"service":...,"reason":...}`, (*call).chaosStop))}},
	}
}

func (h *Handler) chaosView(e chaos.Experiment) adminapi.ChaosExperiment {
	c := h.rt.Chaos()
	errs, delays := c.Injected(e.Service)
	v := adminapi.ChaosExperiment{
		Service: e.Service, ErrorPercent: e.ErrorPercent, LatencyMS: float64(e.Latency) / float64(time.Millisecond),
		LatencyPercent: e.LatencyPercent, StartedAt: e.StartedAt, Until: e.Until, By: e.By, Reason: e.Reason, Node: e.Node,
		Applied: c.Active(e.Service) && h.rt.EmergencyLevel() < emergency.High, InjectedErrors: errs, InjectedDelays: delays,
	}
	if e.Latency > 0 {
		v.Latency = e.Latency.String()
	}
	return v
}

func (c *call) chaosAnswer(started, stopped *chaos.Experiment) {
	list, err := c.h.rt.Chaos().List(c.r.Context())
	if err != nil {
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "the store is unreachable; see health/?nocache=true")
		return
	}
	a := adminapi.ChaosAnswer{Experiments: []adminapi.ChaosExperiment{}, Disabled: c.h.rt.Chaos().Disabled(),
		MaxFor: chaos.MaxDuration.String(), Paused: c.h.rt.EmergencyLevel() >= emergency.High}
	for _, e := range list {
		a.Experiments = append(a.Experiments, c.h.chaosView(e))
	}
	if started != nil {
		v := c.h.chaosView(*started)
		a.Started = &v
	}
	if stopped != nil {
		v := c.h.chaosView(*stopped)
		a.Stopped = &v
	}
	c.ok(a)
}

func (c *call) chaosList() { c.chaosAnswer(nil, nil) }

// chaosSpec reads the body into a chaos.Spec; every bad field is named.
func (c *call) chaosSpec() (chaos.Spec, bool) {
	req, _ := c.req.(*adminapi.ChaosRequest)
	if req == nil {
		req = &adminapi.ChaosRequest{}
	}
	spec := chaos.Spec{Service: strings.TrimSpace(req.Service), ErrorPercent: req.ErrorPercent,
		LatencyPercent: req.LatencyPercent, By: c.who}
	var bad []string
	dur := func(name, v string, dst *time.Duration) {
		if strings.TrimSpace(v) == "" {
			return
		}
		d, err := env.ParseDuration(v, false)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %q: %v", name, v, err))
			return
		}
		*dst = d
	}
	dur("latency", req.Latency, &spec.Latency)
	dur("for", req.For, &spec.Duration)
	if len(bad) > 0 {
		c.refuse(http.StatusBadRequest, GateInput, "invalid experiment: "+strings.Join(bad, "; "),
			`durations are Go durations: {"latency":"200ms","for":"5m"}`)
		return spec, false
	}
	if err := spec.Validate(chaos.MaxDuration); err != nil {
		c.refuse(http.StatusBadRequest, GateInput, err.Error(),
			fmt.Sprintf(`send {"service":...,"error_percent":20,"latency":"200ms","for":"5m"}: percentages 0-100, at least one fault, for above 0 and at most %s`, chaos.MaxDuration))
		return spec, false
	}
	return spec, true
}

func (c *call) chaosStart() {
	spec, ok := c.chaosSpec()
	if !ok {
		return
	}
	reason, ok := c.reason(false)
	if !ok {
		return
	}
	spec.Reason = reason
	e, err := c.h.rt.Chaos().Start(c.r.Context(), spec)
	if !c.chaosErr(err) {
		return
	}
	c.chaosAnswer(&e, nil)
}

func (c *call) chaosStop() {
	req, _ := c.req.(*adminapi.ChaosRequest)
	if req == nil || strings.TrimSpace(req.Service) == "" {
		c.refuse(http.StatusBadRequest, GateInput, "service: a service name is required", `send {"service":"payments"}`)
		return
	}
	reason, ok := c.reason(false)
	if !ok {
		return
	}
	e, err := c.h.rt.Chaos().Stop(c.r.Context(), strings.TrimSpace(req.Service), c.who, reason)
	if !c.chaosErr(err) {
		return
	}
	c.chaosAnswer(nil, &e)
}

// chaosErr answers a refused Start or Stop and reports whether err is nil.
func (c *call) chaosErr(err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, chaos.ErrInvalid), errors.Is(err, chaos.ErrUnknownService):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "see breakers/ for the services of this process")
	case errors.Is(err, chaos.ErrNotFound):
		c.refuse(http.StatusNotFound, GateNotFound, err.Error(), "see chaos/ for the experiments in force")
	case errors.Is(err, chaos.ErrRefused):
		c.refuse(http.StatusConflict, GateState, err.Error(), "see emergency/ for the level in force")
	default:
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "the store refused the change; see health/?nocache=true")
	}
	return false
}
