package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/control"
)

// RequestIDHeader carries the request id an audit record keeps: the
// client's, when it sends one, else one the server makes; the answer
// always carries it.
const RequestIDHeader = "X-Request-Id"

// Every endpoint that is an action (any method but GET, on any route of
// the table) is audited here, once per request, whatever happens to it: a
// gate refusing it, the endpoint failing, or the action done. Routes added
// to the table later are audited without a line of their own.
func (c *call) isAction() bool { return !c.ep.probe && c.ep.method != http.MethodGet }

// accessGates are the gates whose refusal is a refused attempt; the others
// (input, not_found, state, busy, backend, ...) are failed actions.
var accessGates = map[string]bool{GateHost: true, GateOrigin: true, GateKey: true, GateRole: true, GateUnlock: true,
	GateContentType: true, GateBody: true, GateConfirm: true, GateKillSwitch: true}

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
	who := c.who
	if who == "" {
		who = control.Clean(c.r.Header.Get(OperatorHeader))
		if len(who) > 64 {
			who = who[:64]
		}
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
