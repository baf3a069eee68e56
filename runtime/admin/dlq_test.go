package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

type dlqFixture struct {
	*fixture
	st *store.Memory
	q  *dlq.Queue
}

// newDLQFixture is newFixture with a dead-letter queue on a memory store,
// replaying without a rate cap and with a replay budget of two.
func newDLQFixture(t *testing.T, fo fixtureOpts) *dlqFixture {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	q, err := dlq.New(st, dlq.Options{Logger: quiet, ReplayRate: -1, ReplayBudget: 2})
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })
	user := fo.opts
	fo.opts = func(o *admin.Options) {
		o.Queue = q
		if user != nil {
			user(o)
		}
	}
	return &dlqFixture{fixture: newFixture(t, fo), st: st, q: q}
}

type chargeArgs struct {
	Order string `json:"order"`
	Cents int64  `json:"cents"`
}

// park parks a failed call of domain.op whose error has failure type ftype.
func (f *dlqFixture) park(t *testing.T, domain, op, ftype, order string) string {
	t.Helper()
	args, err := json.Marshal(chargeArgs{Order: order, Cents: 1999})
	require.NoError(t, err)
	id, err := f.q.Park(context.Background(), dlq.Capture{Domain: domain, Method: op, Signature: "sig1", Args: args,
		Err: errors.New("processor unavailable"), FailureType: ftype, Attempts: 3})
	require.NoError(t, err)
	return id
}

// replayer registers domain.op; each replay sends its order to got and
// returns fail.
func (f *dlqFixture) replayer(domain, op string, fail error) chan string {
	got := make(chan string, 100)
	f.q.Register(domain, op, "sig1", func(_ context.Context, raw []byte) error {
		var a chargeArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return dlq.Undecodable(err)
		}
		got <- a.Order
		return fail
	})
	return got
}

func (f *dlqFixture) entry(t *testing.T, id string) dlq.Entry {
	t.Helper()
	e, err := f.q.Get(context.Background(), id)
	require.NoError(t, err)
	return e
}

func ids(r resp) []string {
	var out []string
	for _, e := range get(r.json, "entries").([]any) {
		out = append(out, get(e, "id").(string))
	}
	return out
}

