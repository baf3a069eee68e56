package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/control"
)

// BreakerView is the JSON form of a breaker.
type BreakerView = adminapi.Breaker

// TransitionView is the JSON form of a breaker transition.
type TransitionView = adminapi.Transition

// LimitsView is the JSON form of a breaker's settings.
type LimitsView = adminapi.Limits

func (h *Handler) view(s breaker.Snapshot) BreakerView {
	v := BreakerView{
		Name: s.Name, State: s.State.String(), Forced: s.State.Forced(), Failures: s.Failures, Calls: s.Calls,
		HalfOpenAdmitted: s.HalfOpenAdmitted, HalfOpenSucceeded: s.HalfOpenSucceeded, OpenedAt: s.OpenedAt,
		Limits: LimitsView{
			FailureThreshold: s.Limits.FailureThreshold, MinimumCalls: s.Limits.MinimumCalls,
			WindowSeconds: s.Limits.Window.Seconds(), RecoverySeconds: s.Limits.RecoveryTimeout.Seconds(),
			HalfOpenMaxCalls: s.Limits.HalfOpenMaxCalls, HalfOpenMaxSeconds: s.Limits.HalfOpenMaxWait.Seconds(),
		},
		Methods: []string{},
		Chaos:   h.rt.Chaos().Active(s.Name),
	}
	if t := s.LastTransition; !t.At.IsZero() {
		v.LastTransition = &TransitionView{From: t.From.String(), To: t.To.String(), At: t.At, Reason: t.Reason}
	}
	for _, z := range h.rt.Zones() {
		if z.Breaker && z.Service == s.Name {
			v.Methods = append(v.Methods, z.Method)
		}
	}
	return v
}

func (c *call) breakers() {
	bs := c.h.rt.Snapshot().Breakers
	out := make([]BreakerView, 0, len(bs))
	for _, b := range bs {
		out = append(out, c.h.view(b))
	}
	c.ok(adminapi.BreakerList{Breakers: out})
}

func (c *call) lookup() (*breaker.Breaker, bool) {
	if b, ok := c.h.rt.Breaker(c.name); ok {
		return b, true
	}
	names := c.h.rt.BreakerNames()
	hint := "no breaker exists yet: breakers appear when a protected service is constructed"
	if len(names) > 0 {
		if len(names) > 20 {
			names = append(names[:20:20], "...")
		}
		hint = "known breakers: " + strings.Join(names, ", ")
	}
	c.refuse(http.StatusNotFound, GateNotFound, fmt.Sprintf("no breaker named %q", c.name), hint)
	return nil, false
}

func (c *call) breaker() {
	if b, ok := c.lookup(); ok {
		c.ok(adminapi.BreakerAnswer{Breaker: c.h.view(b.Snapshot())})
	}
}

func (h *Handler) breakerAction(c *call, action string) {
	b, ok := c.lookup()
	if !ok {
		return
	}
	reason, ok := c.reason(false)
	if !ok {
		return
	}
	if !c.passKillSwitch(action + " " + c.name) {
		return
	}
	if reason == "" {
		reason = "manual " + action
	}
	reason += " (by " + c.who + ")"
	before := b.State()
	switch action {
	case adminapi.BreakerReset:
		b.Reset(reason)
	case adminapi.BreakerForceOpen:
		b.ForceOpen(reason)
	case adminapi.BreakerForceClose:
		b.ForceClose(reason)
	case adminapi.BreakerAuto:
		b.Auto(reason)
	}
	v := h.view(b.Snapshot())
	h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "admin.breaker_actioned",
		slog.String("breaker", c.name), slog.String("action", action), slog.String("who", c.who),
		slog.String("from", before.String()), slog.String("to", v.State), slog.String("reason", reason),
		slog.Bool("override", c.body.Override))
	c.ok(adminapi.BreakerActionAnswer{Action: action, By: c.who, PreviousState: before.String(), Breaker: v})
}

// passKillSwitch refuses a manual action while the kill switch is DISABLED,
// unless the body says "override":true: during an incident the operator who
// turned automation off decides what runs.
func (c *call) passKillSwitch(action string) bool {
	err := c.h.ctl.CheckManual(action, c.body.Override)
	if err == nil {
		return true
	}
	hint := `enable the kill switch first (POST control/enable), or send "override":true (CLI: --override) to act anyway`
	var de *control.DisabledError
	if !errors.As(err, &de) {
		hint = "see the server log"
	}
	c.refuse(http.StatusConflict, GateKillSwitch, err.Error(), hint)
	return false
}

// reason validates the body's reason: trimmed, bounded, and present when required.
func (c *call) reason(required bool) (string, bool) {
	r, err := control.CheckReason(c.body.Reason, required)
	switch {
	case errors.Is(err, control.ErrReasonTooLong):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "shorten the reason; link to the incident instead of pasting it")
		return "", false
	case err != nil:
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), `send {"reason":"why you are doing this", ...} (CLI: --reason)`)
		return "", false
	}
	return r, true
}
