package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// The load-shaping command: baldur shaping.

func dispatchShaping(o *opts) (func(*client) int, error) {
	if err := o.allow("shaping"); err != nil {
		return nil, err
	}
	if err := o.nargs("shaping", 0, ""); err != nil {
		return nil, err
	}
	return func(c *client) int { return c.call("GET", route(adminapi.PathShaping, nil), nil, typed(printShaping)) }, nil
}

func printShaping(w io.Writer, s adminapi.Shaping) {
	fmt.Fprintf(w, "emergency level %s", s.Level)
	switch s.Level {
	case "ELEVATED":
		fmt.Fprint(w, ": retry budgets halved")
	case "HIGH", "CRITICAL":
		fmt.Fprint(w, ": retry budgets, rate limits and adaptive concurrency limits halved")
	}
	fmt.Fprintln(w)
	if len(s.Methods) == 0 {
		fmt.Fprintln(w, "no method uses load shaping (cache=, rate=, throttle=adaptive, concurrency=adaptive, retry_budget=, hedge=)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tCACHE\tRATE\tTOKENS\tLIMITED\tTHROTTLE\tSHED\tCONCURRENCY\tREFUSED\tRETRY BUDGET\tEXHAUSTED\tHEDGES")
	for _, m := range s.Methods {
		cache, hedges := "-", "-"
		if c := m.Cache; c != nil {
			cache = fmt.Sprintf("%d hit %d miss %d stale, %d/%d", c.Hits, c.Misses, c.Stale, c.Entries, c.Max)
		}
		if h := m.Hedge; h != nil {
			hedges = fmt.Sprintf("%d started %d won %d refused, after %s", h.Started, h.Won, h.Refused,
				time.Duration(h.DelayMs*float64(time.Millisecond)).Round(time.Microsecond))
		}
		rate, tokens, limited := "-", "-", "-"
		if r := m.Rate; r != nil {
			rate = r.Limit + flags(r.Fleet, "fleet", r.Halved, "halved")
			tokens = fmt.Sprintf("%d/%d", r.Tokens, r.Burst)
			limited = strconv.FormatUint(r.Limited, 10)
		}
		throttle, shed := "-", "-"
		if t := m.Throttle; t != nil {
			throttle = strconv.FormatFloat(t.Probability*100, 'f', 1, 64) + "%"
			shed = strconv.FormatUint(t.Shed, 10)
		}
		conc, refused := "-", "-"
		if c := m.Concurrency; c != nil {
			conc = fmt.Sprintf("%d/%d", c.InFlight, c.Limit) + flags(c.Halved, "halved")
			refused = strconv.FormatUint(c.Limited, 10)
		}
		budget, exhausted := "-", "-"
		if b := m.Budget; b != nil {
			fleet := ""
			if b.Fleet {
				fleet = fmt.Sprintf("fleet of %d", b.Processes)
			}
			budget = fmt.Sprintf("%d/%.0f of %s", b.Retries, b.Allowed, b.Budget) + flags(b.Fleet, fleet, b.Shrunk, "halved")
			exhausted = strconv.FormatUint(b.Exhausted, 10)
		}
		fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Service, m.Method, cache, rate, tokens, limited,
			throttle, shed, conc, refused, budget, exhausted, hedges)
	}
	tw.Flush()
	for _, m := range s.Methods {
		if r := m.Rate; r != nil && r.Errors > 0 {
			fmt.Fprintf(w, "%s.%s: %d fleet leases failed (the process limits alone meanwhile)\n", m.Service, m.Method, r.Errors)
		}
		if b := m.Budget; b != nil && b.SyncErrors > 0 {
			fmt.Fprintf(w, "%s.%s: %d fleet budget syncs failed (the process keeps the budget alone meanwhile)\n", m.Service, m.Method, b.SyncErrors)
		}
	}
}

// flags is " (a, b)" for the words whose condition holds, or "".
func flags(pairs ...any) string {
	var on []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(bool) && pairs[i+1].(string) != "" {
			on = append(on, pairs[i+1].(string))
		}
	}
	if len(on) == 0 {
		return ""
	}
	return " (" + strings.Join(on, ", ") + ")"
}
