package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/control"
)

// RequestIDHeader carries the request id an audit record keeps.
const RequestIDHeader = adminapi.RequestIDHeader

// Every endpoint that is an action (any method but GET, on any route of
// the table) is audited here, once per request, whatever happens to it: a
// gate refusing it, the endpoint failing, or the action done. Routes added
// to the table later are audited without a line of their own.
func (c *call) isAction() bool { return !c.ep.probe && c.ep.method != http.MethodGet }

// reviewed marks an endpoint whose audit records carry review_required:
// a forced release (a breaker forced closed, a dead letter redriven past
// its replay budget). A request with "override":true (a gate bypassed) is
// marked too, whatever its route.
func reviewed(ep endpoint) endpoint {
	ep.review = true
	return ep
}

// accessGates are the gates whose refusal is a refused attempt; the others
// (input, not_found, state, busy, backend, ...) are failed actions.
var accessGates = map[string]bool{GateHost: true, GateOrigin: true, GateKey: true, GateRole: true, GateUnlock: true,
	GateContentType: true, GateBody: true, GateConfirm: true, GateKillSwitch: true, GateGovernance: true}

// beginAudit gives the request its id before anything can refuse it.
func (c *call) beginAudit() {
	id := control.Clean(c.r.Header.Get(RequestIDHeader))
	if len(id) > 64 {
		id = id[:64]
	}
	if id == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.reqID = id
	c.w.Header().Set(RequestIDHeader, id)
}

// endAudit writes the request's record, unless the endpoint wrote its own.
func (c *call) endAudit() {
	tr := c.h.rt.Audit()
	if tr == nil || c.auditDone {
		return
	}
	r := audit.Record{Actor: c.auditActor(), Action: actionName(c.route.pattern), Target: c.auditTarget(),
		Reason: control.Clean(c.body.Reason), RequestID: c.reqID,
		ReviewRequired: c.ep.review || (c.body.Override && c.gate == "")}
	switch {
	case c.gate != "" && accessGates[c.gate]:
		r.Outcome, r.Detail = audit.OutcomeRefused, c.gate+": "+c.refusal
	case c.gate != "" || c.status >= http.StatusBadRequest:
		r.Outcome, r.Detail = audit.OutcomeFailed, c.gate+": "+c.refusal
	default:
		r.Outcome = audit.OutcomeOK
	}
	// The answer is already written: the record costs the client nothing
	// but the store's append, bounded here.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.r.Context()), 5*time.Second)
	defer cancel()
	if err := tr.Record(ctx, r); err != nil {
		c.h.log.Error("admin.audit_failed", "action", r.Action, "error", err.Error())
	}
}

// auditActor is who made the request: the key's name and role (never the
// key), and the operator's name as the client declared it.
func (c *call) auditActor() audit.Actor {
	// The name as declared (the role is a field of its own), whether or
	// not the gates let the request through.
	who := c.r.Header.Get(OperatorHeader)
	if c.body.Who != "" {
		who = c.body.Who
	}
	if who = control.Clean(who); len(who) > 64 {
		who = who[:64]
	}
	a := audit.Actor{Operator: who, Key: c.h.gates.keyName(c.r.Header.Get(KeyHeader))}
	if c.role != RoleNone {
		a.Role = c.role.String()
	}
	return a
}

// auditTarget is what the action was aimed at: the {name} or {id} of the
// route, a batch's filter, else the route's area ("control").
func (c *call) auditTarget() string {
	if c.name != "" {
		return c.name
	}
	var parts []string
	for _, f := range [...]struct{ k, v string }{{"domain", c.filter.Domain}, {"operation", c.filter.Operation},
		{"failure_type", c.filter.FailureType}, {"state", c.filter.State}} {
		if f.v != "" {
			parts = append(parts, f.k+"="+f.v)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	area, _, _ := strings.Cut(c.route.pattern, "/")
	return area
}

// actionName names a route's action: its literal segments joined by dots,
// dashes as underscores ("breakers/{name}/force-open" is
// "breakers.force_open", "control/dry-run/on" "control.dry_run.on").
func actionName(pattern string) string {
	var segs []string
	for _, s := range strings.Split(pattern, "/") {
		if s != "" && !strings.HasPrefix(s, "{") {
			segs = append(segs, strings.ReplaceAll(s, "-", "_"))
		}
	}
	return strings.Join(segs, ".")
}

// keyName names the presented key without showing any of it: its role and
// its place among the configured keys ("operator#2"), found by comparing
// hashes in constant time as roleOf does. "" when no key matches.
func (g *gates) keyName(presented string) string {
	if presented == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(presented))
	name := ""
	for i, k := range g.keys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			name = k.role.String() + "#" + strconv.Itoa(i+1)
		}
	}
	return name
}

func auditRecordJSON(r audit.Record) adminapi.AuditRecord {
	return adminapi.AuditRecord{Chain: r.Chain, Seq: r.Seq, Time: r.Time, Key: r.Key, Role: r.Role, Operator: r.Operator,
		Process: r.Process, Node: r.Node, Action: r.Action, Target: r.Target, Reason: r.Reason, Outcome: r.Outcome,
		Detail: r.Detail, RequestID: r.RequestID, ReviewRequired: r.ReviewRequired, Acknowledges: r.Acknowledges,
		Prev: r.Prev.String(), Hash: r.Hash.String()}
}

