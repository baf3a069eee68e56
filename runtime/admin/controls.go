package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/control"
)

func (c *call) controlStatus() {
	c.ok(adminapi.ControlAnswer{Control: controlStatusView(c.h.ctl.Status())})
}

func (c *call) controlHistory() {
	hist := c.h.ctl.History()
	out := make([]adminapi.ControlChange, len(hist))
	for i, ch := range hist {
		out[i] = controlChangeView(ch)
	}
	c.ok(adminapi.ControlHistory{History: out})
}

// controlStatusView is the contract's copy of a kill switch status.
func controlStatusView(s control.Status) adminapi.ControlStatus {
	return adminapi.ControlStatus{
		KillSwitch: string(s.KillSwitch), Mode: string(s.Mode), Enabled: s.Enabled, DryRun: s.DryRun,
		Reason: s.Reason, ChangedBy: s.ChangedBy, ChangedAt: s.ChangedAt, Revision: s.Revision,
		Backend: s.Backend, PendingFleet: s.PendingFleet, StateError: s.StateError,
	}
}

// controlChangeView is the contract's copy of one recorded decision.
func controlChangeView(ch control.Change) adminapi.ControlChange {
	return adminapi.ControlChange{
		ID: ch.ID, At: ch.At, Who: ch.Who, Action: ch.Action, Reason: ch.Reason, Node: ch.Node,
		KillSwitch: string(ch.KillSwitch), Mode: string(ch.Mode), Revision: ch.Revision,
		Conflict: ch.Conflict, Superseded: ch.Superseded,
	}
}

// maxWouldHave is the runtime's timeline bound: asking for more is a mistake worth saying.
const maxWouldHave = 1000

func (c *call) wouldHave() {
	q := c.r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWouldHave {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("limit=%q is not a number from 1 to %d", v, maxWouldHave),
				"use ?limit=100, or leave it out")
			return
		}
		limit = n
	}
	service := q.Get("service")
	all := c.h.rt.WouldHave()
	out := make([]adminapi.Decision, 0, min(limit, len(all)))
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		if service == "" || all[i].Service == service {
			out = append(out, decisionView(all[i]))
		}
	}
	c.ok(adminapi.WouldHaveAnswer{DryRun: c.h.rt.DryRun(), Total: len(all), Entries: out})
}

// controlAction runs one Control method and maps its errors to refusals.
func (c *call) controlAction(reasonRequired bool, do func(ctx context.Context, ctl *control.Control, reason string) (control.State, error)) {
	ctl := c.h.ctl
	reason, ok := c.reason(reasonRequired)
	if !ok {
		return
	}
	st, err := do(c.r.Context(), ctl, reason)
	switch {
	case errors.Is(err, control.ErrReasonRequired), errors.Is(err, control.ErrReasonTooLong):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), `send {"reason":"why you are doing this", ...} (CLI: --reason)`)
		return
	case errors.Is(err, control.ErrConfirmationRequired):
		c.refuse(http.StatusForbidden, GateConfirm, err.Error(), `send {"confirm":"CONFIRM"} in the JSON body (CLI: --confirm)`)
		return
	case err != nil:
		c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(),
			"the control store ("+ctl.Status().Backend+") refused the change; see health/?nocache=true and the server log")
		return
	}
	var last *adminapi.ControlChange
	if n := len(st.History); n > 0 {
		v := controlChangeView(st.History[n-1])
		last = &v
	}
	// A change is in force in this process even when the fleet store is
	// unreachable; pending_fleet says it has yet to reach the other processes.
	status := ctl.Status()
	c.ok(adminapi.ControlChangeAnswer{Control: controlStatusView(status), Change: last, PendingFleet: status.PendingFleet})
}

func (c *call) disable() {
	c.controlAction(true, func(ctx context.Context, ctl *control.Control, reason string) (control.State, error) {
		return ctl.Disable(ctx, c.who, reason)
	})
}

func (c *call) enable() {
	c.controlAction(false, func(ctx context.Context, ctl *control.Control, reason string) (control.State, error) {
		return ctl.Enable(ctx, c.who, reason)
	})
}

func (c *call) dryRunOn() {
	c.controlAction(false, func(ctx context.Context, ctl *control.Control, reason string) (control.State, error) {
		return ctl.StartDryRun(ctx, c.who, reason)
	})
}

func (c *call) goLive() {
	c.controlAction(false, func(ctx context.Context, ctl *control.Control, reason string) (control.State, error) {
		return ctl.GoLive(ctx, c.who, c.body.Confirm, reason)
	})
}
