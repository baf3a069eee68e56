package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// sparkBlocks are the eight heights of a sparkline, lowest first.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws vs (oldest first) in at most width block characters,
// scaled to the largest value; the newest values win when vs is longer.
func sparkline(vs []uint64, width int) string {
	if len(vs) > width {
		vs = vs[len(vs)-width:]
	}
	var top uint64
	for _, v := range vs {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range vs {
		i := 0
		if top > 0 {
			i = int((v*uint64(len(sparkBlocks)-1) + top/2) / top)
		}
		b.WriteRune(sparkBlocks[i])
	}
	return b.String()
}

// dispatchTop is baldur top: services, calls/s, error rate and breaker
// state, redrawn every --interval while stdout is a terminal.
func dispatchTop(o *opts) (func(*client) int, error) {
	if err := o.allow("top", "once", "interval"); err != nil {
		return nil, err
	}
	if err := o.nargs("top", 0, ""); err != nil {
		return nil, err
	}
	once := o.set["once"] || o.json
	interval := o.interval
	return func(c *client) int {
		get := func() int { return c.call("GET", route(adminapi.PathSeries, nil), nil, typed(printTop)) }
		if once || !isTerminal(c.stdout) {
			return get()
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			fmt.Fprint(c.stdout, "\x1b[H\x1b[2J") // home, clear
			fmt.Fprintf(c.stdout, "baldur top: every %s, ctrl-c to quit\n\n", interval)
			if code := get(); code != exitOK {
				return code
			}
			select {
			case <-ctx.Done():
				return exitOK
			case <-tick.C:
			}
		}
	}, nil
}

// printTop prints one line per service: its breaker, the last minute's
// calls per second and error rate, and its last hour of calls as a sparkline.
func printTop(w io.Writer, ans adminapi.SeriesList) {
	if len(ans.Services) == 0 {
		fmt.Fprintln(w, "no services yet: they appear when a protected service is constructed")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSTATE\tCALLS/S\tERRORS\tREJECTED\tLAST HOUR (calls/min)")
	for _, s := range ans.Services {
		rate, errs, rej := "-", "-", "-"
		if p := s.Last; p != nil && p.StepSeconds > 0 {
			rate = fmt.Sprintf("%.1f", float64(p.Calls)/float64(p.StepSeconds))
			errs = "0%"
			if p.Calls > 0 {
				errs = fmt.Sprintf("%.1f%%", 100*float64(p.Failures)/float64(p.Calls))
			}
			rej = fmt.Sprint(p.Rejections)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Service, s.State, rate, errs, rej, orDash(sparkline(s.Calls, 60)))
	}
	tw.Flush()
	scope := "this process only"
	switch {
	case ans.Fleet != nil && ans.Fleet.Error != "":
		scope = "this process only: " + ans.Fleet.Error
	case ans.Scope == adminapi.SeriesScopeFleet && ans.Fleet != nil:
		scope = fmt.Sprintf("the fleet, %d process(es) merged", ans.Fleet.Processes)
	}
	fmt.Fprintf(w, "rates over the last recorded minute; scope: %s\n", scope)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
