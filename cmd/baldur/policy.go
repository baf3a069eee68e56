package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// baldur policy: run-time overrides of retry, backoff, timeout,
// bulkhead_wait and the service's breaker_threshold, breaker_recovery and
// bulkhead (the README's "Policy overrides").

func dispatchPolicy(o *opts) (func(*client) int, error) {
	sub := "list"
	if len(o.args) > 0 {
		sub, o.args = o.args[0], o.args[1:]
	}
	scopeQuery := func(cmd string) (url.Values, error) {
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		if len(o.args) > 1 {
			return nil, usagef("usage: baldur %s [SCOPE]", cmd)
		}
		q := url.Values{}
		if len(o.args) == 1 {
			q.Set("scope", o.args[0])
		}
		return q, nil
	}
	change := func(cmd, path string, values bool) (func(*client) int, error) {
		if err := o.allow(cmd, "reason", "confirm"); err != nil {
			return nil, err
		}
		what := "SCOPE --reason R --confirm"
		if values {
			what = "SCOPE KEY=VALUE... --reason R --confirm"
		}
		if len(o.args) == 0 || values && len(o.args) < 2 || !values && len(o.args) != 1 {
			return nil, usagef("usage: baldur %s %s (SCOPE: service.Method, service or \"*\")", cmd, what)
		}
		if o.reason == nil || strings.TrimSpace(*o.reason) == "" {
			return nil, usagef("%s needs --reason R (not blank): it is recorded with your name", cmd)
		}
		body := adminapi.PolicyRequest{ActionRequest: o.actionRequest(), Scope: o.args[0], Values: strings.Join(o.args[1:], " ")}
		return func(c *client) int { return c.call("POST", route(path, nil), body, typed(printPolicy)) }, nil
	}
	switch sub {
	case "list":
		q, err := scopeQuery("policy list")
		if err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("GET", route(adminapi.PathPolicy, q), nil, typed(printPolicy)) }, nil
	case "diff":
		q, err := scopeQuery("policy diff")
		if err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathPolicyDiff, q), nil, typed(printPolicyDiff))
		}, nil
	case "set":
		return change("policy set", adminapi.PathPolicySet, true)
	case "unset":
		return change("policy unset", adminapi.PathPolicyUnset, false)
	}
	return nil, usagef("unknown policy command %q; want list, diff, set or unset", sub)
}

func printPolicy(w io.Writer, a adminapi.PolicyAnswer) {
	if len(a.Overrides) == 0 {
		fmt.Fprintln(w, "no overrides: every method runs its directive")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SCOPE\tOVERRIDE\tBY\tWHEN\tREASON")
		for _, o := range a.Overrides {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Scope, o.Values, o.By, whenT(o.At), o.Reason)
		}
		tw.Flush()
	}
	for _, c := range a.Canaries {
		fmt.Fprintf(w, "canary %s of rollout %s on %s (%s): %s for %d‰ of calls (by %s, %s)\n", c.ID, c.Rollout, c.Scope,
			strings.Join(c.Types, ", "), c.Values, c.Permille, c.By, whenT(c.At))
	}
	if len(a.Zones) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tKEY\tVALUE\tFROM\tDIRECTIVE")
	for _, z := range a.Zones {
		for _, s := range z.Settings {
			fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\t%s\n", z.Service, z.Method, s.Key, s.Value, s.Source, s.Directive)
		}
		for _, c := range z.Canaries {
			unit := fmt.Sprintf("%d‰", c.Permille)
			if c.ByProcess {
				unit = fmt.Sprintf("%d‰ of processes, this one %s", c.Permille, map[bool]string{true: "in", false: "out"}[c.Member])
			}
			for _, s := range c.Settings {
				if s.Source == "canary" {
					fmt.Fprintf(tw, "%s.%s\t%s\t%s\tcanary %s (%s)\t%s\n", z.Service, z.Method, s.Key, s.Value, c.Rollout, unit, s.Directive)
				}
			}
		}
	}
	tw.Flush()
}

func printPolicyDiff(w io.Writer, a adminapi.PolicyDiffAnswer) {
	if len(a.Changes) == 0 {
		fmt.Fprintln(w, "no differences: the overrides change nothing the directives say")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tKEY\tDIRECTIVE\tNOW\tFROM")
	for _, c := range a.Changes {
		fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\t%s\n", c.Service, c.Method, c.Key, c.Directive, c.Value, c.Source)
	}
	tw.Flush()
}
