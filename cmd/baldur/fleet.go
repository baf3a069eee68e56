package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
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
		return func(c *client) int { return c.call("GET", "leader/", nil, printLeader) }, nil
	case "schedule":
		return func(c *client) int { return c.call("GET", "schedule/", nil, printSchedule) }, nil
	default:
		return func(c *client) int { return c.call("GET", "watchdog/", nil, printWatchdog) }, nil
	}
}

func printLeader(w io.Writer, body map[string]any) {
	if at(body, "leader") == true {
		fmt.Fprintf(w, "this process leads (token %s, since %s", str(body, "token"), when(str(body, "since")))
		if e := str(body, "expires"); e != "" {
			fmt.Fprintf(w, ", term until %s unless renewed", when(e))
		}
		fmt.Fprintln(w, ")")
	} else {
		fmt.Fprintf(w, "this process follows; leader: %s (token %s)\n", orDash(str(body, "holder")), orDash(str(body, "holder_token")))
	}
	fmt.Fprintf(w, "id: %s  group: %s  mode: %s  lease: %s  renew: %s\n",
		str(body, "id"), str(body, "group"), str(body, "mode"), str(body, "lease"), str(body, "renew"))
	if e := str(body, "last_error"); e != "" {
		fmt.Fprintf(w, "store: %s\n", e)
	}
}

// nanos prints a duration the server sent in nanoseconds.
func nanos(v any) string {
	f, ok := v.(float64)
	if !ok {
		return "-"
	}
	return time.Duration(f).Round(time.Millisecond).String()
}

func printSchedule(w io.Writer, body map[string]any) {
	tasks := list(body, "tasks")
	if len(tasks) == 0 {
		fmt.Fprintln(w, "no scheduled task")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSPEC\tSCOPE\tLAST RUN\tOUTCOME\tDURATION\tNEXT RUN\tRUNS\tFAILURES\tSKIPS")
	for _, t := range tasks {
		outcome := str(t, "last_outcome")
		switch {
		case at(t, "running") == true:
			outcome = "running"
		case outcome == "":
			outcome = "not run yet"
		}
		dur := "-"
		if str(t, "last_run") != "" {
			dur = nanos(at(t, "last_duration_ns"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", str(t, "name"), str(t, "spec"), str(t, "scope"),
			orDash(when(str(t, "last_run"))), outcome, dur, orDash(when(str(t, "next_run"))),
			str(t, "runs"), str(t, "failures"), str(t, "skips"))
	}
	tw.Flush()
	for _, t := range tasks {
		if e := str(t, "last_error"); e != "" {
			fmt.Fprintf(w, "%s: last error: %s\n", str(t, "name"), e)
		}
	}
}

func printWatchdog(w io.Writer, body map[string]any) {
	if at(body, "healthy") == true {
		fmt.Fprintln(w, "every loop beating")
	} else {
		fmt.Fprintf(w, "DEGRADED: %s\n", str(body, "detail"))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LOOP\tSTATE\tPERIOD\tSILENT FOR\tRESTARTS")
	for _, l := range list(body, "loops") {
		restarts, _ := at(l, "restarts").(float64)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", str(l, "name"), str(l, "state"), nanos(at(l, "period_ns")),
			nanos(at(l, "silent_ns")), strconv.Itoa(int(restarts)))
	}
	tw.Flush()
}
