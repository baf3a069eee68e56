package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// The fleet commands: baldur leader, baldur schedule, baldur watchdog.

func dispatchFleet(o *opts, group string) (func(*client) int, error) {
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
