package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// baldur chaos: fault-injection experiments (README, Fault injection).

func dispatchChaos(o *opts) (func(*client) int, error) {
	sub := "list"
	if len(o.args) > 0 {
		sub, o.args = o.args[0], o.args[1:]
	}
	switch sub {
	case "list":
		if err := o.allow("chaos list"); err != nil {
			return nil, err
		}
		if err := o.nargs("chaos list", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("GET", route(adminapi.PathChaos, nil), nil, typed(printChaos)) }, nil
	case "inject":
		if err := o.allow("chaos inject", "errors", "latency", "latency-percent", "for", "reason", "confirm"); err != nil {
			return nil, err
		}
		if err := o.nargs("chaos inject", 1, "SERVICE [--errors P%] [--latency D] --for D --confirm"); err != nil {
			return nil, err
		}
		if o.chaos["errors"] == "" && o.chaos["latency"] == "" {
			return nil, usagef("chaos inject needs --errors P%% and/or --latency D")
		}
		if o.window == "" {
			return nil, usagef("chaos inject needs --for D: an experiment always ends by itself")
		}
		body := adminapi.ChaosRequest{ActionRequest: o.actionRequest(), Service: o.args[0],
			Latency: o.chaos["latency"], For: o.window}
		var err error
		if body.ErrorPercent, err = percent("errors", o.chaos["errors"]); err != nil {
			return nil, err
		}
		if body.LatencyPercent, err = percent("latency-percent", o.chaos["latency-percent"]); err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("POST", route(adminapi.PathChaos, nil), body, typed(printChaos)) }, nil
	case "stop":
		if err := o.allow("chaos stop", "reason"); err != nil {
			return nil, err
		}
		if err := o.nargs("chaos stop", 1, "SERVICE [--reason R]"); err != nil {
			return nil, err
		}
		body := adminapi.ChaosRequest{ActionRequest: o.actionRequest(), Service: o.args[0]}
		return func(c *client) int {
			return c.call("POST", route(adminapi.PathChaosStop, nil), body, typed(printChaos))
		}, nil
	}
	return nil, usagef("unknown chaos command %q; want list, inject or stop", sub)
}

// percent reads "20%" or "20"; the server checks the range and names it.
func percent(flag, v string) (float64, error) {
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil {
		return 0, usagef("flag --%s=%q: want a percentage such as 20%%", flag, v)
	}
	return f, nil
}

func chaosFaults(e adminapi.ChaosExperiment) string {
	var parts []string
	if e.ErrorPercent > 0 {
		parts = append(parts, fmt.Sprintf("errors %g%%", e.ErrorPercent))
	}
	if e.Latency != "" {
		parts = append(parts, fmt.Sprintf("latency %s on %g%%", e.Latency, e.LatencyPercent))
	}
	return strings.Join(parts, ", ")
}

func printChaos(w io.Writer, ans adminapi.ChaosAnswer) {
	if s := ans.Started; s != nil {
		fmt.Fprintf(w, "started: %s: %s until %s\n", s.Service, chaosFaults(*s), whenT(s.Until))
	}
	if s := ans.Stopped; s != nil {
		fmt.Fprintf(w, "stopped: %s (%d errors and %d delays injected here)\n", s.Service, s.InjectedErrors, s.InjectedDelays)
	}
	if ans.Disabled {
		fmt.Fprintln(w, "fault injection is DISABLED in this process (BALDUR_CHAOS_ENABLED=false)")
	}
	if ans.Paused {
		fmt.Fprintln(w, "PAUSED: the emergency level is HIGH or above; nothing is injected and experiments are refused")
	}
	if len(ans.Experiments) == 0 {
		fmt.Fprintf(w, "no fault-injection experiment in force (at most %s each)\n", ans.MaxFor)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tFAULTS\tUNTIL\tBY\tINJECTED HERE\tREASON")
	for _, e := range ans.Experiments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d errors, %d delays\t%s\n", e.Service, chaosFaults(e), whenT(e.Until), e.By,
			e.InjectedErrors, e.InjectedDelays, orDash(e.Reason))
	}
	tw.Flush()
}
