package main

import (
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// batchTimeout is the request timeout of a batch replay when --timeout is
// not given: the server bounds a batch at 45s by default.
const batchTimeout = 60 * time.Second

var dlqFilterFlags = []string{"domain", "operation", "failure-type", "state"}

func dispatchDLQ(o *opts) (func(*client) int, error) {
	if len(o.args) == 0 {
		return nil, usagef("usage: baldur dlq list|show|stats|replay|redrive|purge [ID]")
	}
	sub := o.args[0]
	o.args = o.args[1:]
	cmd := "dlq " + sub
	filtered := len(o.dlq) > 0
	// An action names one entry (ID) or, for replay and purge, a filter; not both.
	if filtered && len(o.args) > 0 && (sub == "replay" || sub == "purge") {
		return nil, usagef("%s takes an ID or filter flags, not both", cmd)
	}
	one := func(what string) (string, error) {
		if err := o.nargs(cmd, 1, what); err != nil {
			return "", err
		}
		return o.args[0], nil
	}
	action := o.actionRequest
	withFilter := func(body adminapi.ActionRequest) adminapi.DLQBatchRequest {
		return adminapi.DLQBatchRequest{ActionRequest: body, DLQFilter: adminapi.DLQFilter{
			Domain: o.dlq["domain"], Operation: o.dlq["operation"], FailureType: o.dlq["failure_type"],
			State: o.dlq["state"], Limit: o.limit,
		}}
	}
	switch sub {
	case "list":
		if err := o.allow(cmd, append(dlqFilterFlags, "limit", "cursor")...); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		q := url.Values{"limit": {strconv.Itoa(o.limit)}}
		for k, v := range o.dlq {
			q.Set(k, v)
		}
		if o.cursor != "" {
			q.Set("cursor", o.cursor)
		}
		return func(c *client) int { return c.call("GET", route(adminapi.PathDLQ, q), nil, typed(printDLQList)) }, nil
	case "show":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		id, err := one("ID")
		if err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.DLQEntryPath(adminapi.PathDLQEntry, id), nil), nil, typed(printDLQEntry))
		}, nil
	case "stats":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathDLQStats, nil), nil, typed(printDLQStats))
		}, nil
	case "replay":
		if filtered {
			if err := o.allow(cmd, "domain", "operation", "failure-type", "limit", "override", "reason"); err != nil {
				return nil, err
			}
			if o.dlq["domain"] == "" && o.dlq["failure_type"] == "" {
				return nil, usagef("dlq replay by filter needs --domain D or --failure-type T")
			}
			body := withFilter(action())
			if !o.set["timeout"] {
				o.timeout = batchTimeout
			}
			return func(c *client) int {
				c.timeout = o.timeout
				run := func(p printer) int {
					return c.judged("POST", route(adminapi.PathDLQReplayBatch, nil), body, p, typedJudge(judgeBatch))
				}
				return withProgress(c, "replaying", body.DLQFilter, true, run, typed(printDLQBatch), func(b map[string]any) int {
					var ans adminapi.DLQBatchAnswer
					if decodeTree(b, &ans) != nil {
						return -1
					}
					return ans.Report.Replayed
				})
			}, nil
		}
		if err := o.allow(cmd, "override", "reason"); err != nil {
			return nil, err
		}
		id, err := one("ID [--override], or baldur dlq replay --domain D [--failure-type T] [--limit N]")
		if err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.judged("POST", route(adminapi.DLQEntryPath(adminapi.PathDLQEntryReplay, id), nil), action(), typed(printDLQAction), typedJudge(judgeReplay))
		}, nil
	case "redrive":
		if err := o.allow(cmd, "reason"); err != nil {
			return nil, err
		}
		id, err := one("ID")
		if err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("POST", route(adminapi.DLQEntryPath(adminapi.PathDLQEntryRedrive, id), nil), action(), typed(printDLQAction))
		}, nil
	case "purge":
		if filtered {
			if err := o.allow(cmd, append(dlqFilterFlags, "limit", "confirm", "reason")...); err != nil {
				return nil, err
			}
			body := withFilter(action())
			return func(c *client) int {
				run := func(p printer) int { return c.call("POST", route(adminapi.PathDLQPurgeBatch, nil), body, p) }
				return withProgress(c, "purging", body.DLQFilter, false, run, typed(printDLQPurgeBatch), func(b map[string]any) int {
					var ans adminapi.DLQPurgeBatchAnswer
					if decodeTree(b, &ans) != nil {
						return -1
					}
					return ans.Purged
				})
			}, nil
		}
		if err := o.allow(cmd, "confirm", "reason"); err != nil {
			return nil, err
		}
		id, err := one("ID --confirm, or baldur dlq purge --domain D [--state S] --confirm")
		if err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("POST", route(adminapi.DLQEntryPath(adminapi.PathDLQEntryPurge, id), nil), action(), typed(printDLQPurge))
		}, nil
	}
	return nil, usagef("unknown dlq command %q", sub)
}

// judgeReplay fails a replay whose call did not succeed: scripts read
// "baldur dlq replay ID && ..." as "it went through".
func judgeReplay(ans adminapi.DLQActionAnswer) string {
	if e := ans.Entry; e.State != "resolved" {
		return fmt.Sprintf("the replay of %s did not resolve it: the entry is %s", e.ID, e.State)
	}
	return ""
}

