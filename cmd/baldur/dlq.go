package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
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
		return func(c *client) int { return c.call("GET", route(adminapi.PathDLQ, q), nil, printDLQList) }, nil
	case "show":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		id, err := one("ID")
		if err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.DLQEntryPath(adminapi.PathDLQEntry, id), nil), nil, printDLQEntry)
		}, nil
	case "stats":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("GET", route(adminapi.PathDLQStats, nil), nil, printDLQStats) }, nil
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
					return c.judged("POST", route(adminapi.PathDLQReplayBatch, nil), body, p, judgeBatch)
				}
				return withProgress(c, "replaying", body.DLQFilter, true, run, printDLQBatch, func(b map[string]any) int {
					n, _ := strconv.Atoi(str(at(b, "report"), "replayed"))
					return n
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
			return c.judged("POST", route(adminapi.DLQEntryPath(adminapi.PathDLQEntryReplay, id), nil), action(), printDLQAction, judgeReplay)
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
			return c.call("POST", route(adminapi.DLQEntryPath(adminapi.PathDLQEntryRedrive, id), nil), action(), printDLQAction)
		}, nil
	case "purge":
		if filtered {
			if err := o.allow(cmd, append(dlqFilterFlags, "limit", "confirm", "reason")...); err != nil {
				return nil, err
			}
			body := withFilter(action())
			return func(c *client) int {
				run := func(p printer) int { return c.call("POST", route(adminapi.PathDLQPurgeBatch, nil), body, p) }
				return withProgress(c, "purging", body.DLQFilter, false, run, printDLQPurgeBatch, func(b map[string]any) int {
					n, _ := strconv.Atoi(str(b, "purged"))
					return n
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
			return c.call("POST", route(adminapi.DLQEntryPath(adminapi.PathDLQEntryPurge, id), nil), action(), printDLQPurge)
		}, nil
	}
	return nil, usagef("unknown dlq command %q", sub)
}

// judgeReplay fails a replay whose call did not succeed: scripts read
// "baldur dlq replay ID && ..." as "it went through".
func judgeReplay(body map[string]any) string {
	e := at(body, "entry")
	if st := str(e, "state"); st != "resolved" {
		return fmt.Sprintf("the replay of %s did not resolve it: the entry is %s", str(e, "id"), st)
	}
	return ""
}

// judgeBatch fails a batch in which some replay did not resolve, or a
// domain was skipped because another runner held it.
func judgeBatch(body map[string]any) string {
	r := at(body, "report")
	outs, _ := at(r, "outcomes").(map[string]any)
	var bad []string
	for _, k := range sortedKeys(outs) {
		if k != "resolved" {
			bad = append(bad, str(outs, k)+" "+k)
		}
	}
	if busy := list(r, "busy"); len(busy) > 0 {
		bad = append(bad, "busy elsewhere: "+joinList(busy))
	}
	if len(bad) > 0 {
		return "not every replay resolved: " + strings.Join(bad, ", ")
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func printDLQList(w io.Writer, body map[string]any) {
	es := list(body, "entries")
	f := at(body, "filter")
	desc := str(f, "state")
	for _, k := range []string{"domain", "operation", "failure_type"} {
		if v := str(f, k); v != "" {
			desc += ", " + k + "=" + v
		}
	}
	if len(es) == 0 {
		fmt.Fprintf(w, "no dead letter (%s)\n", desc)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDOMAIN\tOPERATION\tSTATE\tFAILURE\tREPLAYS\tLAST FAILURE\tERROR")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", str(e, "id"), str(e, "domain"), str(e, "operation"), str(e, "state"),
			str(e, "failure_type"), str(e, "replay_count"), when(str(e, "last_failure")), shorten(str(e, "error"), 60))
	}
	tw.Flush()
	if next := str(body, "next"); next != "" {
		fmt.Fprintf(w, "more entries match: add --cursor %s\n", next)
	}
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func printDLQEntry(w io.Writer, body map[string]any) {
	e := at(body, "entry")
	args, _ := json.Marshal(at(e, "args"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"id", str(e, "id")},
		{"method", str(e, "domain") + "." + str(e, "operation")},
		{"state", str(e, "state")},
		{"reason", str(e, "reason")},
		{"error", str(e, "error")},
		{"failure type", str(e, "failure_type")},
		{"attempts", str(e, "attempts")},
		{"replays", str(e, "replay_count")},
		{"first failure", when(str(e, "first_failure"))},
		{"last failure", when(str(e, "last_failure"))},
		{"updated", when(str(e, "updated_at"))},
	}
	if le := str(e, "last_error"); le != "" {
		rows = append(rows, [2]string{"last replay error", le})
	}
	if o := str(e, "owner"); o != "" {
		rows = append(rows, [2]string{"leased by", o + " until " + when(str(e, "lease_until"))})
	}
	rows = append(rows, [2]string{"signature", orDash(str(e, "signature"))}, [2]string{"arguments", string(args)})
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
}

func printDLQStats(w io.Writer, body map[string]any) {
	s := at(body, "stats")
	fmt.Fprintf(w, "%s unresolved, %s evicted at the cap\n", str(s, "total"), str(s, "evicted"))
	groups := list(s, "groups")
	if len(groups) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tFAILURE TYPE\tPENDING\tREPLAYING\tNEEDS REVIEW\tRESOLVED\tCOMPRESSED")
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", str(g, "domain"), orDash(str(g, "failure_type")), str(g, "pending"),
			str(g, "replaying"), str(g, "needs_review"), str(g, "resolved"), str(g, "compressed"))
	}
	tw.Flush()
}

// printDLQAction prints a replay or a redrive: where the entry stands now.
func printDLQAction(w io.Writer, body map[string]any) {
	e := at(body, "entry")
	verb := map[string]string{"replay": "replayed", "redrive": "redriven"}[str(body, "action")]
	fmt.Fprintf(w, "%s: %s by %s; now %s (%s)\n", str(e, "id"), verb, str(body, "by"), str(e, "state"), str(e, "reason"))
	if le := str(e, "last_error"); le != "" && str(e, "state") != "resolved" {
		fmt.Fprintf(w, "  last error: %s\n", le)
	}
}

func printDLQPurge(w io.Writer, body map[string]any) {
	line := fmt.Sprintf("%s: purged by %s", str(body, "id"), str(body, "by"))
	if e := at(body, "entry"); e != nil {
		line += fmt.Sprintf(" (was %s, %s.%s)", str(e, "state"), str(e, "domain"), str(e, "operation"))
	}
	fmt.Fprintln(w, line)
}

func printDLQBatch(w io.Writer, body map[string]any) {
	r := at(body, "report")
	outs, _ := at(r, "outcomes").(map[string]any)
	var parts []string
	for _, k := range sortedKeys(outs) {
		parts = append(parts, str(outs, k)+" "+k)
	}
	line := fmt.Sprintf("replayed %s entries by %s", str(r, "replayed"), str(body, "by"))
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	fmt.Fprintln(w, line)
	if busy := list(r, "busy"); len(busy) > 0 {
		fmt.Fprintf(w, "skipped, another runner holds them: %s\n", joinList(busy))
	}
	if s := str(r, "stopped"); s != "" {
		fmt.Fprintf(w, "stopped early: %s\n", s)
	}
	if n := str(body, "note"); n != "" {
		fmt.Fprintln(w, n)
	}
}

func printDLQPurgeBatch(w io.Writer, body map[string]any) {
	fmt.Fprintf(w, "purged %s entries by %s\n", str(body, "purged"), str(body, "by"))
	for _, id := range list(body, "ids") {
		fmt.Fprintf(w, "  %s\n", str(id))
	}
	if str(body, "more") == "yes" {
		fmt.Fprintln(w, "more entries match: run it again")
	}
}
