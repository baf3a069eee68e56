package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// baldur canary: staged rollouts of policy overrides.

func dispatchCanary(o *opts) (func(*client) int, error) {
	sub := "list"
	if len(o.args) > 0 {
		sub, o.args = o.args[0], o.args[1:]
	}
	switch sub {
	case "list":
		if err := o.allow("canary list"); err != nil {
			return nil, err
		}
		if err := o.nargs("canary list", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathCanary, nil), nil, typed(printCanaryList))
		}, nil
	case "status":
		if err := o.allow("canary status"); err != nil {
			return nil, err
		}
		if err := o.nargs("canary status", 1, "ID"); err != nil {
			return nil, err
		}
		p := adminapi.CanaryPath(adminapi.PathCanaryRollout, o.args[0])
		return func(c *client) int { return c.call("GET", route(p, nil), nil, typed(printCanary)) }, nil
	case "start":
		return canaryStart(o)
	case "abort":
		if err := o.allow("canary abort", "reason"); err != nil {
			return nil, err
		}
		if err := o.nargs("canary abort", 1, "ID [--reason R]"); err != nil {
			return nil, err
		}
		p := adminapi.CanaryPath(adminapi.PathCanaryAbort, o.args[0])
		body := o.actionRequest()
		return func(c *client) int { return c.call("POST", route(p, nil), body, typed(printCanary)) }, nil
	case "panic-rollback":
		if err := o.allow("canary panic-rollback", "reason", "confirm"); err != nil {
			return nil, err
		}
		if err := o.nargs("canary panic-rollback", 0, ""); err != nil {
			return nil, err
		}
		if o.reason == nil || strings.TrimSpace(*o.reason) == "" {
			return nil, usagef("canary panic-rollback needs --reason R (not blank): it is recorded with your name")
		}
		body := o.actionRequest()
		return func(c *client) int {
			return c.call("POST", route(adminapi.PathCanaryPanicRollback, nil), body, typed(printCanaryPanic))
		}, nil
	}
	return nil, usagef("unknown canary command %q; want list, start, status, abort or panic-rollback", sub)
}

// canaryStart: baldur canary start SCOPE DIRECTIVE... where SCOPE is all (or
// *), SERVICE or SERVICE.METHOD and the directive's keys follow it.
func canaryStart(o *opts) (func(*client) int, error) {
	if err := o.allow("canary start", "reason", "stages", "hold", "bypass", "confirm"); err != nil {
		return nil, err
	}
	if len(o.args) < 2 {
		return nil, usagef("usage: baldur canary start SCOPE KEY=VALUE... [--stages 1,10,50,100] [--hold 5m] [--reason R] [--bypass R --confirm]; SCOPE is all, SERVICE or SERVICE.METHOD")
	}
	body := adminapi.CanaryStartRequest{ActionRequest: o.actionRequest(), Directive: strings.Join(o.args[1:], " "), Hold: o.hold, Bypass: o.bypass}
	switch scope := o.args[0]; {
	case scope == "all" || scope == "*":
		body.Scope = "all"
	case strings.Contains(scope, "."):
		body.Scope = "method"
		body.Service, body.Method, _ = strings.Cut(scope, ".")
	default:
		body.Scope, body.Service = "service", scope
	}
	if o.stages != "" {
		for f := range strings.SplitSeq(o.stages, ",") {
			p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(f), "%"), 64)
			if err != nil {
				return nil, usagef("flag --stages=%q: %q is not a percentage; want e.g. 1,10,50,100", o.stages, f)
			}
			body.Stages = append(body.Stages, p)
		}
	}
	path := adminapi.PathCanaryStart
	if o.set["bypass"] {
		if strings.TrimSpace(o.bypass) == "" {
			return nil, usagef("--bypass needs the written reason for passing the gates")
		}
		path = adminapi.PathCanaryStartBypass
	} else if o.confirm {
		return nil, usagef("canary start takes --confirm only with --bypass")
	}
	return func(c *client) int { return c.call("POST", route(path, nil), body, typed(printCanary)) }, nil
}

