package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/schedule"
)

// The operator's actions on the notifier and the fleet:
//
//	viewer  notify/ (channels, endpoints as scheme and host, routes, guards,
//	        counters, lasting alerts)
//	admin   notify/test/ (unlock: it reaches people), schedule/run/ (unlock:
//	        it runs fleet-wide work now), leader/step-down/ (unlock and CONFIRM:
//	        leader-only tasks pause until another process takes the lease)

func (h *Handler) opsRoutes(get func(Role, string, func(*call)) endpoint,
	act func(Role, bool, string, func(*call)) endpoint) []route {
	unlocked := func(ep endpoint, req func() (any, *adminapi.ActionRequest, string)) endpoint {
		ep.unlock, ep.request = true, req
		return ep
	}
	return []route{
		{adminapi.PathNotify, []endpoint{get(RoleViewer, "the notifier: channels (endpoints as scheme and host only), routes by priority, fatigue guards, counters per channel and outcome, lasting alerts of this process", (*call).notifyStatus)}},
		{adminapi.PathNotifyTest, []endpoint{unlocked(act(RoleAdmin, false, `send a test alert now, one attempt per channel, past the cooldown and budgets: {"channel":"slack|webhook|alertmanager"} or every channel; needs the unlock`, (*call).notifyTest),
			func() (any, *adminapi.ActionRequest, string) {
				r := &adminapi.NotifyTestRequest{}
				return r, &r.ActionRequest, "channel"
			})}},
		{adminapi.PathScheduleRun, []endpoint{unlocked(act(RoleAdmin, false, `run a scheduled task now, in this process, and answer with its outcome: {"task":...}; a leader-only task on the leader only; an automated task is refused while the governance gate blocks; needs the unlock`, (*call).scheduleRun),
			func() (any, *adminapi.ActionRequest, string) {
				r := &adminapi.ScheduleRunRequest{}
				return r, &r.ActionRequest, "task"
			})}},
		{adminapi.PathLeaderStepDown, []endpoint{act(RoleAdmin, true, "give up this process's term: the lease is released, another process takes it at its next attempt, this one does not try for a lease", (*call).leaderStepDown)}},
	}
}

func notifyAnswer(s notify.Status) adminapi.Notify {
	dur := func(d time.Duration) string {
		if d <= 0 {
			return "off"
		}
		return d.String()
	}
	out := adminapi.Notify{Enabled: s.Enabled, Source: s.Source, Queued: s.Queued,
		Channels: make([]adminapi.NotifyChannel, 0, len(s.Channels)), Routes: make([]adminapi.NotifyRoute, 0, len(s.Routes)),
		Counts: make([]adminapi.NotifyCount, 0, len(s.Counts)), Lasting: make([]adminapi.NotifyLasting, 0, len(s.Lasting)),
		Guards: adminapi.NotifyGuards{Cooldown: dur(s.Cooldown), PerMinute: s.PerMinute, PerHour: s.PerHour,
			ChannelPerMinute: s.ChannelPerMinute, ChannelPerHour: s.ChannelPerHour, BurstThreshold: s.BurstThreshold,
			BurstWindow: dur(s.BurstWindow), RemindAfter: dur(s.RemindAfter)}}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, adminapi.NotifyChannel{Name: string(c.Name), Endpoint: c.Endpoint,
			Priorities: append([]string{}, c.Priorities...), Queued: c.Queued, Delivered: c.Delivered, Failed: c.Failed, Retried: c.Retried})
	}
	for _, r := range s.Routes {
		chs := make([]string, 0, len(r.Channels))
		for _, c := range r.Channels {
			chs = append(chs, string(c))
		}
		out.Routes = append(out.Routes, adminapi.NotifyRoute{Priority: r.Priority, Channels: chs})
	}
	for _, c := range s.Counts {
		out.Counts = append(out.Counts, adminapi.NotifyCount{Outcome: c.Outcome, Reason: c.Reason, N: c.N})
	}
	for _, l := range s.Lasting {
		out.Lasting = append(out.Lasting, adminapi.NotifyLasting{Key: l.Key, Priority: l.Priority, Title: l.Title,
			Service: l.Service, Since: l.Since, Reminders: l.Reminders})
	}
	return out
}

func (c *call) notifyStatus() { c.ok(notifyAnswer(c.h.rt.Notifier().Status())) }

// notifyTestTimeout bounds a test over every channel: three channels, one
// attempt each, well under Server's write timeout.
const notifyTestTimeout = 30 * time.Second

