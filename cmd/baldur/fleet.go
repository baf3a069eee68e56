package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// The fleet commands: baldur leader, baldur schedule, baldur watchdog.

func dispatchFleet(o *opts, group string) (func(*client) int, error) {
	if group == "leader" && len(o.args) > 0 && o.args[0] == "step-down" {
		o.args = o.args[1:]
		if err := o.allow("leader step-down", "confirm", "reason"); err != nil {
			return nil, err
		}
		if err := o.nargs("leader step-down", 0, ""); err != nil {
			return nil, err
		}
		if !o.confirm {
			return nil, usagef("leader step-down needs --confirm: the leader-only tasks pause until another process takes the lease")
		}
		body := o.actionRequest()
		return func(c *client) int {
			return c.call("POST", route(adminapi.PathLeaderStepDown, nil), body, typed(printStepDown))
		}, nil
	}
	if group == "schedule" && len(o.args) > 0 && o.args[0] == "run" {
		o.args = o.args[1:]
		if err := o.allow("schedule run", "reason"); err != nil {
			return nil, err
		}
		if err := o.nargs("schedule run", 1, "NAME [--reason R]"); err != nil {
			return nil, err
		}
		body := adminapi.ScheduleRunRequest{ActionRequest: o.actionRequest(), Task: o.args[0]}
		return func(c *client) int {
			return c.judged("POST", route(adminapi.PathScheduleRun, nil), body, typed(printScheduleRun), typedJudge(judgeScheduleRun))
		}, nil
	}
	if err := o.allow(group); err != nil {
		return nil, err
	}
	if err := o.nargs(group, 0, ""); err != nil {
		return nil, err
	}
	switch group {
	case "leader":
		return func(c *client) int { return c.call("GET", route(adminapi.PathLeader, nil), nil, typed(printLeader)) }, nil
	case "schedule":
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathSchedule, nil), nil, typed(printSchedule))
		}, nil
	default:
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathWatchdog, nil), nil, typed(printWatchdog))
		}, nil
	}
}

func printLeader(w io.Writer, s adminapi.Leader) {
	if s.Leader {
		fmt.Fprintf(w, "this process leads (token %d, since %s", s.Token, whenT(s.Since))
		if !s.Expires.IsZero() {
			fmt.Fprintf(w, ", term until %s unless renewed", whenT(s.Expires))
		}
		fmt.Fprintln(w, ")")
	} else {
		holder := "unknown"
		if s.Holder != "" {
			holder = fmt.Sprintf("%s (token %d)", s.Holder, s.HolderToken)
		}
		fmt.Fprintf(w, "this process follows; leader: %s\n", holder)
	}
	fmt.Fprintf(w, "id: %s  group: %s  mode: %s  lease: %s  renew: %s\n", s.ID, s.Group, s.Mode, s.Lease, s.Renew)
	if s.LastError != "" {
		fmt.Fprintf(w, "store: %s\n", s.LastError)
	}
}

func printSchedule(w io.Writer, s adminapi.Schedule) {
	if len(s.Tasks) == 0 {
		fmt.Fprintln(w, "no scheduled task")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSPEC\tSCOPE\tLAST RUN\tOUTCOME\tDURATION\tNEXT RUN\tRUNS\tFAILURES\tSKIPS")
	for _, t := range s.Tasks {
		outcome, dur := orDash(t.LastOutcome), "-"
		switch {
		case t.Running:
			outcome = "running"
		case t.LastOutcome == "":
			outcome = "not run yet"
		}
		if !t.LastRun.IsZero() && !t.Running {
			dur = time.Duration(t.LastDuration).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", t.Name, t.Spec, t.Scope, whenT(t.LastRun), outcome, dur,
			whenT(t.NextRun), t.Runs, t.Failures, t.Skips)
	}
	tw.Flush()
	for _, t := range s.Tasks {
		if t.LastError != "" {
			fmt.Fprintf(w, "%s: last error: %s\n", t.Name, t.LastError)
		}
	}
}

func printWatchdog(w io.Writer, s adminapi.Watchdog) {
	if s.Healthy {
		fmt.Fprintln(w, "every loop beating")
	} else {
		fmt.Fprintf(w, "DEGRADED: %s\n", s.Detail)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOOP\tSTATE\tPERIOD\tSILENT FOR\tRESTARTS")
	for _, l := range s.Loops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", l.Name, l.State, time.Duration(l.Period),
			time.Duration(l.Silent).Round(time.Millisecond), l.Restarts)
	}
	tw.Flush()
}

