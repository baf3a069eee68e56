package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// auditFlags are the filters of baldur audit list, by flag name; each is
// sent as the query parameter of the same name.
var auditFlags = []string{"actor", "action", "target", "outcome", "since", "until", "before"}

func dispatchAudit(o *opts) (func(*client) int, error) {
	if len(o.args) == 0 {
		return nil, usagef("usage: baldur audit list|show|verify|ack [SEQ]")
	}
	sub := o.args[0]
	o.args = o.args[1:]
	cmd := "audit " + sub
	seqArg := func(what string) (string, error) {
		if err := o.nargs(cmd, 1, what); err != nil {
			return "", err
		}
		if n, err := strconv.ParseUint(o.args[0], 10, 64); err != nil || n == 0 {
			return "", usagef("%s: %q is not a record number (seq ≥ 1)", cmd, o.args[0])
		}
		return o.args[0], nil
	}
	switch sub {
	case "list":
		if err := o.allow(cmd, append(auditFlags, "limit", "pending-review")...); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		q := url.Values{}
		for k, v := range o.audit {
			q.Set(k, v)
		}
		if o.set["limit"] {
			q.Set("limit", strconv.Itoa(o.limit))
		}
		if o.set["pending-review"] {
			q.Set("review", "pending")
		}
		path := "audit/"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		return func(c *client) int { return c.call("GET", path, nil, printAuditList) }, nil
	case "show":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		seq, err := seqArg("SEQ")
		if err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("GET", "audit/"+seq+"/", nil, printAuditRecord) }, nil
	case "verify":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.judged("GET", "audit/verify/", nil, printAuditVerify, judgeAuditVerify)
		}, nil
	case "ack", "acknowledge":
		if err := o.allow(cmd, "reason"); err != nil {
			return nil, err
		}
		seq, err := seqArg("SEQ --reason NOTE")
		if err != nil {
			return nil, err
		}
		if o.reason == nil || strings.TrimSpace(*o.reason) == "" {
			return nil, usagef("%s needs --reason NOTE: what you checked, recorded with your name", cmd)
		}
		body := map[string]any{"reason": *o.reason}
		return func(c *client) int {
			return c.call("POST", "audit/"+seq+"/acknowledge/", body, printAuditAck)
		}, nil
	}
	return nil, usagef("unknown audit command %q", sub)
}

// setAuditValue checks and keeps one of auditFlags.
func (o *opts) setAuditValue(name, val string) error {
	switch name {
	case "since", "until":
		if _, err := time.Parse(time.RFC3339, val); err != nil {
			return usagef("flag --%s=%q: want a time such as 2026-12-03T10:00:00Z", name, val)
		}
	case "before":
		if n, err := strconv.ParseUint(val, 10, 64); err != nil || n == 0 {
			return usagef("flag --before=%q: want a record number ≥ 1 (the next of the previous page)", val)
		}
	case "outcome":
		if val != "ok" && val != "refused" && val != "failed" {
			return usagef("flag --outcome=%q: want ok, refused or failed", val)
		}
	default:
		if strings.TrimSpace(val) == "" {
			return usagef("flag --%s needs a value that is not blank", name)
		}
	}
	o.audit[name] = val
	return nil
}

func who(r any) string {
	parts := []string{}
	for _, k := range []string{"operator", "key"} {
		if s := str(r, k); s != "" {
			parts = append(parts, s)
		}
	}
	return orDash(strings.Join(parts, " · "))
}

func printAuditList(w io.Writer, body map[string]any) {
	state := fmt.Sprintf("chain %s, backlog %s", orDash(str(body, "chain")), str(body, "backlog"))
	if str(body, "chain_broken") == "yes" {
		state += "; CHAIN BROKEN: run baldur audit verify"
	}
	if e := str(body, "drain_error"); e != "" {
		state += "; not reaching PostgreSQL: " + e
	}
	fmt.Fprintln(w, state)
	rs := list(body, "records")
	if len(rs) == 0 {
		fmt.Fprintln(w, "no audit record matches")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tWHO\tACTION\tTARGET\tOUTCOME\tWHY")
	for _, r := range rs {
		why := str(r, "reason")
		if d := str(r, "detail"); d != "" {
			why = strings.TrimSpace(why + " [" + d + "]")
		}
		outcome := str(r, "outcome")
		if str(r, "review_required") == "yes" {
			outcome += " (review)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", str(r, "seq"), when(str(r, "time")), who(r), str(r, "action"),
			orDash(str(r, "target")), outcome, orDash(why))
	}
	tw.Flush()
	if next := str(body, "next"); next != "" {
		fmt.Fprintf(w, "older records match: add --before %s\n", next)
	}
}

func printAuditRecord(w io.Writer, body map[string]any) {
	r := at(body, "record")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range [][2]string{{"seq", "seq"}, {"time", "time"}, {"action", "action"}, {"target", "target"},
		{"outcome", "outcome"}, {"detail", "detail"}, {"reason", "reason"}, {"operator", "operator"}, {"key", "key"},
		{"role", "role"}, {"process", "process"}, {"node", "node"}, {"request id", "request_id"},
		{"review required", "review_required"}, {"acknowledges", "acknowledges"}, {"chain", "chain"},
		{"prev", "prev"}, {"hash", "hash"}} {
		v := str(r, f[1])
		if f[1] == "time" {
			v = when(v)
		}
		fmt.Fprintf(tw, "%s\t%s\n", f[0], orDash(v))
	}
	tw.Flush()
}

func printAuditVerify(w io.Writer, body map[string]any) {
	if str(body, "ok") == "yes" {
		if str(body, "checked") == "0" {
			fmt.Fprintln(w, "the audit chain is empty: nothing to verify")
			return
		}
		fmt.Fprintf(w, "chain %s verified: %s records, %s to %s, unbroken; head %s\n", str(body, "chain"),
			str(body, "checked"), str(body, "first"), str(body, "last"), str(body, "head"))
		return
	}
	fmt.Fprintf(w, "chain %s BROKEN at record %s: %s\n", str(body, "chain"), str(body, "broken", "seq"), str(body, "broken", "reason"))
	fmt.Fprintf(w, "%s records before it verified\n", str(body, "checked"))
}

// judgeAuditVerify fails the command when the chain is broken.
func judgeAuditVerify(body map[string]any) string {
	if str(body, "ok") == "yes" {
		return ""
	}
	return "the audit chain is broken at record " + str(body, "broken", "seq")
}

func printAuditAck(w io.Writer, body map[string]any) {
	fmt.Fprintf(w, "record %s acknowledged by %s: %s\n", str(body, "acknowledged"), str(body, "by"), str(body, "note"))
}
