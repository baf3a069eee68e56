package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// baldur emergency and baldur governance: the fleet's emergency level and
// the gate in front of automated actions.

func dispatchEmergency(o *opts) (func(*client) int, error) {
	sub := "status"
	if len(o.args) > 0 {
		sub, o.args = o.args[0], o.args[1:]
	}
	level := func(cmd, path string, confirm bool) (func(*client) int, error) {
		flags := []string{"reason"}
		if confirm {
			flags = append(flags, "confirm")
		}
		if err := o.allow(cmd, flags...); err != nil {
			return nil, err
		}
		what := "LEVEL --reason R"
		if confirm {
			what += " --confirm"
		}
		if err := o.nargs(cmd, 1, what); err != nil {
			return nil, err
		}
		if o.reason == nil || strings.TrimSpace(*o.reason) == "" {
			return nil, usagef("%s needs --reason R (not blank): it is recorded with your name", cmd)
		}
		body := adminapi.EmergencyRequest{ActionRequest: o.actionRequest(), Level: strings.ToUpper(o.args[0])}
		return func(c *client) int { return c.call("POST", route(path, nil), body, typed(printEmergency)) }, nil
	}
	switch sub {
	case "status":
		if err := o.allow("emergency status"); err != nil {
			return nil, err
		}
		if err := o.nargs("emergency status", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathEmergency, nil), nil, typed(printEmergency))
		}, nil
	case "declare":
		return level("emergency declare", adminapi.PathEmergencyDeclare, true)
	case "release":
		return level("emergency release", adminapi.PathEmergencyRelease, false)
	case "force-release":
		return level("emergency force-release", adminapi.PathEmergencyForceRelease, true)
	}
	return nil, usagef("unknown emergency command %q; want status, declare, release or force-release", sub)
}

func dispatchGovernance(o *opts) (func(*client) int, error) {
	sub := "status"
	if len(o.args) > 0 {
		sub, o.args = o.args[0], o.args[1:]
	}
	action := func(cmd, path string, reasonRequired, window bool, flags ...string) (func(*client) int, error) {
		if window {
			flags = append(flags, "for")
		}
		if err := o.allow(cmd, append(flags, "reason")...); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		if reasonRequired && (o.reason == nil || strings.TrimSpace(*o.reason) == "") {
			return nil, usagef("%s needs --reason R (not blank): it is recorded with your name", cmd)
		}
		body := adminapi.GovernanceRequest{ActionRequest: o.actionRequest(), Timeout: o.window}
		return func(c *client) int { return c.call("POST", route(path, nil), body, typed(printGovernance)) }, nil
	}
	onOff := func(cmd string, on, off string) (string, error) {
		if len(o.args) == 0 || (o.args[0] != on && o.args[0] != off) {
			return "", usagef("usage: baldur %s %s|%s", cmd, on, off)
		}
		v := o.args[0]
		o.args = o.args[1:]
		return v, nil
	}
	switch sub {
	case "status":
		if err := o.allow("governance status"); err != nil {
			return nil, err
		}
		if err := o.nargs("governance status", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathGovernance, nil), nil, typed(printGovernance))
		}, nil
	case "strict":
		v, err := onOff("governance strict", "on", "off")
		if err != nil {
			return nil, err
		}
		if v == "on" {
			return action("governance strict on", adminapi.PathGovernanceStrict, true, true)
		}
		return action("governance strict off", adminapi.PathGovernanceStrictEnd, false, false, "confirm")
	case "break-glass":
		v, err := onOff("governance break-glass", "open", "close")
		if err != nil {
			return nil, err
		}
		if v == "open" {
			return action("governance break-glass open", adminapi.PathGovernanceBreakGlass, true, true, "confirm")
		}
		return action("governance break-glass close", adminapi.PathGovernanceBreakGlassClose, false, false)
	}
	return nil, usagef("unknown governance command %q; want status, strict or break-glass", sub)
}