// admin.New takes the dead-letter queue and the control from the runtime
// when Options leave them nil: every runtime has both, so there is no
// "not configured" answer left to give.
func TestNewTakesTheQueueAndTheControlFromTheRuntime(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true}) // Options.Queue and Options.Control nil
	id, err := f.rt.DLQ().Park(context.Background(), dlq.Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
		Args: json.RawMessage(`{}`), Err: errors.New("processor unavailable"), Attempts: 1})
	require.NoError(t, err)
	r := f.do(t, req{path: "/api/baldur/dlq/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, []string{id}, ids(r), "the runtime's own queue")

	_, err = f.rt.Control().Disable(context.Background(), "alice", "incident 7")
	require.NoError(t, err)
	r = f.do(t, req{path: "/api/baldur/control/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "DISABLED", get(r.json, "control", "kill_switch"), "the runtime's own control")
	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/replay/", key: operatorKey})
	assert.Equal(t, http.StatusConflict, r.code, "manual actions are guarded by the runtime's kill switch: %s", r.raw)

	r = f.summary(t, true)
	assert.Empty(t, r.json["partial"], "the dashboard reads the runtime's queue")
	assert.Equal(t, float64(1), get(r.json, "dlq", "pending"))
}

func TestDLQIndexListsTheRoutesAndTheirRoles(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/api/baldur/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code)
	want := map[string]string{
		"GET /api/baldur/dlq/":                   "viewer",
		"GET /api/baldur/dlq/stats/":             "viewer",
		"GET /api/baldur/dlq/{id}/":              "viewer",
		"POST /api/baldur/dlq/{id}/replay/":      "operator",
		"POST /api/baldur/dlq/replay/":           "operator",
		"POST /api/baldur/dlq/{id}/redrive/":     "operator",
		"POST /api/baldur/dlq/{id}/purge/":       "admin destructive",
		"POST /api/baldur/dlq/purge/":            "admin destructive",
		"POST /api/baldur/control/go-live/":      "admin destructive",
		"POST /api/baldur/breakers/{name}/auto/": "operator destructive",
	}
	got := map[string]string{}
	for _, ep := range get(r.json, "endpoints").([]any) {
		role := get(ep, "role").(string)
		if d, _ := get(ep, "destructive").(bool); d {
			role += " destructive"
		}
		got[get(ep, "method").(string)+" "+get(ep, "path").(string)] = role
	}
	for k, v := range want {
		assert.Equal(t, v, got[k], k)
	}
}

func TestDLQListFiltersAndPages(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	a := f.park(t, "payments", "Charge", "timeout", "o-1")
	b := f.park(t, "payments", "Refund", "declined", "o-2")
	c := f.park(t, "payments", "Charge", "timeout", "o-3")
	d := f.park(t, "ledger", "Post", "timeout", "o-4")

	list := func(query string) resp {
		t.Helper()
		r := f.do(t, req{path: "/api/baldur/dlq/" + query, key: viewerKey})
		require.Equal(t, http.StatusOK, r.code, r.raw)
		return r
	}
	r := list("")
	assert.Equal(t, []string{d, a, b, c}, ids(r), "by domain name, then in capture order")
	assert.Equal(t, "unresolved", get(r.json, "filter", "state"))
	assert.Equal(t, float64(100), r.json["limit"])
	assert.Nil(t, r.json["next"])

	assert.Equal(t, []string{a, b, c}, ids(list("?domain=payments")))
	assert.Equal(t, []string{a, c}, ids(list("?domain=payments&operation=Charge")))
	assert.Equal(t, []string{d, a, c}, ids(list("?failure_type=timeout")))
	assert.Equal(t, []string{d, a, b, c}, ids(list("?state=pending")))
	assert.Empty(t, ids(list("?state=needs_review")))
	assert.Empty(t, ids(list("?domain=nope")))

	// Paging: the cursor of one page starts the next, across domains.
	var seen []string
	cursor := ""
	for range 5 {
		r := list("?limit=3&cursor=" + url.QueryEscape(cursor))
		seen = append(seen, ids(r)...)
		next, _ := r.json["next"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, []string{d, a, b, c}, seen)

	// The entry as listed carries what an operator needs to decide.
	e := get(r.json, "entries").([]any)[1]
	assert.Equal(t, "payments", get(e, "domain"))
	assert.Equal(t, "Charge", get(e, "operation"))
	assert.Equal(t, "processor unavailable", get(e, "error"))
	assert.Equal(t, "timeout", get(e, "failure_type"))
	assert.Equal(t, float64(3), get(e, "attempts"))
	assert.Equal(t, "pending", get(e, "state"))
	assert.Equal(t, "o-1", get(e, "args", "order"))
}

func TestDLQListRefusesBadFilters(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	f.park(t, "payments", "Charge", "timeout", "o-1")
	for query, names := range map[string]string{
		"?state=stuck":       `state="stuck": want pending, replaying, needs_review, resolved`,
		"?limit=0":           `limit="0": want a number from 1 to 1000`,
		"?limit=1001":        `limit="1001"`,
		"?limit=ten":         `limit="ten"`,
		"?cursor=%21%21":     `cursor="!!": not a cursor this server handed out`,
		"?cursor=bm9wZQ":     `cursor="bm9wZQ"`,
		"?domian=payments":   `unknown parameter "domian"`,
		"?domain=a&domain=b": `parameter "domain" given 2 times`,
	} {
		r := f.do(t, req{path: "/api/baldur/dlq/" + query, key: viewerKey})
		assert.Equal(t, http.StatusBadRequest, r.code, query)
		assert.Equal(t, admin.GateInput, r.json["gate"], query)
		assert.Contains(t, r.json["error"], names, query)
		assert.NotEmpty(t, r.json["hint"], query)
	}
}

func TestDLQReadsNeedAKeyWhenKeysAreConfigured(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	for _, p := range []string{"/api/baldur/dlq/", "/api/baldur/dlq/" + id + "/", "/api/baldur/dlq/stats/"} {
		r := f.do(t, req{path: p})
		assert.Equal(t, http.StatusUnauthorized, r.code, p)
		assert.Equal(t, admin.GateKey, r.json["gate"], p)
		assert.Equal(t, http.StatusOK, f.do(t, req{path: p, key: viewerKey}).code, p)
	}
	// Without keys, reads are open on the allowed hosts, as for breakers.
	open := newDLQFixture(t, fixtureOpts{noKeys: true})
	open.park(t, "payments", "Charge", "timeout", "o-1")
	assert.Equal(t, http.StatusOK, open.do(t, req{path: "/api/baldur/dlq/"}).code)
	assert.Equal(t, http.StatusForbidden, open.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/replay/", body: `{"domain":"payments"}`}).code)
}

func TestDLQGet(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	r := f.do(t, req{path: "/api/baldur/dlq/" + id, key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, id, get(r.json, "entry", "id"))
	assert.Equal(t, "sig1", get(r.json, "entry", "signature"))
	assert.Equal(t, float64(1999), get(r.json, "entry", "args", "cents"))
	assert.Equal(t, "parked after 3 failed attempt(s)", get(r.json, "entry", "reason"))

	r = f.do(t, req{path: "/api/baldur/dlq/0000deadbeef0000000000000000/", key: viewerKey})
	assert.Equal(t, http.StatusNotFound, r.code)
	assert.Equal(t, admin.GateNotFound, r.json["gate"])
	assert.Equal(t, `no dead-letter entry with id "0000deadbeef0000000000000000"`, r.json["error"])
	assert.Contains(t, r.json["hint"], "GET dlq/ lists the entries")

	for _, bad := range []string{"a%20b", "x%3Cscript%3E", strings.Repeat("a", 129)} {
		r = f.do(t, req{path: "/api/baldur/dlq/" + bad + "/", key: viewerKey})
		assert.Equal(t, http.StatusBadRequest, r.code, bad)
		assert.Equal(t, admin.GateInput, r.json["gate"], bad)
		assert.Contains(t, r.json["error"], "is not a dead-letter entry id", bad)
	}
	// The literal routes win over {id}, and too many segments is no route.
	assert.Equal(t, http.StatusMethodNotAllowed, f.do(t, req{path: "/api/baldur/dlq/replay/", key: viewerKey}).code)
	assert.Equal(t, http.StatusNotFound, f.do(t, req{path: "/api/baldur/dlq/" + id + "/replay/now/", key: viewerKey}).code)
}

func TestDLQStats(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	r := f.do(t, req{path: "/api/baldur/dlq/stats/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, float64(0), get(r.json, "stats", "total"))
	assert.Equal(t, []any{}, get(r.json, "stats", "domains"))
	assert.Equal(t, []any{}, r.json["aggregates"])

	f.park(t, "payments", "Charge", "timeout", "o-1")
	f.park(t, "payments", "Charge", "declined", "o-2")
	f.park(t, "ledger", "Post", "timeout", "o-3")
	r = f.do(t, req{path: "/api/baldur/dlq/stats/", key: viewerKey})
	assert.Equal(t, float64(3), get(r.json, "stats", "total"))
	domains := get(r.json, "stats", "domains").([]any)
	require.Len(t, domains, 2)
	assert.Equal(t, "ledger", get(domains[0], "domain"))
	assert.Equal(t, float64(2), get(domains[1], "pending"))
	assert.Len(t, get(r.json, "stats", "groups"), 3)
}

func TestDLQReplayOne(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	got := f.replayer("payments", "Charge", nil)
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	path := "/api/baldur/dlq/" + id + "/replay/"

	// Refusals first; none of them replays.
	r := f.do(t, req{method: http.MethodPost, path: path})
	assert.Equal(t, http.StatusUnauthorized, r.code)
	r = f.do(t, req{method: http.MethodPost, path: path, key: viewerKey})
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.Equal(t, admin.GateRole, r.json["gate"])
	assert.Equal(t, "this action needs the operator role; the key presented has viewer", r.json["error"])
	r = f.do(t, req{path: path, key: operatorKey})
	assert.Equal(t, http.StatusMethodNotAllowed, r.code)
	assert.Equal(t, "POST", r.header.Get("Allow"))
	r = f.do(t, req{method: http.MethodPost, path: path, key: operatorKey, body: `{"domain":"payments"}`})
	assert.Equal(t, http.StatusBadRequest, r.code, "a filter field is not a per-entry field")
	assert.Equal(t, admin.GateBody, r.json["gate"])
	r = f.do(t, req{method: http.MethodPost, path: path, key: operatorKey, body: `{`})
	assert.Equal(t, admin.GateBody, r.json["gate"])
	assert.Equal(t, dlq.StatePending, f.entry(t, id).State)
	assert.Empty(t, got)

	r = f.do(t, req{method: http.MethodPost, path: path, key: operatorKey, headers: map[string]string{admin.OperatorHeader: "bob"}})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "o-1", await.Recv(t, got, "the replayed call"))
	assert.Equal(t, "resolved", get(r.json, "entry", "state"))
	assert.Equal(t, "replay 1 succeeded", get(r.json, "entry", "reason"))
	assert.Equal(t, "bob (operator)", r.json["by"])
	assert.Equal(t, dlq.StateResolved, f.entry(t, id).State)

	// Resolved is the wrong state for a replay: 409, and it says why.
	r = f.do(t, req{method: http.MethodPost, path: path, key: operatorKey})
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, admin.GateState, r.json["gate"])
	assert.Contains(t, r.json["error"], "already resolved")

	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/0000deadbeef0000000000000000/replay/", key: operatorKey})
	assert.Equal(t, http.StatusNotFound, r.code)
	assert.Equal(t, admin.GateNotFound, r.json["gate"])
}

func TestDLQReplayFailureIsAnAnswerNotAnError(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	f.replayer("payments", "Charge", errors.New("still down"))
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/replay/", key: operatorKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "pending", get(r.json, "entry", "state"))
	assert.Equal(t, "still down", get(r.json, "entry", "last_error"))
	assert.Equal(t, float64(1), get(r.json, "entry", "replay_count"))
}

func TestDLQReplayRespectsTheKillSwitch(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{unlocked: true})
	got := f.replayer("payments", "Charge", nil)
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	_, err := f.ctl.Disable(context.Background(), "test", "incident 7")
	require.NoError(t, err)

	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/replay/", key: operatorKey})
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, admin.GateKillSwitch, r.json["gate"])
	assert.Contains(t, r.json["error"], "incident 7")
	assert.Contains(t, r.json["hint"], `"override":true`)
	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/replay/", key: operatorKey, body: `{"domain":"payments"}`})
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, admin.GateKillSwitch, r.json["gate"])
	assert.Empty(t, got)
	assert.Equal(t, dlq.StatePending, f.entry(t, id).State)

	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/replay/", key: operatorKey, body: `{"override":true}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "resolved", get(r.json, "entry", "state"))
}

func TestDLQRedrive(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	f.replayer("payments", "Charge", errors.New("still down"))
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	replay := func() resp {
		return f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/replay/", key: operatorKey})
	}
	redrive := func(key string) resp {
		return f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/redrive/", key: key})
	}

	r := redrive(operatorKey)
	assert.Equal(t, http.StatusConflict, r.code, "a pending entry is not redriven")
	assert.Equal(t, admin.GateState, r.json["gate"])
	assert.Contains(t, r.json["error"], "only needs_review entries are redriven")

	require.Equal(t, http.StatusOK, replay().code)
	r = replay()
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, "needs_review", get(r.json, "entry", "state"), "the budget of two is spent")

	r = replay()
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, admin.GateState, r.json["gate"])
	assert.Contains(t, r.json["error"], "redrive it first")

	r = redrive(viewerKey)
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.Equal(t, admin.GateRole, r.json["gate"])
	assert.Equal(t, dlq.StateNeedsReview, f.entry(t, id).State)

	r = redrive(operatorKey)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "pending", get(r.json, "entry", "state"))
	assert.Equal(t, float64(0), get(r.json, "entry", "replay_count"), "a fresh budget")
	assert.Contains(t, get(r.json, "entry", "reason"), "redriven by an operator")

	r = f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/0000deadbeef0000000000000000/redrive/", key: operatorKey})
	assert.Equal(t, http.StatusNotFound, r.code)
}

