package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/dlq"
)

// The dlq/ routes drive Options.Queue. Who may do what:
//
//	viewer    list, get, stats
//	operator  replay (one or a batch), redrive
//	admin     purge (one or by filter): destructive, so it also needs the
//	          unlock and the typed confirmation, like go-live
//
// Purge is the only way an entry leaves without its call having run, hence
// the admin role; a replay runs the protected method, as the service would
// have, so it is the operator's, refused while the kill switch is DISABLED
// unless overridden.

// maxBatch bounds one batch replay or purge: a bigger one is run again.
const maxBatch = dlq.MaxPageSize

// dlqFilter is what dlq/replay/ and dlq/purge/ accept besides actionBody.
type dlqFilter = adminapi.DLQFilter

var dlqStates = []string{string(dlq.StatePending), string(dlq.StateReplaying), string(dlq.StateNeedsReview), string(dlq.StateResolved)}

// DLQListing is the dlq/ answer (the contract's type).
type DLQListing = adminapi.DLQListing

// DLQFilterView echoes a listing's filter (the contract's type).
type DLQFilterView = adminapi.DLQFilterView

// entryID checks the {id} segment: ids are hex today; anything that could
// not be one of a future format (spaces, slashes, a kilobyte) is refused
// before it becomes a store key.
func (c *call) entryID() (string, bool) {
	id := c.name
	bad := strings.IndexFunc(id, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.')
	})
	if len(id) > 128 || bad >= 0 {
		if len(id) > 40 {
			id = id[:40] + "..."
		}
		c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("id %q is not a dead-letter entry id", id),
			"use an id as GET dlq/ lists it (28 hex digits)")
		return "", false
	}
	return id, true
}

// dlqRefuse maps a queue error to its answer. id is the entry acted on, if any.
func (c *call) dlqRefuse(err error, id string) {
	switch {
	case errors.Is(err, dlq.ErrNotFound):
		c.refuse(http.StatusNotFound, GateNotFound, fmt.Sprintf("no dead-letter entry with id %q", id),
			"it was never parked, or it was purged, evicted, or resolved longer ago than the retention; GET dlq/ lists the entries")
	case errors.Is(err, dlq.ErrState):
		c.refuse(http.StatusConflict, GateState, err.Error(),
			"GET dlq/"+id+"/ shows its state: replay takes pending entries, redrive takes needs_review entries, purge takes any")
	case errors.Is(err, dlq.ErrBusy):
		c.refuse(http.StatusConflict, GateBusy, err.Error(),
			"another runner is replaying it, or holds the domain's replay lease; try again once it is done")
	case errors.Is(err, dlq.ErrFull):
		c.refuse(http.StatusServiceUnavailable, GateFull, err.Error(),
			"the queue is at its cap and its overflow strategy is reject: replay, redrive or purge entries, or raise BALDUR_DLQ_MAX_SIZE")
	case errors.Is(err, dlq.ErrInvalid):
		c.refuse(http.StatusBadRequest, GateInput, err.Error(), "GET "+Prefix+" says what each dlq/ endpoint takes")
	case errors.Is(err, dlq.ErrClosed):
		c.refuse(http.StatusServiceUnavailable, GateUnavailable, err.Error(), "the service is shutting down; ask its replacement")
	default:
		c.refuse(http.StatusServiceUnavailable, GateBackend, "the dead-letter store failed: "+err.Error(),
			"see health/?nocache=true and the server log; GET dlq/{id}/ shows where an entry stands")
	}
}

// badInput refuses a parameter or body field, naming it.
func (c *call) badInput(name, value, want, hint string) {
	c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("%s=%q: %s", name, value, want), hint)
}

func (c *call) stateParam(name, v string) (dlq.State, bool) {
	if v == "" || slices.Contains(dlqStates, v) {
		return dlq.State(v), true
	}
	c.badInput(name, v, "want "+strings.Join(dlqStates, ", "), "leave it out for every unresolved entry (pending, replaying, needs_review)")
	return "", false
}

func (c *call) limitParam(name, v string, def int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxBatch {
		c.badInput(name, v, fmt.Sprintf("want a number from 1 to %d", maxBatch), fmt.Sprintf("leave it out for %d", def))
		return 0, false
	}
	return n, true
}

var dlqListParams = []string{"domain", "operation", "failure_type", "state", "limit", "cursor"}

