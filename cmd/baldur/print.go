package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// whenT shortens a time to the second, in UTC, for tables: "-" for the zero time.
func whenT(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func transition(b adminapi.Breaker) string {
	t := b.LastTransition
	if t == nil {
		return "-"
	}
	s := t.From + "->" + t.To + " " + whenT(t.At)
	if t.Reason != "" {
		s += " (" + t.Reason + ")"
	}
	return s
}

// chaosMark is the breaker's state, marked when a fault-injection experiment
// is applied to its service: its failures are a rehearsal's.
func chaosMark(b adminapi.Breaker) string {
	if b.Chaos {
		return b.State + " [CHAOS]"
	}
	return b.State
}

func printBreakers(w io.Writer, ans adminapi.BreakerList) {
	if len(ans.Breakers) == 0 {
		fmt.Fprintln(w, "no breakers yet: they appear when a protected service is constructed")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tFAILURES\tMETHODS\tLAST CHANGE")
	for _, b := range ans.Breakers {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", b.Name, chaosMark(b), b.Failures,
			b.Limits.FailureThreshold, orDash(strings.Join(b.Methods, ",")), transition(b))
	}
	tw.Flush()
}

func printBreaker(w io.Writer, ans adminapi.BreakerAnswer) {
	b := ans.Breaker
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"name", b.Name},
		{"state", chaosMark(b)},
		{"failures", fmt.Sprintf("%d/%d", b.Failures, b.Limits.FailureThreshold)},
		{"methods", orDash(strings.Join(b.Methods, ","))},
		{"opened at", whenT(b.OpenedAt)},
		{"last change", transition(b)},
		{"recovery timeout", fmt.Sprintf("%gs", b.Limits.RecoverySeconds)},
		{"half-open probes", strconv.Itoa(b.Limits.HalfOpenMaxCalls)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	tw.Flush()
}

func printBreakerAction(w io.Writer, ans adminapi.BreakerActionAnswer) {
	fmt.Fprintf(w, "%s: %s -> %s (%s by %s)\n", ans.Breaker.Name, ans.PreviousState,
		ans.Breaker.State, ans.Action, ans.By)
}

func printControl(w io.Writer, ans adminapi.ControlAnswer) {
	c := ans.Control
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "kill switch\t%s\n", c.KillSwitch)
	fmt.Fprintf(tw, "mode\t%s\n", c.Mode)
	if by := c.ChangedBy; by != "" {
		line := whenT(c.ChangedAt) + " by " + by
		if r := c.Reason; r != "" {
			line += ": \"" + r + "\""
		}
		fmt.Fprintf(tw, "last change\t%s\n", line)
	}
	fmt.Fprintf(tw, "revision\t%d\n", c.Revision)
	fmt.Fprintf(tw, "stored in\t%s\n", c.Backend)
	if e := c.StateError; e != "" {
		fmt.Fprintf(tw, "WARNING\tthe stored state could not be read (%s); showing the last known state\n", e)
	}
	if c.PendingFleet {
		fmt.Fprintf(tw, "fleet\t%s\n", pendingFleet)
	}
	tw.Flush()
}

func printControlChange(w io.Writer, ans adminapi.ControlChangeAnswer) {
	c := ans.Control
	line := fmt.Sprintf("kill switch %s, mode %s", c.KillSwitch, c.Mode)
	if ch := ans.Change; ch != nil {
		line += fmt.Sprintf(" (%s by %s", ch.Action, ch.Who)
		if r := ch.Reason; r != "" {
			line += ": \"" + r + "\""
		}
		line += ")"
	}
	fmt.Fprintln(w, line)
	if ans.PendingFleet {
		fmt.Fprintln(w, pendingFleet)
	}
}

// pendingFleet explains "pending_fleet": true.
const pendingFleet = "PENDING: in force on this server; the fleet store is unreachable, so the other processes " +
	"get it when it returns (journaled locally meanwhile)"

func printHistory(w io.Writer, ans adminapi.ControlHistory) {
	if len(ans.History) == 0 {
		fmt.Fprintln(w, "no change recorded")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tACTION\tWHO\tREASON\tTHEN")
	for _, c := range ans.History {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\n", whenT(c.At), c.Action, c.Who,
			orDash(c.Reason), c.KillSwitch, c.Mode)
	}
	tw.Flush()
}

func printWouldHave(w io.Writer, ans adminapi.WouldHaveAnswer) {
	dry := "no"
	if ans.DryRun {
		dry = "yes"
	}
	fmt.Fprintf(w, "dry-run: %s; showing %d of %d entries, newest first\n", dry, len(ans.Entries), ans.Total)
	if len(ans.Entries) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tSERVICE\tMETHOD\tPOLICY\tDECISION\tREASON")
	for _, d := range ans.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", whenT(d.At), d.Service, d.Method, d.Policy, d.Decision, d.Reason)
	}
	tw.Flush()
}

func printHealth(w io.Writer, ans adminapi.Health) {
	draining := "no"
	if ans.Draining {
		draining = "yes"
	}
	fmt.Fprintf(w, "status: %s (draining: %s)\n", ans.Status, draining)
	names := make([]string, 0, len(ans.Checks))
	for n := range ans.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", n, ans.Checks[n].Status, ans.Checks[n].Error)
	}
	tw.Flush()
}

// printReports prints each day's rendering, newest first, a blank line
// between days that take more than one line.
func printReports(w io.Writer, ans adminapi.ReportAnswer) {
	for i, d := range ans.Days {
		if i > 0 && (strings.Contains(d.Text, "\n") || strings.Contains(ans.Days[i-1].Text, "\n")) {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, d.Text)
	}
}