func TestDLQReplayBatch(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	charged := f.replayer("payments", "Charge", nil)
	posted := f.replayer("ledger", "Post", nil)
	f.park(t, "payments", "Charge", "timeout", "o-1")
	f.park(t, "payments", "Charge", "declined", "o-2")
	f.park(t, "payments", "Charge", "timeout", "o-3")
	ledger := f.park(t, "ledger", "Post", "timeout", "o-4")
	batch := func(key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/replay/", key: key, body: body})
	}

	for body, want := range map[string]string{
		`{}`:                     "a batch replay needs a domain or a failure_type",
		`{"operation":"Charge"}`: "a batch replay needs a domain or a failure_type",
		`{"domain":"payments","state":"needs_review"}`: `state="needs_review": a batch replay takes only pending entries`,
		`{"domain":"payments","limit":5000}`:           `limit="5000": want a number from 1 to 1000`,
		`{"domain":"payments","limit":-1}`:             `limit="-1"`,
	} {
		r := batch(operatorKey, body)
		assert.Equal(t, http.StatusBadRequest, r.code, body)
		assert.Equal(t, admin.GateInput, r.json["gate"], body)
		assert.Contains(t, r.json["error"], want, body)
	}
	r := batch(operatorKey, `{"domian":"payments"}`)
	assert.Equal(t, http.StatusBadRequest, r.code)
	assert.Equal(t, admin.GateBody, r.json["gate"])
	assert.Contains(t, r.json["hint"], "domain, operation, failure_type, state, limit")
	assert.Equal(t, http.StatusForbidden, batch(viewerKey, `{"domain":"payments"}`).code)
	assert.Empty(t, charged)

	r = batch(operatorKey, `{"domain":"payments","failure_type":"timeout","limit":1}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, float64(1), get(r.json, "report", "replayed"))
	assert.Equal(t, "o-1", await.Recv(t, charged, "the first replayed charge"))

	r = batch(operatorKey, `{"domain":"payments"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, float64(2), get(r.json, "report", "replayed"))
	assert.Equal(t, float64(2), get(r.json, "report", "outcomes", "resolved"))
	assert.Equal(t, float64(100), r.json["limit"])
	assert.Nil(t, r.json["note"])
	assert.ElementsMatch(t, []string{"o-2", "o-3"}, []string{await.Recv(t, charged, "the batch's replayed charges"), await.Recv(t, charged, "the batch's replayed charges")})
	assert.Empty(t, posted, "another domain is left alone")
	assert.Equal(t, dlq.StatePending, f.entry(t, ledger).State)

	// By failure type across domains.
	r = batch(operatorKey, `{"failure_type":"timeout"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, float64(1), get(r.json, "report", "replayed"))
	assert.Equal(t, "o-4", await.Recv(t, posted, "the replayed post"))
}

func TestDLQReplayBatchBusyDomainIs409(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	f.park(t, "payments", "Charge", "timeout", "o-1")

	// Another runner on the same store holds the domain's batch lease while
	// its replayer blocks.
	other, err := dlq.New(f.st, dlq.Options{Logger: quiet, ReplayRate: -1})
	require.NoError(t, err)
	defer other.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	other.Register("payments", "Charge", "sig1", func(context.Context, []byte) error {
		close(entered)
		await.Hold(release)
		return nil
	})
	done := make(chan error, 1)
	go func() {
		_, err := other.ReplayBatch(context.Background(), dlq.BatchFilter{Domain: "payments"})
		done <- err
	}()
	await.Signal(t, entered, "the other runner's replay starting")

	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/replay/", key: operatorKey, body: `{"domain":"payments"}`})
	assert.Equal(t, http.StatusConflict, r.code, r.raw)
	assert.Equal(t, admin.GateBusy, r.json["gate"])
	assert.Contains(t, r.json["error"], "replay lease of payments held by "+other.Owner())
	close(release)
	require.NoError(t, await.Recv(t, done, "the other runner's batch, released"))
}

func TestDLQReplayBatchStopsAtItsTimeLimit(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{opts: func(o *admin.Options) { o.DLQBatchTimeout = 50 * time.Millisecond }})
	var calls atomic.Int32
	f.q.Register("payments", "Charge", "sig1", func(ctx context.Context, _ []byte) error {
		calls.Add(1)
		<-ctx.Done() // a replay slower than the request may take
		return ctx.Err()
	})
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	r := f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/replay/", key: operatorKey, body: `{"domain":"payments"}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Contains(t, r.json["note"], "stopped at the batch time limit of 50ms")
	assert.Equal(t, int32(1), calls.Load())
	e := f.entry(t, id)
	assert.Equal(t, dlq.StatePending, e.State, "an interrupted replay goes back to pending")
	assert.Equal(t, 0, e.ReplayCount, "and keeps its budget")
}

func TestDLQPurgeOne(t *testing.T) {
	locked := newDLQFixture(t, fixtureOpts{})
	id := locked.park(t, "payments", "Charge", "timeout", "o-1")
	r := locked.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/purge/", key: adminKey, body: `{"confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.Equal(t, admin.GateUnlock, r.json["gate"])
	assert.Equal(t, dlq.StatePending, locked.entry(t, id).State)

	f := newDLQFixture(t, fixtureOpts{unlocked: true})
	id = f.park(t, "payments", "Charge", "timeout", "o-1")
	path := "/api/baldur/dlq/" + id + "/purge/"
	for _, c := range []struct {
		key, body, gate string
		code            int
	}{
		{"", `{"confirm":"CONFIRM"}`, admin.GateKey, http.StatusUnauthorized},
		{operatorKey, `{"confirm":"CONFIRM"}`, admin.GateRole, http.StatusForbidden},
		{adminKey, `{}`, admin.GateConfirm, http.StatusForbidden},
		{adminKey, `{"confirm":"confirm"}`, admin.GateConfirm, http.StatusForbidden},
	} {
		r := f.do(t, req{method: http.MethodPost, path: path, key: c.key, body: c.body})
		assert.Equal(t, c.code, r.code, "%s %s", c.key, c.body)
		assert.Equal(t, c.gate, r.json["gate"], "%s %s", c.key, c.body)
	}
	assert.Equal(t, dlq.StatePending, f.entry(t, id).State, "the refusals changed nothing")

	r = f.do(t, req{method: http.MethodPost, path: path, key: adminKey, body: `{"confirm":"CONFIRM","reason":"test order"}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, id, r.json["id"])
	assert.Equal(t, "payments", get(r.json, "entry", "domain"))
	_, err := f.q.Get(context.Background(), id)
	assert.ErrorIs(t, err, dlq.ErrNotFound)

	r = f.do(t, req{method: http.MethodPost, path: path, key: adminKey, body: `{"confirm":"CONFIRM"}`})
	assert.Equal(t, http.StatusNotFound, r.code)
	assert.Equal(t, fmt.Sprintf("no dead-letter entry with id %q", id), r.json["error"])
}

func TestDLQPurgeByFilter(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{unlocked: true})
	f.replayer("payments", "Charge", errors.New("still down"))
	a := f.park(t, "payments", "Charge", "timeout", "o-1")
	b := f.park(t, "payments", "Charge", "timeout", "o-2")
	c := f.park(t, "payments", "Refund", "timeout", "o-3")
	d := f.park(t, "ledger", "Post", "timeout", "o-4")
	// a ends up needing review (two failed replays).
	for range 2 {
		require.NoError(t, func() error { _, err := f.q.Replay(context.Background(), a); return err }())
	}
	require.Equal(t, dlq.StateNeedsReview, f.entry(t, a).State)
	purge := func(key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/purge/", key: key, body: body})
	}

	for body, want := range map[string]string{
		`{"confirm":"CONFIRM"}`:                                 "a purge by filter needs at least one of domain, operation, failure_type, state",
		`{"state":"gone","confirm":"CONFIRM"}`:                  `state="gone"`,
		`{"domain":"payments","limit":0.5,"confirm":"CONFIRM"}`: "malformed JSON body",
	} {
		r := purge(adminKey, body)
		assert.Equal(t, http.StatusBadRequest, r.code, body)
		assert.Contains(t, r.json["error"], want, body)
	}
	assert.Equal(t, admin.GateConfirm, purge(adminKey, `{"domain":"payments"}`).json["gate"])
	assert.Equal(t, admin.GateRole, purge(operatorKey, `{"domain":"payments","confirm":"CONFIRM"}`).json["gate"])

	r := purge(adminKey, `{"domain":"payments","state":"needs_review","confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, float64(1), r.json["purged"])
	assert.Equal(t, []any{a}, r.json["ids"])
	assert.Equal(t, false, r.json["more"])

	r = purge(adminKey, `{"domain":"payments","limit":1,"confirm":"CONFIRM"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, []any{b}, r.json["ids"])
	assert.Equal(t, true, r.json["more"], "c is left for the next run")

	r = purge(adminKey, `{"domain":"payments","confirm":"CONFIRM"}`)
	assert.Equal(t, []any{c}, r.json["ids"])
	for _, id := range []string{a, b, c} {
		_, err := f.q.Get(context.Background(), id)
		assert.ErrorIs(t, err, dlq.ErrNotFound)
	}
	assert.Equal(t, dlq.StatePending, f.entry(t, d).State, "another domain is left alone")
}

func TestDLQFeedsTheSummaryAndTheMetrics(t *testing.T) {
	f := newDLQFixture(t, fixtureOpts{})
	f.replayer("payments", "Charge", errors.New("still down"))
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	f.park(t, "ledger", "Post", "timeout", "o-2")
	for range 2 {
		_, err := f.q.Replay(context.Background(), id)
		require.NoError(t, err)
	}
	r := f.summary(t, true)
	assert.Equal(t, []any{}, r.json["partial"], "the queue is read: nothing partial")
	assert.Equal(t, true, get(r.json, "dlq", "available"))
	assert.Equal(t, float64(1), get(r.json, "dlq", "pending"))
	assert.Equal(t, float64(1), get(r.json, "dlq", "needs_review"))
	assert.Equal(t, admin.VerdictWarning, r.json["verdict"])
	assert.Equal(t, "1 dead letter(s) need review", r.json["verdict_reason"])

	m := f.do(t, req{path: "/api/baldur/metrics"})
	require.Equal(t, http.StatusOK, m.code)
	assert.Contains(t, m.raw, `baldur_dlq_entries{domain="payments",state="needs_review"} 1`)
	assert.Contains(t, m.raw, `baldur_dlq_entries{domain="ledger",state="pending"} 1`)
}