func (c *call) dlqList() {
	q := c.h.queue
	// An unknown parameter is refused: ?domian=x listing every domain would
	// look like an answer.
	query := c.r.URL.Query()
	for k, v := range query {
		if !slices.Contains(dlqListParams, k) {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("unknown parameter %q", k),
				"dlq/ takes "+strings.Join(dlqListParams, ", "))
			return
		}
		if len(v) > 1 {
			c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("parameter %q given %d times", k, len(v)), "give it once")
			return
		}
	}
	state, ok := c.stateParam("state", query.Get("state"))
	if !ok {
		return
	}
	limit, ok := c.limitParam("limit", query.Get("limit"), dlq.DefaultPageSize)
	if !ok {
		return
	}
	f := dlq.Filter{Domain: query.Get("domain"), Operation: query.Get("operation"), FailureType: query.Get("failure_type"), State: state}
	l, err := q.List(c.r.Context(), f, dlq.Page{Cursor: query.Get("cursor"), Limit: limit})
	if errors.Is(err, dlq.ErrInvalid) {
		c.badInput("cursor", query.Get("cursor"), "not a cursor this server handed out", "use the next of the previous page, or leave cursor out to start over")
		return
	}
	if err != nil {
		c.dlqRefuse(err, "")
		return
	}
	view := DLQFilterView{Domain: f.Domain, Operation: f.Operation, FailureType: f.FailureType, State: string(f.State)}
	if view.State == "" {
		view.State = "unresolved"
	}
	c.ok(DLQListing{Entries: entryViews(l.Entries), Next: l.Next, Limit: limit, Filter: view})
}

func (c *call) dlqGet() {
	q := c.h.queue
	id, ok := c.entryID()
	if !ok {
		return
	}
	e, err := q.Get(c.r.Context(), id)
	if err != nil {
		c.dlqRefuse(err, id)
		return
	}
	c.ok(adminapi.DLQEntryAnswer{Entry: entryView(e)})
}

func (c *call) dlqStats() {
	q := c.h.queue
	s, err := q.Stats(c.r.Context())
	if err != nil {
		c.dlqRefuse(err, "")
		return
	}
	aggs, err := q.Aggregates(c.r.Context())
	if err != nil {
		c.dlqRefuse(err, "")
		return
	}
	c.ok(statsView(s, aggs))
}

// dlqAct runs the checks every per-entry action shares and returns the
// queue, the id and the reason (which goes to the log: the queue records
// its own).
func (c *call) dlqAct() (*dlq.Queue, string, string, bool) {
	q := c.h.queue
	id, ok := c.entryID()
	if !ok {
		return nil, "", "", false
	}
	reason, ok := c.reason(false)
	if !ok {
		return nil, "", "", false
	}
	return q, id, reason, true
}

func (c *call) logDLQ(level slog.Level, action, reason string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("action", action), slog.String("who", c.who), slog.String("reason", reason))
	c.h.log.LogAttrs(c.r.Context(), level, "admin.dlq_actioned", attrs...)
}

func (c *call) dlqReplay() {
	q, id, reason, ok := c.dlqAct()
	if !ok || !c.passKillSwitch("replay dead letter "+id) {
		return
	}
	e, err := q.Replay(c.r.Context(), id)
	if err != nil {
		c.dlqRefuse(err, id)
		return
	}
	c.logDLQ(slog.LevelInfo, "replay", reason, slog.String("id", id), slog.String("domain", e.Domain),
		slog.String("operation", e.Operation), slog.String("state", string(e.State)))
	c.ok(adminapi.DLQActionAnswer{Action: "replay", By: c.who, Entry: entryView(e)})
}

func (c *call) dlqRedrive() {
	q, id, reason, ok := c.dlqAct()
	if !ok {
		return
	}
	e, err := q.Redrive(c.r.Context(), id)
	if err != nil {
		c.dlqRefuse(err, id)
		return
	}
	c.logDLQ(slog.LevelInfo, "redrive", reason, slog.String("id", id), slog.String("domain", e.Domain), slog.String("operation", e.Operation))
	c.ok(adminapi.DLQActionAnswer{Action: "redrive", By: c.who, Entry: entryView(e)})
}

func (c *call) dlqPurge() {
	q, id, reason, ok := c.dlqAct()
	if !ok {
		return
	}
	// Read first only to say what went; an unreadable record is purged all the same.
	e, getErr := q.Get(c.r.Context(), id)
	if err := q.Purge(c.r.Context(), id); err != nil {
		c.dlqRefuse(err, id)
		return
	}
	out := adminapi.DLQPurgeAnswer{Action: "purge", By: c.who, ID: id}
	attrs := []slog.Attr{slog.String("id", id)}
	if getErr == nil {
		v := entryView(e)
		out.Entry = &v
		attrs = append(attrs, slog.String("domain", e.Domain), slog.String("operation", e.Operation), slog.String("state", string(e.State)))
	}
	c.logDLQ(slog.LevelWarn, "purge", reason, attrs...)
	c.ok(out)
}

