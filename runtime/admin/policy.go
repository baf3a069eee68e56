package admin

import (
	"errors"
	"net/http"
	"strings"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// The policy overrides (the README's "Policy overrides"):
//
//	viewer    policy/ (?scope=), policy/diff/
//	operator  policy/set/, policy/unset/ (destructive: they change the
//	          fleet's retries and timeouts)

func (h *Handler) policyRoutes(get func(Role, string, func(*call)) endpoint,
	act func(Role, bool, string, func(*call)) endpoint) []route {
	body := func(ep endpoint) endpoint {
		ep.request = func() (any, *adminapi.ActionRequest, string) {
			r := &adminapi.PolicyRequest{}
			return r, &r.ActionRequest, "scope, values"
		}
		return ep
	}
	return []route{
		{adminapi.PathPolicy, []endpoint{get(RoleViewer, "the stored overrides and canaries, and each protected method's effective retry, backoff, timeout, bulkhead_wait and its service's breaker_threshold, breaker_recovery and bulkhead, with where each comes from (directive, env, override, canary); ?scope=service.Method|service|*", (*call).policyList)}},
		{adminapi.PathPolicyDiff, []endpoint{get(RoleViewer, "what the overrides change against the directives, per method; ?scope=", (*call).policyDiff)}},
		{adminapi.PathPolicySet, []endpoint{body(act(RoleOperator, true, `override run-time keys fleet-wide: {"scope":"payments.Charge","values":"retry=5 timeout=2s","reason":...}; keys: `+strings.Join(annotations.RuntimeKeys(), ", "), (*call).policySet))}},
		{adminapi.PathPolicyUnset, []endpoint{body(act(RoleOperator, true, `remove a scope's override: {"scope":...,"reason":...}`, (*call).policyUnset))}},
	}
}

func (c *call) policyAnswer(scope string) (adminapi.PolicyAnswer, error) {
	p := c.h.rt.Policy()
	zones, err := p.List(scope)
	if err != nil {
		return adminapi.PolicyAnswer{}, err
	}
	d := p.Doc()
	out := adminapi.PolicyAnswer{Version: d.Version, Keys: annotations.RuntimeKeys(),
		Overrides: []adminapi.PolicyOverride{}, Canaries: []adminapi.PolicyStagedCanary{}, Zones: []adminapi.PolicyZone{}}
	for _, o := range d.Overrides {
		out.Overrides = append(out.Overrides, adminapi.PolicyOverride{Scope: string(o.Scope), Values: o.Values, By: o.By, Reason: o.Reason, At: o.At})
	}
	for _, k := range d.Canaries {
		types := k.Types
		if types == nil {
			types = []string{}
		}
		out.Canaries = append(out.Canaries, adminapi.PolicyStagedCanary{ID: k.ID, Rollout: k.Name(), Scope: string(k.Scope), Values: k.Values,
			Types: types, Permille: k.Permille, By: k.By, At: k.At})
	}
	for _, z := range zones {
		pz := adminapi.PolicyZone{Service: z.Service, Method: z.Method, Settings: policySettings(z.Settings)}
		for _, k := range z.Canaries {
			pz.Canaries = append(pz.Canaries, adminapi.PolicyCanary{ID: k.ID, Rollout: k.Rollout, Scope: string(k.Scope), Values: k.Values,
				Types: k.Types, Permille: k.Permille, ByProcess: k.ByProcess, Member: k.Member, Settings: policySettings(k.Settings)})
		}
		out.Zones = append(out.Zones, pz)
	}
	return out, nil
}

func policySettings(in []runtime.Setting) []adminapi.PolicySetting {
	out := make([]adminapi.PolicySetting, len(in))
	for i, s := range in {
		out[i] = adminapi.PolicySetting{Key: s.Key, Value: s.Value, Source: s.Source, Directive: s.Directive}
	}
	return out
}

// policyRefused answers an error of the policy API.
func (c *call) policyRefused(err error) {
	switch {
	case errors.Is(err, runtime.ErrBadOverride):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(),
			"write the values as in a //baldur:protect directive, e.g. retry=5 timeout=2s; keys an override takes: "+strings.Join(annotations.RuntimeKeys(), ", ")+
				`; scope: service.Method, service or "*"`)
	case errors.Is(err, runtime.ErrNoOverride):
		c.refuse(http.StatusNotFound, GateInput, err.Error(), "see policy/ for the overrides stored")
	default:
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(), "the store did not answer; nothing was changed, try again (see health/?nocache=true)")
	}
}

func (c *call) policyList() {
	a, err := c.policyAnswer(c.r.URL.Query().Get("scope"))
	if err != nil {
		c.policyRefused(err)
		return
	}
	c.ok(a)
}

func (c *call) policyDiff() {
	changes, err := c.h.rt.Policy().Diff(c.r.URL.Query().Get("scope"))
	if err != nil {
		c.policyRefused(err)
		return
	}
	out := adminapi.PolicyDiffAnswer{Changes: []adminapi.PolicyChange{}}
	for _, ch := range changes {
		out.Changes = append(out.Changes, adminapi.PolicyChange(ch))
	}
	c.ok(out)
}

// policyRequest reads the body's scope (required) and values.
func (c *call) policyRequest(needValues bool) (*adminapi.PolicyRequest, string, bool) {
	req, _ := c.req.(*adminapi.PolicyRequest)
	if req == nil || strings.TrimSpace(req.Scope) == "" {
		c.refuse(http.StatusBadRequest, GateInput, "a scope is required",
			`send {"scope":"payments.Charge", ...}: service.Method, service or "*" (CLI: the scope after the command)`)
		return nil, "", false
	}
	if needValues && strings.TrimSpace(req.Values) == "" {
		c.refuse(http.StatusBadRequest, GateInput, "values are required",
			`send {"values":"retry=5 timeout=2s", ...} (CLI: the key=value arguments after the scope)`)
		return nil, "", false
	}
	reason, ok := c.reason(true)
	if !ok {
		return nil, "", false
	}
	return req, reason, true
}

func (c *call) policySet() {
	req, reason, ok := c.policyRequest(true)
	if !ok {
		return
	}
	if _, err := c.h.rt.Policy().Set(runtime.AuditedByCaller(c.r.Context()), req.Scope, req.Values, c.who, reason); err != nil {
		c.policyRefused(err)
		return
	}
	c.policyList()
}

func (c *call) policyUnset() {
	req, reason, ok := c.policyRequest(false)
	if !ok {
		return
	}
	if err := c.h.rt.Policy().Unset(runtime.AuditedByCaller(c.r.Context()), req.Scope, c.who, reason); err != nil {
		c.policyRefused(err)
		return
	}
	c.policyList()
}