// needTrail answers 503 when the trail is off.
func (c *call) needTrail() (*audit.Trail, bool) {
	tr := c.h.rt.Audit()
	if tr == nil {
		c.refuse(http.StatusServiceUnavailable, GateUnavailable, "the audit trail is off on this server",
			"start it without BALDUR_AUDIT_ENABLED=false")
		return nil, false
	}
	return tr, true
}

// auditFailed answers a failure of the trail's backend (the store or PostgreSQL).
func (c *call) auditFailed(err error) {
	c.refuse(http.StatusServiceUnavailable, GateBackend, err.Error(),
		"the records are safe in the store; try again when PostgreSQL (BALDUR_SQL_DSN) or the store answers")
}

func (c *call) auditList() {
	tr, ok := c.needTrail()
	if !ok {
		return
	}
	query := c.r.URL.Query()
	for k, v := range query {
		if !slices.Contains(adminapi.AuditListParams, k) {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("unknown parameter %q", k),
				"audit/ takes "+strings.Join(adminapi.AuditListParams, ", "))
			return
		}
		if len(v) > 1 {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("parameter %q given %d times", k, len(v)), "give it once")
			return
		}
	}
	q := audit.Query{Actor: query.Get("actor"), Action: query.Get("action"), Target: query.Get("target"), Outcome: query.Get("outcome")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := query.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				c.badInput(p.name, v, "want a time such as 2026-12-03T10:00:00Z (RFC 3339)", "leave it out for no bound")
				return
			}
			*p.dst = t
		}
	}
	if v := query.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			c.badInput("before", v, "want a record number ≥ 1", "use the next of the previous page")
			return
		}
		q.Before = n
	}
	limit, ok := c.limitParam("limit", query.Get("limit"), audit.DefaultLimit)
	if !ok {
		return
	}
	q.Limit = limit
	switch v := query.Get("review"); v {
	case "":
	case "pending":
		q.PendingReview = true
	default:
		c.badInput("review", v, "want pending", "review=pending lists the records that need an acknowledgement")
		return
	}
	page, err := tr.List(c.r.Context(), q)
	if err != nil {
		c.auditFailed(err)
		return
	}
	s := tr.Stats()
	out := adminapi.AuditList{Chain: page.Chain, Records: make([]adminapi.AuditRecord, 0, len(page.Records)), Next: page.Next,
		Backlog: s.Backlog, ChainBroken: s.ChainBroken, DrainError: s.DrainError}
	for _, r := range page.Records {
		out.Records = append(out.Records, auditRecordJSON(r))
	}
	c.ok(out)
}

// auditRecordRoute is the trail and the record number of an audit/{id}
// route; it answers the refusal itself when either is missing.
func (c *call) auditRecordRoute() (*audit.Trail, uint64, bool) {
	tr, ok := c.needTrail()
	if !ok {
		return nil, 0, false
	}
	n, err := strconv.ParseUint(c.name, 10, 64)
	if err != nil || n == 0 {
		c.badInput("id", c.name, "want a record number ≥ 1", "audit/ lists the records with their numbers (seq)")
		return nil, 0, false
	}
	return tr, n, true
}

func (c *call) auditGet() {
	tr, seq, ok := c.auditRecordRoute()
	if !ok {
		return
	}
	r, err := tr.Get(c.r.Context(), seq)
	if errors.Is(err, audit.ErrNoRecord) {
		c.refuse(http.StatusNotFound, GateNotFound, fmt.Sprintf("no audit record %d", seq), "audit/ lists the records")
		return
	}
	if err != nil {
		c.auditFailed(err)
		return
	}
	c.ok(adminapi.AuditRecordAnswer{Record: auditRecordJSON(r)})
}

func (c *call) auditVerify() {
	tr, ok := c.needTrail()
	if !ok {
		return
	}
	res, err := tr.Verify(c.r.Context())
	if err != nil {
		c.auditFailed(err)
		return
	}
	out := adminapi.AuditVerification{Chain: res.Chain, OK: res.OK(), Checked: res.Checked, First: res.First, Last: res.Last}
	if res.Checked > 0 {
		out.Head = res.Head.String()
	}
	if res.Broken != nil {
		out.Broken = &adminapi.AuditBreak{Seq: res.Broken.Seq, Reason: res.Broken.Reason}
	}
	c.ok(out)
}

// auditAcknowledge records an admin's acknowledgement of a record that
// requires a review; that record is the request's audit record.
func (c *call) auditAcknowledge() {
	tr, seq, ok := c.auditRecordRoute()
	if !ok {
		return
	}
	note := control.Clean(c.body.Reason)
	if strings.TrimSpace(note) == "" {
		c.refuse(http.StatusBadRequest, GateInput, "an acknowledgement needs a note", `send {"reason":"what you checked"} (CLI: --reason)`)
		return
	}
	err := tr.Acknowledge(c.r.Context(), seq, c.auditActor(), note, c.reqID)
	switch {
	case errors.Is(err, audit.ErrNoRecord):
		c.refuse(http.StatusNotFound, GateNotFound, fmt.Sprintf("no audit record %d", seq), "audit/?review=pending lists what needs a review")
	case errors.Is(err, audit.ErrNotForReview), errors.Is(err, audit.ErrAlreadyAcknowledged):
		c.refuse(http.StatusConflict, GateState, err.Error(), "audit/?review=pending lists what needs a review")
	case err != nil:
		c.auditFailed(err)
	default:
		c.auditDone = true
		c.ok(adminapi.AuditAcknowledgeAnswer{Acknowledged: seq, By: c.who, Note: note})
	}
}