// batchLimit checks the body's limit (0: the default).
func (c *call) batchLimit() (int, bool) {
	if c.filter.Limit == 0 {
		return dlq.DefaultPageSize, true
	}
	return c.limitParam("limit", strconv.Itoa(c.filter.Limit), dlq.DefaultPageSize)
}

func (c *call) dlqReplayBatch() {
	q := c.h.queue
	f := c.filter
	switch {
	case f.State != "":
		c.badInput("state", f.State, "a batch replay takes only pending entries", `leave state out; redrive needs_review entries first`)
		return
	case f.Domain == "" && f.FailureType == "":
		c.refuse(http.StatusBadRequest, GateInput, "a batch replay needs a domain or a failure_type",
			`send {"domain":"payments"} and/or {"failure_type":"..."} (CLI: --domain D, --failure-type T); GET dlq/stats/ lists both`)
		return
	}
	limit, ok := c.batchLimit()
	if !ok {
		return
	}
	reason, ok := c.reason(false)
	if !ok || !c.passKillSwitch("replay dead letters of "+cmp.Or(f.Domain, "every domain")) {
		return
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), c.h.batchTTL)
	defer cancel()
	rep, err := q.ReplayBatch(ctx, dlq.BatchFilter{Domain: f.Domain, Operation: f.Operation, FailureType: f.FailureType, Limit: limit})
	out := adminapi.DLQBatchAnswer{Action: "replay_batch", By: c.who, Limit: limit, Report: batchView(rep)}
	switch {
	case errors.Is(err, context.DeadlineExceeded) && c.r.Context().Err() == nil:
		// Our own bound, not a failure: the rest stays pending for the next run.
		out.Note = fmt.Sprintf("stopped at the batch time limit of %s; the entries not reached stay pending: run it again", c.h.batchTTL)
	case err != nil:
		c.dlqRefuse(err, "")
		return
	}
	c.logDLQ(slog.LevelInfo, "replay_batch", reason, slog.String("domain", f.Domain), slog.String("failure_type", f.FailureType),
		slog.Int("replayed", rep.Replayed), slog.Int("resolved", rep.Outcomes[dlq.OutcomeResolved]))
	c.ok(out)
}

func (c *call) dlqPurgeBatch() {
	q := c.h.queue
	f := c.filter
	state, ok := c.stateParam("state", f.State)
	if !ok {
		return
	}
	if f.Domain == "" && f.Operation == "" && f.FailureType == "" && f.State == "" {
		c.refuse(http.StatusBadRequest, GateInput, "a purge by filter needs at least one of domain, operation, failure_type, state",
			`send e.g. {"domain":"payments","state":"needs_review","confirm":"CONFIRM"}; to purge one entry, POST dlq/{id}/purge/`)
		return
	}
	limit, ok := c.batchLimit()
	if !ok {
		return
	}
	reason, ok := c.reason(false)
	if !ok {
		return
	}
	ctx := c.r.Context()
	l, err := q.List(ctx, dlq.Filter{Domain: f.Domain, Operation: f.Operation, FailureType: f.FailureType, State: state}, dlq.Page{Limit: limit})
	if err != nil {
		c.dlqRefuse(err, "")
		return
	}
	purged, gone := make([]string, 0, len(l.Entries)), 0
	for _, e := range l.Entries {
		err := q.Purge(ctx, e.ID)
		switch {
		case errors.Is(err, dlq.ErrNotFound):
			gone++ // resolved and expired, or purged by someone else meanwhile
		case err != nil:
			c.logDLQ(slog.LevelWarn, "purge_batch", reason, slog.Int("purged", len(purged)), slog.String("error", err.Error()))
			c.refuse(http.StatusServiceUnavailable, GateBackend,
				fmt.Sprintf("purged %d entries, then the dead-letter store failed: %v", len(purged), err),
				"see the server log; send the same request again to purge the rest")
			return
		default:
			purged = append(purged, e.ID)
		}
	}
	c.logDLQ(slog.LevelWarn, "purge_batch", reason, slog.String("domain", f.Domain), slog.String("operation", f.Operation),
		slog.String("failure_type", f.FailureType), slog.String("state", f.State), slog.Int("purged", len(purged)))
	c.ok(adminapi.DLQPurgeBatchAnswer{Action: "purge_batch", By: c.who, Purged: len(purged), IDs: purged,
		AlreadyGone: gone, More: l.Next != ""})
}