func (c *call) notifyTest() {
	req, _ := c.req.(*adminapi.NotifyTestRequest)
	ch := ""
	if req != nil {
		ch = strings.ToLower(strings.TrimSpace(req.Channel))
	}
	if ch != "" {
		c.name = ch // the audit record's target
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), notifyTestTimeout)
	defer cancel()
	res, err := c.h.rt.Notifier().Test(ctx, notify.Channel(ch), c.who, control.Clean(c.body.Reason))
	switch {
	case errors.Is(err, notify.ErrNoChannel), errors.Is(err, notify.ErrDisabled):
		c.refuse(http.StatusConflict, GateUnavailable, err.Error(), "configure a channel (see the README's Alerts) and restart the process")
		return
	case err != nil && ch != "":
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), `send {"channel":...} naming a configured channel, or leave it out to test every one`)
		return
	case err != nil:
		c.refuse(http.StatusServiceUnavailable, GateUnavailable, err.Error(), "the process is closing")
		return
	}
	out := adminapi.NotifyTestAnswer{OK: true, Results: make([]adminapi.NotifyTestResult, 0, len(res))}
	for _, r := range res {
		out.OK = out.OK && r.OK
		out.Results = append(out.Results, adminapi.NotifyTestResult{Channel: string(r.Channel), Endpoint: r.Endpoint,
			OK: r.OK, Status: r.Status, Error: r.Error, TookMS: r.Took.Milliseconds()})
	}
	c.ok(out)
}

func taskAnswer(t schedule.TaskStatus) adminapi.Task {
	return adminapi.Task{Name: t.Name, Spec: t.Spec, Scope: t.Scope, Running: t.Running,
		LastRun: t.LastRun, LastOutcome: t.LastOutcome, LastError: t.LastError, LastDuration: int64(t.LastDuration),
		LastToken: uint64(t.LastToken), NextRun: t.NextRun, Runs: t.Runs, Failures: t.Failures, Skips: t.Skips,
		LastSkip: t.LastSkip}
}

func (c *call) scheduleRun() {
	req, _ := c.req.(*adminapi.ScheduleRunRequest)
	if req == nil || strings.TrimSpace(req.Task) == "" {
		c.refuse(http.StatusBadRequest, GateInput, "a task is required",
			`send {"task":"dlq.retention"}: GET `+adminapi.URL(adminapi.PathSchedule)+" lists the tasks (CLI: baldur schedule run NAME)")
		return
	}
	name := strings.TrimSpace(req.Task)
	c.name = name
	sched := c.h.rt.Scheduler()
	r, err := sched.RunNow(c.r.Context(), name)
	var blocked *schedule.BlockedError
	switch {
	case errors.As(err, &blocked):
		c.refuse(http.StatusConflict, GateGovernance, err.Error(),
			"wait for the block to lift (GET "+adminapi.URL(adminapi.PathGovernance)+"), or open Break Glass if the run must happen now")
		return
	case errors.Is(err, schedule.ErrUnknownTask):
		c.refuse(http.StatusNotFound, GateNotFound, err.Error(), "GET "+adminapi.URL(adminapi.PathSchedule)+" lists the tasks")
		return
	case errors.Is(err, schedule.ErrRunning):
		c.refuse(http.StatusConflict, GateBusy, err.Error(), "wait for the run under way to end")
		return
	case errors.Is(err, schedule.ErrNotLeader):
		c.refuse(http.StatusConflict, GateLeader, err.Error(), c.leaderHint())
		return
	case err != nil:
		c.refuse(http.StatusServiceUnavailable, GateUnavailable, err.Error(), "the process is closing")
		return
	}
	out := adminapi.ScheduleRunAnswer{Outcome: r.Outcome, Duration: int64(r.Duration)}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	for _, t := range sched.Status() {
		if t.Name == name {
			out.Task = taskAnswer(t)
		}
	}
	c.ok(out)
}

// leaderHint names who leads, as far as this process knows.
func (c *call) leaderHint() string {
	if s := c.h.rt.Leader().Status(); s.Holder != "" {
		return fmt.Sprintf("send it to the leader, %s (term %d)", s.Holder, s.HolderToken)
	}
	return "no leader is known now: try again after one lease"
}

func (c *call) leaderStepDown() {
	e := c.h.rt.Leader()
	tok, err := e.StepDown(c.r.Context())
	switch {
	case errors.Is(err, leader.ErrAlways):
		c.refuse(http.StatusConflict, GateUnavailable, err.Error(), "a process without Redis (or BALDUR_LEADER_ELECTION_REDIS_URL) leads alone")
		return
	case errors.Is(err, leader.ErrNotLeading):
		c.refuse(http.StatusConflict, GateLeader, err.Error(), c.leaderHint())
		return
	case err != nil:
		c.refuse(http.StatusBadGateway, GateBackend, err.Error(), "the term goes on; try again once the store answers")
		return
	}
	c.ok(adminapi.StepDownAnswer{WasLeader: true, Token: uint64(tok), Leader: leaderAnswer(e.Status())})
}