func printCanaryList(w io.Writer, ans adminapi.CanaryList) {
	t := ans.Thresholds
	fmt.Fprintf(w, "thresholds: at least %d calls; canary error rate <= baseline + %g points; p99 <= baseline x %g (with %d samples); hold %gs, deadline %gs; refused from emergency %s\n",
		t.MinCalls, t.MaxErrorRise, t.MaxP99Ratio, t.MinSamples, t.HoldSeconds, t.StageDeadlineSeconds, t.MaxEmergency)
	if len(ans.Rollouts) == 0 {
		fmt.Fprintln(w, "no rollouts")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSCOPE\tDIRECTIVE\tSTAGE\tCANARY\tBASELINE\tVERDICT")
	for _, r := range ans.Rollouts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, scopeText(r.Scope), r.Directive,
			stageText(r), figuresText(r.Canary), figuresText(r.Baseline), verdictText(r))
	}
	tw.Flush()
}

func printCanary(w io.Writer, ans adminapi.CanaryAnswer) {
	r := ans.Rollout
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rollout\t%s (%s)\n", r.ID, r.State)
	fmt.Fprintf(tw, "scope\t%s\n", scopeText(r.Scope))
	fmt.Fprintf(tw, "override\t%s\n", r.Directive)
	fmt.Fprintf(tw, "stage\t%s\n", stageText(r))
	fmt.Fprintf(tw, "started\t%s by %s\n", whenT(r.Started), r.Who)
	if r.State == "running" {
		fmt.Fprintf(tw, "deadline\t%s\n", whenT(r.Deadline))
	}
	fmt.Fprintf(tw, "canary\t%s\n", figuresText(r.Canary))
	fmt.Fprintf(tw, "baseline\t%s\n", figuresText(r.Baseline))
	if r.Reference != nil {
		fmt.Fprintf(tw, "reference\t%s\n", figuresText(*r.Reference))
	}
	fmt.Fprintf(tw, "verdict\t%s\n", verdictText(r))
	if r.Blocked != "" {
		fmt.Fprintf(tw, "BLOCKED\t%s\n", r.Blocked)
	}
	if r.EndReason != "" {
		fmt.Fprintf(tw, "ended\t%s: %s\n", whenT(r.Ended), r.EndReason)
	}
	if r.Review {
		fmt.Fprintf(tw, "REVIEW\tgates bypassed: %q\n", r.Bypass)
	}
	for _, s := range r.History {
		fmt.Fprintf(tw, "  %g%%\t%s: canary %s, baseline %s\n", s.Percent, s.Outcome, figuresText(s.Canary), figuresText(s.Baseline))
	}
	tw.Flush()
}

func printCanaryPanic(w io.Writer, ans adminapi.CanaryPanicAnswer) {
	if len(ans.RolledBack) == 0 {
		fmt.Fprintln(w, "no running rollout: nothing rolled back")
		return
	}
	for _, r := range ans.RolledBack {
		fmt.Fprintf(w, "rolled back %s (%s: %s)\n", r.ID, scopeText(r.Scope), r.Directive)
	}
}

func scopeText(s adminapi.CanaryScope) string {
	switch s.Kind {
	case "all":
		return "all"
	case "service":
		return s.Service
	}
	return s.Service + "." + s.Method
}

func stageText(r adminapi.CanaryRollout) string {
	return fmt.Sprintf("%g%% (%d of %d)", r.Percent, r.Stage+1, len(r.Stages))
}

func figuresText(f adminapi.CanaryFigures) string {
	s := fmt.Sprintf("%d calls, %.2f%% errors", f.Calls, f.ErrorRate)
	if f.Samples > 0 {
		s += fmt.Sprintf(", p99 %.3gms", f.P99)
	}
	return s
}

func verdictText(r adminapi.CanaryRollout) string {
	if r.Verdict.Outcome == "" {
		return "-"
	}
	return r.Verdict.Outcome + ": " + r.Verdict.Reason
}
