package admin

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/control"
)

// BreakerView is the JSON form of a breaker.
type BreakerView struct {
	Name              string          `json:"name"`
	State             string          `json:"state"`
	Forced            bool            `json:"forced"`
	Failures          int             `json:"failures"`
	Calls             int             `json:"calls,omitempty"`
	HalfOpenAdmitted  int             `json:"half_open_admitted,omitempty"`
	HalfOpenSucceeded int             `json:"half_open_succeeded,omitempty"`
	OpenedAt          time.Time       `json:"opened_at,omitzero"`
	LastTransition    *TransitionView `json:"last_transition,omitempty"`
	Limits            LimitsView      `json:"limits"`
	Methods           []string        `json:"methods"`
}

// TransitionView is the JSON form of a breaker transition.
type TransitionView struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// LimitsView is the JSON form of a breaker's settings.
type LimitsView struct {
	FailureThreshold   int     `json:"failure_threshold"`
	MinimumCalls       int     `json:"minimum_calls"`
	WindowSeconds      float64 `json:"window_seconds"`
	RecoverySeconds    float64 `json:"recovery_timeout_seconds"`
	HalfOpenMaxCalls   int     `json:"half_open_max_calls"`
	HalfOpenMaxSeconds float64 `json:"half_open_max_wait_seconds"`
}

func (h *Handler) view(b *breaker.Breaker) BreakerView {
	s := b.Snapshot()
	v := BreakerView{
		Name: s.Name, State: s.State.String(), Forced: s.State.Forced(), Failures: s.Failures, Calls: s.Calls,
		HalfOpenAdmitted: s.HalfOpenAdmitted, HalfOpenSucceeded: s.HalfOpenSucceeded, OpenedAt: s.OpenedAt,
		Limits: LimitsView{
			FailureThreshold: s.Limits.FailureThreshold, MinimumCalls: s.Limits.MinimumCalls,
			WindowSeconds: s.Limits.Window.Seconds(), RecoverySeconds: s.Limits.RecoveryTimeout.Seconds(),
			HalfOpenMaxCalls: s.Limits.HalfOpenMaxCalls, HalfOpenMaxSeconds: s.Limits.HalfOpenMaxWait.Seconds(),
		},
		Methods: []string{},
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
	names := c.h.rt.BreakerNames()
	out := make([]BreakerView, 0, len(names))
	for _, n := range names {
		if b, ok := c.h.rt.Breaker(n); ok {
			out = append(out, c.h.view(b))
		}
	}
	c.ok(map[string]any{"breakers": out})
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
		c.ok(map[string]any{"breaker": c.h.view(b)})
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
	case "reset":
		b.Reset(reason)
	case "force-open":
		b.ForceOpen(reason)
	case "force-close":
		b.ForceClose(reason)
	case "auto":
		b.Auto(reason)
	}
	v := h.view(b)
	h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "admin.breaker_actioned",
		slog.String("breaker", c.name), slog.String("action", action), slog.String("who", c.who),
		slog.String("from", before.String()), slog.String("to", v.State), slog.String("reason", reason),
		slog.Bool("override", c.body.Override))
	c.ok(map[string]any{"action": action, "by": c.who, "previous_state": before.String(), "breaker": v})
}

// passKillSwitch refuses a manual action while the kill switch is DISABLED,
// unless the body says "override":true: during an incident the operator who
// turned automation off decides what runs.
func (c *call) passKillSwitch(action string) bool {
	if c.h.ctl == nil {
		return true
	}
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
