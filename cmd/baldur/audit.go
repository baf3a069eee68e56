package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
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
	seqArg := func(what string) (uint64, error) {
		if err := o.nargs(cmd, 1, what); err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(o.args[0], 10, 64)
		if err != nil || n == 0 {
			return 0, usagef("%s: %q is not a record number (seq ≥ 1)", cmd, o.args[0])
		}
		return n, nil
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
		path := route(adminapi.PathAudit, q)
		return func(c *client) int { return c.call("GET", path, nil, typed(printAuditList)) }, nil
	case "show":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		seq, err := seqArg("SEQ")
		if err != nil {
			return nil, err
		}
		path := route(adminapi.AuditPath(adminapi.PathAuditRecord, seq), nil)
		return func(c *client) int { return c.call("GET", path, nil, typed(printAuditRecord)) }, nil
	case "verify":
		if err := o.allow(cmd); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.judged("GET", route(adminapi.PathAuditVerify, nil), nil, typed(printAuditVerify), judgeAuditVerify)
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
		body := o.actionRequest()
		path := route(adminapi.AuditPath(adminapi.PathAuditAcknowledge, seq), nil)
		return func(c *client) int { return c.call("POST", path, body, typed(printAuditAck)) }, nil
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

func who(r adminapi.AuditRecord) string {
	var parts []string
	for _, p := range []string{r.Operator, r.Key} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return orDash(strings.Join(parts, " · "))
}

func printAuditList(w io.Writer, ans adminapi.AuditList) {
	state := fmt.Sprintf("chain %s, backlog %d", orDash(ans.Chain), ans.Backlog)
	if ans.ChainBroken {
		state += "; CHAIN BROKEN: run baldur audit verify"
	}
	if ans.DrainError != "" {
		state += "; not reaching PostgreSQL: " + ans.DrainError
	}
	fmt.Fprintln(w, state)
	if len(ans.Records) == 0 {
		fmt.Fprintln(w, "no audit record matches")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tWHO\tACTION\tTARGET\tOUTCOME\tWHY")
	for _, r := range ans.Records {
		why := r.Reason
		if r.Detail != "" {
			why = strings.TrimSpace(why + " [" + r.Detail + "]")
		}
		outcome := r.Outcome
		if r.ReviewRequired {
			outcome += " (review)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, whenT(r.Time), who(r), r.Action, orDash(r.Target), outcome, orDash(why))
	}
	tw.Flush()
	if ans.Next != 0 {
		fmt.Fprintf(w, "older records match: add --before %d\n", ans.Next)
	}
}

func printAuditRecord(w io.Writer, ans adminapi.AuditRecordAnswer) {
	r := ans.Record
	review := "no"
	if r.ReviewRequired {
		review = "yes"
	}
	acks := ""
	if r.Acknowledges != 0 {
		acks = strconv.FormatUint(r.Acknowledges, 10)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range [][2]string{{"seq", strconv.FormatUint(r.Seq, 10)}, {"time", whenT(r.Time)}, {"action", r.Action},
		{"target", r.Target}, {"outcome", r.Outcome}, {"detail", r.Detail}, {"reason", r.Reason}, {"operator", r.Operator},
		{"key", r.Key}, {"role", r.Role}, {"process", r.Process}, {"node", r.Node}, {"request id", r.RequestID},
		{"review required", review}, {"acknowledges", acks}, {"chain", r.Chain}, {"prev", r.Prev}, {"hash", r.Hash}} {
		fmt.Fprintf(tw, "%s\t%s\n", f[0], orDash(f[1]))
	}
	tw.Flush()
}

func printAuditVerify(w io.Writer, v adminapi.AuditVerification) {
	switch {
	case v.OK && v.Checked == 0:
		fmt.Fprintln(w, "the audit chain is empty: nothing to verify")
	case v.OK:
		fmt.Fprintf(w, "chain %s verified: %d records, %d to %d, unbroken; head %s\n", v.Chain, v.Checked, v.First, v.Last, v.Head)
	case v.Broken != nil:
		fmt.Fprintf(w, "chain %s BROKEN at record %d: %s\n", v.Chain, v.Broken.Seq, v.Broken.Reason)
		fmt.Fprintf(w, "%d records before it verified\n", v.Checked)
	}
}

// judgeAuditVerify fails the command when the chain is broken.
func judgeAuditVerify(body map[string]any) string {
	var v adminapi.AuditVerification
	if err := decodeTree(body, &v); err != nil {
		return "the verification's answer does not have the expected shape: " + err.Error()
	}
	if v.OK {
		return ""
	}
	if v.Broken == nil {
		return "the audit chain is broken"
	}
	return "the audit chain is broken at record " + strconv.FormatUint(v.Broken.Seq, 10)
}

func printAuditAck(w io.Writer, ans adminapi.AuditAcknowledgeAnswer) {
	fmt.Fprintf(w, "record %d acknowledged by %s: %s\n", ans.Acknowledged, ans.By, ans.Note)
}