func printStepDown(w io.Writer, s adminapi.StepDownAnswer) {
	fmt.Fprintf(w, "stepped down: term %d given up; the next leader takes the lease at its next attempt\n", s.Token)
	printLeader(w, s.Leader)
}

func printScheduleRun(w io.Writer, r adminapi.ScheduleRunAnswer) {
	fmt.Fprintf(w, "%s: %s in %s\n", r.Task.Name, r.Outcome, time.Duration(r.Duration).Round(time.Millisecond))
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	fmt.Fprintf(w, "runs %d, failures %d, next run %s\n", r.Task.Runs, r.Task.Failures, whenT(r.Task.NextRun))
}

func judgeScheduleRun(r adminapi.ScheduleRunAnswer) string {
	if r.Outcome != adminapi.TaskOK {
		return fmt.Sprintf("the run of %s ended %s", r.Task.Name, r.Outcome)
	}
	return ""
}

// baldur notify: the alert channels and a test alert.

func dispatchNotify(o *opts) (func(*client) int, error) {
	sub := "status"
	if len(o.args) > 0 {
		sub, o.args = o.args[0], o.args[1:]
	}
	switch sub {
	case "status":
		if err := o.allow("notify status"); err != nil {
			return nil, err
		}
		if err := o.nargs("notify status", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("GET", route(adminapi.PathNotify, nil), nil, typed(printNotify)) }, nil
	case "test":
		if err := o.allow("notify test", "channel", "reason"); err != nil {
			return nil, err
		}
		if err := o.nargs("notify test", 0, ""); err != nil {
			return nil, err
		}
		body := adminapi.NotifyTestRequest{ActionRequest: o.actionRequest(), Channel: o.channel}
		return func(c *client) int {
			return c.judged("POST", route(adminapi.PathNotifyTest, nil), body, typed(printNotifyTest), typedJudge(judgeNotifyTest))
		}, nil
	}
	return nil, usagef("unknown notify command %q; want status or test", sub)
}

func printNotify(w io.Writer, n adminapi.Notify) {
	state := "enabled"
	if !n.Enabled {
		state = "DISABLED (every alert suppressed)"
	}
	fmt.Fprintf(w, "alerts %s, source %s, %d queued\n", state, n.Source, n.Queued)
	if len(n.Channels) == 0 {
		fmt.Fprintln(w, "no channel configured: every alert is logged only")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHANNEL\tENDPOINT\tPRIORITIES\tDELIVERED\tFAILED\tRETRIED\tQUEUED")
		for _, c := range n.Channels {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n", c.Name, c.Endpoint, orDash(strings.Join(c.Priorities, ",")),
				c.Delivered, c.Failed, c.Retried, c.Queued)
		}
		tw.Flush()
	}
	g := n.Guards
	fmt.Fprintf(w, "guards: cooldown %s, budget %d/min %d/h (each channel %d/min %d/h), burst over %d in %s, reminders every %s\n",
		g.Cooldown, g.PerMinute, g.PerHour, g.ChannelPerMinute, g.ChannelPerHour, g.BurstThreshold, g.BurstWindow, g.RemindAfter)
	var counts []string
	for _, c := range n.Counts {
		if c.N > 0 {
			counts = append(counts, fmt.Sprintf("%s/%s %d", c.Outcome, c.Reason, c.N))
		}
	}
	fmt.Fprintf(w, "counted: %s\n", orDash(strings.Join(counts, ", ")))
	if len(n.Lasting) == 0 {
		fmt.Fprintln(w, "no lasting alert")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LASTING\tPRIORITY\tSINCE\tREMINDERS\tTITLE")
	for _, l := range n.Lasting {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Key, l.Priority, whenT(l.Since), l.Reminders, l.Title)
	}
	tw.Flush()
}

func printNotifyTest(w io.Writer, a adminapi.NotifyTestAnswer) {
	for _, r := range a.Results {
		if r.OK {
			fmt.Fprintf(w, "%s (%s): delivered, %d in %dms\n", r.Channel, r.Endpoint, r.Status, r.TookMS)
			continue
		}
		fmt.Fprintf(w, "%s (%s): FAILED: %s\n", r.Channel, r.Endpoint, orDash(r.Error))
	}
}

func judgeNotifyTest(a adminapi.NotifyTestAnswer) string {
	var bad []string
	for _, r := range a.Results {
		if !r.OK {
			bad = append(bad, r.Channel)
		}
	}
	if len(bad) > 0 {
		return "the test alert did not reach " + strings.Join(bad, ", ")
	}
	return ""
}