func printEmergency(w io.Writer, ans adminapi.EmergencyAnswer) {
	e := ans.Emergency
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "level\t%s\n", e.Level)
	if e.ChangedBy != "" {
		line := whenT(e.ChangedAt) + " by " + e.ChangedBy
		if e.Reason != "" {
			line += ": \"" + e.Reason + "\""
		}
		fmt.Fprintf(tw, "last change\t%s\n", line)
	}
	if e.Source == "auto" && e.ChangedBy != "" {
		fmt.Fprintln(tw, "source\traised by the signals")
	}
	if e.Floor != "" && e.Floor != "NORMAL" {
		fmt.Fprintf(tw, "declared floor\t%s\n", e.Floor)
	}
	if r := e.Recovery; r != nil {
		by := "by " + r.By
		if r.Auto {
			by = "automatic"
		}
		fmt.Fprintf(tw, "recovery\ttoward %s (%s)\n", r.Target, by)
		if e.RecoveryHeld != "" {
			fmt.Fprintf(tw, "held\t%s\n", e.RecoveryHeld)
		}
	}
	s := e.Signals
	switch {
	case s.CallsError != "":
		fmt.Fprintf(tw, "calls\tunreadable: %s\n", s.CallsError)
	case s.RateError != "":
		fmt.Fprintf(tw, "calls\tbreakers open %.1f%% of %d; error rate unreadable: %s\n", 100*s.BreakersOpen, s.Breakers, s.RateError)
	default:
		fmt.Fprintf(tw, "calls\tbreakers open %.1f%% of %d; error rate %.1f%% over %d calls\n", 100*s.BreakersOpen, s.Breakers, 100*s.ErrorRate, s.Calls)
	}
	if s.HostError != "" {
		fmt.Fprintf(tw, "host\tunreadable: %s\n", s.HostError)
	} else if !s.At.IsZero() {
		fmt.Fprintf(tw, "host\tcpu %.1f%%, load %.2f per cpu\n", 100*s.CPU, s.Load)
	}
	if e.Demanded != "" && e.Demanded != "NORMAL" {
		fmt.Fprintf(tw, "signals demand\t%s: %s\n", e.Demanded, strings.Join(e.Why, "; "))
	}
	fmt.Fprintf(tw, "automatic\t%s\n", yesNo(e.Auto))
	fmt.Fprintf(tw, "shed calls\t%d\n", e.ShedCalls)
	if e.PendingFleet {
		fmt.Fprintf(tw, "fleet\t%s\n", pendingFleet)
	}
	if e.StateError != "" {
		fmt.Fprintf(tw, "WARNING\tthe fleet state could not be read (%s); showing the last known level\n", e.StateError)
	}
	for _, r := range e.Reviews {
		fmt.Fprintf(tw, "REVIEW\t%s %s forced %s -> %s: %q\n", whenT(r.At), r.Who, r.From, r.To, r.Reason)
	}
	tw.Flush()
}

func printGovernance(w io.Writer, ans adminapi.GovernanceAnswer) {
	g := ans.Governance
	if g.BlockedBy != "" {
		fmt.Fprintf(w, "automation BLOCKED by %s: %s\n", g.BlockedBy, g.Reason)
	} else {
		fmt.Fprintln(w, "automation allowed")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tOUTCOME\tDETAIL")
	for _, c := range g.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Check, c.Outcome, c.Detail)
	}
	tw.Flush()
	if s := g.Strict; s != nil {
		fmt.Fprintf(w, "STRICT until %s by %s: %q\n", whenT(s.Until), s.Who, s.Reason)
	}
	if b := g.BreakGlass; b != nil {
		fmt.Fprintf(w, "BREAK GLASS until %s by %s: %q\n", whenT(b.Until), b.Who, b.Reason)
	}
	for _, r := range g.Reviews {
		fmt.Fprintf(w, "REVIEW %s %s opened Break Glass: %q\n", whenT(r.At), r.Who, r.Reason)
	}
	if g.StateError != "" {
		fmt.Fprintf(w, "WARNING the governance state could not be read: %s\n", g.StateError)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