// judgeBatch fails a batch in which some replay did not resolve, or a
// domain was skipped because another runner held it.
func judgeBatch(ans adminapi.DLQBatchAnswer) string {
	r := ans.Report
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		if k != "resolved" {
			bad = append(bad, strconv.Itoa(r.Outcomes[k])+" "+k)
		}
	}
	if len(r.Busy) > 0 {
		bad = append(bad, "busy elsewhere: "+strings.Join(r.Busy, ","))
	}
	if len(bad) > 0 {
		return "not every replay resolved: " + strings.Join(bad, ", ")
	}
	return ""
}

func printDLQList(w io.Writer, ans adminapi.DLQListing) {
	f := ans.Filter
	desc := f.State
	for _, kv := range [][2]string{{"domain", f.Domain}, {"operation", f.Operation}, {"failure_type", f.FailureType}} {
		if kv[1] != "" {
			desc += ", " + kv[0] + "=" + kv[1]
		}
	}
	if len(ans.Entries) == 0 {
		fmt.Fprintf(w, "no dead letter (%s)\n", desc)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDOMAIN\tOPERATION\tSTATE\tFAILURE\tREPLAYS\tLAST FAILURE\tERROR")
	for _, e := range ans.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, e.Domain, e.Operation, e.State,
			e.FailureType, e.ReplayCount, whenT(e.LastFailure), shorten(e.Error, 60))
	}
	tw.Flush()
	if ans.Next != "" {
		fmt.Fprintf(w, "more entries match: add --cursor %s\n", ans.Next)
	}
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func printDLQEntry(w io.Writer, ans adminapi.DLQEntryAnswer) {
	e := ans.Entry
	args := string(e.Args)
	if args == "" {
		args = "null"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"id", e.ID},
		{"method", e.Domain + "." + e.Operation},
		{"state", e.State},
		{"reason", e.Reason},
		{"error", e.Error},
		{"failure type", e.FailureType},
		{"attempts", strconv.Itoa(e.Attempts)},
		{"replays", strconv.Itoa(e.ReplayCount)},
		{"first failure", whenT(e.FirstFailure)},
		{"last failure", whenT(e.LastFailure)},
		{"updated", whenT(e.UpdatedAt)},
	}
	if e.LastError != "" {
		rows = append(rows, [2]string{"last replay error", e.LastError})
	}
	if e.Owner != "" {
		rows = append(rows, [2]string{"leased by", e.Owner + " until " + whenT(e.LeaseUntil)})
	}
	rows = append(rows, [2]string{"signature", orDash(e.Signature)}, [2]string{"arguments", args})
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
}

func printDLQStats(w io.Writer, ans adminapi.DLQStatsAnswer) {
	s := ans.Stats
	fmt.Fprintf(w, "%d unresolved, %d evicted at the cap\n", s.Total, s.Evicted)
	if len(s.Groups) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tFAILURE TYPE\tPENDING\tREPLAYING\tNEEDS REVIEW\tRESOLVED\tCOMPRESSED")
	for _, g := range s.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", g.Domain, orDash(g.FailureType), g.Pending,
			g.Replaying, g.NeedsReview, g.Resolved, g.Compressed)
	}
	if len(s.Operations) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "DOMAIN\tOPERATION\tPENDING\tREPLAYING\tNEEDS REVIEW\tRESOLVED\t")
		for _, o := range s.Operations {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", o.Domain, o.Operation, o.Pending, o.Replaying, o.NeedsReview, o.Resolved)
		}
	}
	tw.Flush()
}

// printDLQAction prints a replay or a redrive: where the entry stands now.
func printDLQAction(w io.Writer, ans adminapi.DLQActionAnswer) {
	e := ans.Entry
	verb := map[string]string{"replay": "replayed", "redrive": "redriven"}[ans.Action]
	fmt.Fprintf(w, "%s: %s by %s; now %s (%s)\n", e.ID, verb, ans.By, e.State, e.Reason)
	if e.LastError != "" && e.State != "resolved" {
		fmt.Fprintf(w, "  last error: %s\n", e.LastError)
	}
}

func printDLQPurge(w io.Writer, ans adminapi.DLQPurgeAnswer) {
	line := fmt.Sprintf("%s: purged by %s", ans.ID, ans.By)
	if e := ans.Entry; e != nil {
		line += fmt.Sprintf(" (was %s, %s.%s)", e.State, e.Domain, e.Operation)
	}
	fmt.Fprintln(w, line)
}

func printDLQBatch(w io.Writer, ans adminapi.DLQBatchAnswer) {
	r := ans.Report
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		parts = append(parts, strconv.Itoa(r.Outcomes[k])+" "+k)
	}
	line := fmt.Sprintf("replayed %d entries by %s", r.Replayed, ans.By)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	fmt.Fprintln(w, line)
	if len(r.Busy) > 0 {
		fmt.Fprintf(w, "skipped, another runner holds them: %s\n", strings.Join(r.Busy, ","))
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "stopped early: %s\n", r.Stopped)
	}
	if ans.Note != "" {
		fmt.Fprintln(w, ans.Note)
	}
}

func printDLQPurgeBatch(w io.Writer, ans adminapi.DLQPurgeBatchAnswer) {
	fmt.Fprintf(w, "purged %d entries by %s\n", ans.Purged, ans.By)
	for _, id := range ans.IDs {
		fmt.Fprintf(w, "  %s\n", id)
	}
	if ans.More {
		fmt.Fprintln(w, "more entries match: run it again")
	}
}
