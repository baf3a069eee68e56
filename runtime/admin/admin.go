// Package admin is the operator's HTTP surface: a JSON API under /api/baldur/
// (health, metrics, breakers, kill switch and dry-run, dead-letter queue, dashboard, daily
// report) and a web console at /, behind host, origin, key, role, unlock and confirmation gates.
// Mount Handler in your own mux, or run it on its own port with Server.
//
// The contract (paths, bodies, roles, gates, headers) lives in adminapi, which
// clients import; Handler.table holds one entry per route. The adminapi package
// doc says how a route is added.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/report"
)

// Prefix is where the JSON API lives.
const Prefix = adminapi.Prefix

// Header names the API reads.
const (
	KeyHeader      = adminapi.KeyHeader      // the admin key
	OperatorHeader = adminapi.OperatorHeader // who is acting, recorded in the history (optional)
)

// Options configure a Handler. Runtime is required; every other zero field
// takes the default written beside it.
type Options struct {
	Runtime *runtime.Runtime
	// Control holds the kill switch and dry-run. nil (the usual): the
	// runtime's own, Runtime.Control(); a second Control on the same
	// runtime would fight it.
	Control *control.Control
	// Gatherer is served at metrics. nil: metrics.NewRegistry for Runtime (the
	// baldur_* series, with DLQ below, plus the Go and process collectors).
	Gatherer prometheus.Gatherer
	// Queue is the dead-letter queue the dlq/ routes drive (list, get,
	// replay, batch replay, redrive, purge, stats). nil (the usual): the
	// runtime's own, Runtime.DLQ().
	Queue *dlq.Queue
	// DLQ reports the dead-letter queue to the dashboard, the report and the
	// default metrics. nil: dlq.QueueDepth(Queue); a source that fails is
	// listed as "dlq" in the answers' partial.
	DLQ dlq.DepthSource
	// DLQBatchTimeout bounds one batch replay request: the batch stops there
	// (the entries it did not reach stay pending) and the answer says so.
	// Default 45s, under Server's 60s write timeout.
	DLQBatchTimeout time.Duration
	// Reports builds the daily report served at report/. nil: a Generator
	// for Runtime, on demand only (call Start on your own Generator for the
	// midnight run).
	Reports *report.Generator
	// SummaryCacheTTL is how long a dashboard summary is reused
	// (?nocache=true skips it). Default 2s: cheap enough to poll.
	SummaryCacheTTL time.Duration
	// SummaryWindow is the span of call counters the summary's verdict
	// looks at. Default 5m.
	SummaryWindow time.Duration
	// Security configures the gates (see SecurityFromEnv).
	Security Security
	// Port is the port the handler is reached on, for the default allowed hosts
	// and origins; Server sets it. "" (mounted in your own mux): loopback hosts
	// are allowed on any port.
	Port string
	// Logger receives admin.* events. Default: slog.Default().
	Logger *slog.Logger
	// Checks are extra health checks (a store, a downstream).
	Checks []Check
	// HealthCacheTTL is how long a health report is reused (?nocache=true skips
	// it). Default 5s.
	HealthCacheTTL time.Duration
	// CheckTimeout bounds each health check. Default 2s.
	CheckTimeout time.Duration
	// RetryAfter is the Retry-After readiness sends while draining or unhealthy.
	// Default 5s.
	RetryAfter time.Duration
}

// Check is a health check. A failing critical check makes the service
// unhealthy (503); a failing non-critical one makes it degraded (200).
type Check struct {
	Name     string
	Critical bool
	Func     func(context.Context) error
}

// Handler serves the API and the console. It is safe for concurrent use.
type Handler struct {
	rt       *runtime.Runtime
	ctl      *control.Control
	metrics  http.Handler
	gates    gates
	log      *slog.Logger
	checks   []Check
	ttl      time.Duration
	checkTTL time.Duration
	retry    time.Duration
	routes   []route
	console  http.Handler
	dlq      dlq.DepthSource
	queue    *dlq.Queue
	batchTTL time.Duration
	reports  *report.Generator

	sumTTL    time.Duration
	sumWindow time.Duration
	sumCache  summaryCache

	draining  atomic.Bool
	healthMu  sync.Mutex
	health    *healthReport
	computing atomic.Int32 // health checks running now
}

// New builds a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Runtime == nil {
		return nil, errors.New("admin: Options.Runtime is required")
	}
	for i, k := range opts.Security.Keys {
		if k.Role < RoleViewer || k.Role > RoleAdmin {
			return nil, fmt.Errorf("admin: Security.Keys[%d]: role %d is not viewer, operator or admin", i, k.Role)
		}
		if err := checkSecret(k.Secret); err != nil {
			return nil, fmt.Errorf("admin: Security.Keys[%d] (%s): %w", i, k.Role, err)
		}
	}
	for _, o := range opts.Security.AllowedOrigins {
		if _, err := normalizeOrigin(o); err != nil {
			return nil, fmt.Errorf("admin: Security.AllowedOrigins: %w", err)
		}
	}
	if opts.Control == nil {
		opts.Control = opts.Runtime.Control()
	}
	if opts.Queue == nil {
		opts.Queue = opts.Runtime.DLQ()
	}
	if opts.DLQ == nil {
		opts.DLQ = dlq.QueueDepth(opts.Queue)
	}
	h := &Handler{
		rt:        opts.Runtime,
		ctl:       opts.Control,
		gates:     opts.Security.resolve(opts.Port),
		log:       opts.Logger,
		checks:    opts.Checks,
		ttl:       opts.HealthCacheTTL,
		checkTTL:  opts.CheckTimeout,
		retry:     opts.RetryAfter,
		dlq:       opts.DLQ,
		queue:     opts.Queue,
		batchTTL:  opts.DLQBatchTimeout,
		reports:   opts.Reports,
		sumTTL:    opts.SummaryCacheTTL,
		sumWindow: opts.SummaryWindow,
	}
	if h.batchTTL <= 0 {
		h.batchTTL = 45 * time.Second
	}
	if h.sumTTL <= 0 {
		h.sumTTL = 2 * time.Second
	}
	if h.sumWindow <= 0 {
		h.sumWindow = 5 * time.Minute
	}
	if h.reports == nil {
		h.reports = report.New(opts.Runtime, report.Options{DLQ: opts.DLQ, Logger: opts.Logger})
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.ttl == 0 {
		h.ttl = 5 * time.Second
	}
	if h.checkTTL == 0 {
		h.checkTTL = 2 * time.Second
	}
	if h.retry <= 0 {
		h.retry = 5 * time.Second
	}
	g := opts.Gatherer
	if g == nil {
		g = metrics.NewRegistry(opts.Runtime, metrics.Options{DLQ: opts.DLQ})
	}
	h.metrics = promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	h.routes = h.table()
	h.console = consoleHandler()
	return h, nil
}

// SetDraining turns readiness to 503 (with Retry-After) while liveness and
// ping stay 200. Server.Drain calls it; call it yourself when you drain the
// process another way.
func (h *Handler) SetDraining(on bool) { h.draining.Store(on) }

// Draining reports whether SetDraining(true) is in force.
func (h *Handler) Draining() bool { return h.draining.Load() }

// endpoint is one method on one route, with the gates it needs.
type endpoint struct {
	method      string
	role        Role // lowest role allowed
	probe       bool // health and metrics: no host, origin or key gate (load balancers, scrapers)
	destructive bool // needs the unlock and the typed confirmation
	unlock      bool // needs the unlock only (an action with effects outside this process, not a dangerous one)
	review      bool // its audit record carries review_required (break-glass, forced releases, gate bypasses)
	body        bool // reads a JSON body
	filter      bool // the body may also carry a dlqFilter
	doc         string
	fn          func(*call)

	// request, when set, gives the body's own type (one that embeds
	// adminapi.ActionRequest) and its extra field names; the handler reads
	// the decoded value from call.req.
	request func() (target any, action *adminapi.ActionRequest, fields string)
}

type route struct {
	pattern string // relative to Prefix, no slashes at the ends; "{name}" or "{id}" matches one segment
	eps     []endpoint
}

// call is one request on its way through the gates.
type call struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	ep     *endpoint
	role   Role
	who    string
	name   string // the {name} or {id} segment
	body   actionBody
	filter dlqFilter
	req    any // the endpoint's own request type, decoded (see endpoint.request)
	status int
	route  *route
	// For the audit record (audit.go): the refusing gate and its message,
	// the request id, and whether the endpoint wrote its own record.
	gate, refusal string
	reqID         string
	auditDone     bool
}

// actionBody is what POST endpoints accept. Unknown fields are refused, so a
// typo such as "confrim" is an error instead of a silently missing confirmation.
type actionBody = adminapi.ActionRequest

func (c *call) refuse(status int, gate, msg, hint string) {
	c.status = status
	c.gate, c.refusal = gate, msg
	c.h.log.LogAttrs(c.r.Context(), slog.LevelWarn, "admin.request_refused",
		slog.String("gate", gate), slog.Int("status", status), slog.String("method", c.r.Method),
		slog.String("path", c.r.URL.Path), slog.String("remote", c.r.RemoteAddr),
		slog.String("role", c.role.String()), slog.String("error", msg))
	writeJSON(c.w, status, Refusal{Error: msg, Gate: gate, Hint: hint})
}

func (c *call) ok(v any) {
	c.status = http.StatusOK
	writeJSON(c.w, http.StatusOK, v)
}

// ServeHTTP routes the request through the gates to its endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	c := &call{h: h, w: w, r: r}
	path := r.URL.Path
	if path+"/" == Prefix {
		path = Prefix
	}
	if !strings.HasPrefix(path, Prefix) {
		h.serveConsole(c)
		return
	}
	rest := strings.Trim(path[len(Prefix):], "/")
	rt, name, ok := h.match(rest)
	if !ok {
		if !c.passOrigin() {
			return
		}
		c.refuse(http.StatusNotFound, GateRoute, fmt.Sprintf("no endpoint %s", r.URL.Path),
			"GET "+Prefix+" lists the endpoints")
		return
	}
	c.name = name
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	for i := range rt.eps {
		if rt.eps[i].method == method {
			c.ep = &rt.eps[i]
		}
	}
	if c.ep == nil {
		allow := make([]string, 0, len(rt.eps))
		for _, ep := range rt.eps {
			allow = append(allow, ep.method)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		c.refuse(http.StatusMethodNotAllowed, GateMethod,
			fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path),
			"use "+strings.Join(allow, " or "))
		return
	}
	c.route = rt
	if c.isAction() {
		c.beginAudit()
		defer c.endAudit()
	}
	if !c.ep.probe && !c.passGates() {
		return
	}
	c.ep.fn(c)
}

func (h *Handler) match(rest string) (*route, string, bool) {
	segs := strings.Split(rest, "/")
	if rest == "" {
		segs = nil
	}
	for i := range h.routes {
		pat := strings.Split(h.routes[i].pattern, "/")
		if h.routes[i].pattern == "" {
			pat = nil
		}
		if len(pat) != len(segs) {
			continue
		}
		name, ok := "", true
		for j, p := range pat {
			switch {
			case strings.HasPrefix(p, "{") && segs[j] != "":
				name = segs[j]
			case p != segs[j]:
				ok = false
			}
		}
		if ok {
			return &h.routes[i], name, true
		}
	}
	return nil, "", false
}

// passOrigin runs the host and origin gates only.
func (c *call) passOrigin() bool {
	g := &c.h.gates
	if !g.hostAllowed(c.r.Host) {
		c.refuse(http.StatusForbidden, GateHost, fmt.Sprintf("host %q is not allowed", c.r.Host),
			"reach the server as localhost, 127.0.0.1 or [::1] on its port, or add the public origin to BALDUR_ALLOWED_ORIGINS")
		return false
	}
	if o := c.r.Header.Get("Origin"); o != "" && !g.originAllowed(o) {
		c.refuse(http.StatusForbidden, GateOrigin, fmt.Sprintf("origin %q is not allowed", o),
			"open the console from the server itself, or add the origin (scheme://host:port) to BALDUR_ALLOWED_ORIGINS")
		return false
	}
	return true
}

// passGates runs every gate in order: host, origin, key, role, unlock,
// content type, body, confirmation.
func (c *call) passGates() bool {
	if !c.passOrigin() {
		return false
	}
	g := &c.h.gates
	presented := c.r.Header.Get(KeyHeader)
	c.role = g.roleOf(presented)
	switch {
	case len(g.keys) == 0 && c.ep.role <= RoleViewer:
		c.role = RoleViewer // no keys configured: reads are open on the allowed hosts
	case len(g.keys) == 0:
		c.refuse(http.StatusForbidden, GateKey, "no admin key is configured on this server, so no action is possible",
			"restart the server with BALDUR_ADMIN_KEY=<key> (or BALDUR_ADMIN_KEYS=role:key,...) and send the key in the "+KeyHeader+" header")
		return false
	case presented == "":
		c.refuse(http.StatusUnauthorized, GateKey, "this endpoint needs an admin key",
			"send the key in the "+KeyHeader+" header (the baldur CLI reads BALDUR_ADMIN_KEY)")
		return false
	case c.role == RoleNone:
		c.refuse(http.StatusUnauthorized, GateKey, "the admin key is not valid",
			"send a key configured in BALDUR_ADMIN_KEY or BALDUR_ADMIN_KEYS in the "+KeyHeader+" header")
		return false
	}
	if c.role < c.ep.role {
		c.refuse(http.StatusForbidden, GateRole,
			fmt.Sprintf("this action needs the %s role; the key presented has %s", c.ep.role, c.role),
			fmt.Sprintf("use a key listed as %s (or higher) in BALDUR_ADMIN_KEYS", c.ep.role))
		return false
	}
	if c.ep.destructive && !g.unlocked {
		c.refuse(http.StatusForbidden, GateUnlock, "destructive actions are locked on this server",
			`restart the server with BALDUR_ADMIN_UNLOCK=1, then send "confirm":"CONFIRM" in the JSON body (CLI: --confirm)`)
		return false
	}
	if c.ep.unlock && !g.unlocked {
		c.refuse(http.StatusForbidden, GateUnlock, "this action is locked on this server",
			"restart the server with BALDUR_ADMIN_UNLOCK=1")
		return false
	}
	if c.ep.body && !c.readBody() {
		return false
	}
	if c.ep.destructive && c.body.Confirm != adminapi.Confirmation {
		msg := `this action needs the typed confirmation "CONFIRM"`
		if c.body.Confirm != "" {
			msg = fmt.Sprintf(`confirmation %q is not "CONFIRM"`, c.body.Confirm)
		}
		c.refuse(http.StatusForbidden, GateConfirm, msg, `send {"confirm":"CONFIRM"} in the JSON body (CLI: --confirm)`)
		return false
	}
	c.who = operatorName(c.r.Header.Get(OperatorHeader), c.body.Who, c.role)
	return true
}

func (c *call) readBody() bool {
	ct := c.r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		c.refuse(http.StatusUnsupportedMediaType, GateContentType,
			fmt.Sprintf("content type %q is not application/json", ct),
			"send the body as JSON with Content-Type: application/json (an empty object {} when there is nothing to say)")
		return false
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, c.h.gates.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		c.refuse(http.StatusRequestEntityTooLarge, GateBody,
			fmt.Sprintf("request body is larger than %d bytes", c.h.gates.maxBody), "send a smaller body: a reason of a few lines is plenty")
		return false
	}
	if err != nil {
		c.refuse(http.StatusBadRequest, GateBody, "reading the request body failed: "+err.Error(), "send the request again")
		return false
	}
	var action *adminapi.ActionRequest
	var target any = &c.body
	fields := "reason, confirm, override, who"
	if c.ep.request != nil {
		var more string
		target, action, more = c.ep.request()
		c.req = target
		fields += ", " + more
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if c.ep.filter {
		target = &struct {
			*actionBody
			*dlqFilter
		}{&c.body, &c.filter}
		fields += ", domain, operation, failure_type, state, limit"
	}
	if err := dec.Decode(target); err != nil {
		c.refuse(http.StatusBadRequest, GateBody, "malformed JSON body: "+err.Error(),
			"send one JSON object with the fields "+fields+`; e.g. {"reason":"incident 42","confirm":"CONFIRM"}`)
		return false
	}
	if dec.More() {
		c.refuse(http.StatusBadRequest, GateBody, "malformed JSON body: more than one JSON value",
			"send exactly one JSON object")
		return false
	}
	if action != nil {
		c.body = *action
	}
	return true
}

// operatorName builds the "who" recorded in histories: the name the client
// declared, if any, and the role its key proved.
func operatorName(header, body string, role Role) string {
	name := header
	if body != "" {
		name = body
	}
	name = control.Clean(name) // no control, bidi or other format characters in a history
	if len(name) > 64 {
		name = name[:64]
	}
	if name == "" {
		return role.String() + " key"
	}
	return name + " (" + role.String() + ")"
}

// table lists every endpoint, one entry per route: the path constant from
// adminapi, then each method with its lowest role, whether it is destructive,
// and its handler. Paths are relative to Prefix; a trailing slash is optional
// on every one. The route-table tests derive their requests from this list, so
// a route added here meets every gate without more test code.
func (h *Handler) table() []route {
	get := func(role Role, doc string, fn func(*call)) endpoint {
		return endpoint{method: http.MethodGet, role: role, doc: doc, fn: fn}
	}
	probe := func(doc string, fn func(*call)) endpoint {
		return endpoint{method: http.MethodGet, probe: true, doc: doc, fn: fn}
	}
	act := func(role Role, destructive bool, doc string, fn func(*call)) endpoint {
		return endpoint{method: http.MethodPost, role: role, destructive: destructive, body: true, doc: doc, fn: fn}
	}
	breakerAct := func(action string) endpoint {
		return act(RoleOperator, true, action+" the breaker", func(c *call) { c.h.breakerAction(c, action) })
	}
	batch := func(role Role, destructive bool, doc string, fn func(*call)) endpoint {
		ep := act(role, destructive, doc, fn)
		ep.filter = true
		return ep
	}
	return append([]route{
		{adminapi.PathIndex, []endpoint{get(RoleViewer, "this list", (*call).index)}},
		{adminapi.PathWhoami, []endpoint{get(RoleViewer, "the role of the key presented and whether actions are unlocked", (*call).whoami)}},
		{adminapi.PathHealth, []endpoint{probe("overall health: 200 healthy or degraded, 503 unhealthy; ?nocache=true; status words only, the checks' detail and errors with a viewer key", (*call).healthAll)}},
		{adminapi.PathHealthLive, []endpoint{probe("liveness: 200 while the process runs", (*call).live)}},
		{adminapi.PathHealthReady, []endpoint{probe("readiness: 503 with Retry-After while draining or unhealthy", (*call).ready)}},
		{adminapi.PathHealthPool, []endpoint{probe("the store's connection pool and the bulkhead compartments: 200 healthy, 503 degraded or erroring; the reason and the Redis pool's counters with a viewer key", (*call).pool)}},
		{adminapi.PathHealthPing, []endpoint{probe("ping: always 200", (*call).ping)}},
		{adminapi.PathMetrics, []endpoint{probe("Prometheus metrics", func(c *call) { c.h.metrics.ServeHTTP(c.w, c.r) })}},
		{adminapi.PathSummary, []endpoint{get(RoleViewer, "verdict (healthy, good, warning, critical), overview, resolution, recent activity, noisiest services; cached 2s, ?nocache=true", (*call).summary)}},
		{adminapi.PathLeader, []endpoint{get(RoleViewer, "the fleet's election: whether this process leads, its term's fencing token, the lease's holder", (*call).leaderStatus)}},
		{adminapi.PathSchedule, []endpoint{get(RoleViewer, "scheduled tasks: spec, scope, last run, outcome, duration, next run", (*call).scheduleStatus)}},
		{adminapi.PathShaping, []endpoint{get(RoleViewer, "load shaping per method: rate tokens and limit, throttle probability, adaptive concurrency limit, retry budget use, what the emergency level halves; this process only", (*call).shaping)}},
		{adminapi.PathWatchdog, []endpoint{get(RoleViewer, "the runtime's background loops: state, silence, restarts", (*call).watchdogStatus)}},
		{adminapi.PathReport, []endpoint{get(RoleViewer, "daily reports, newest first: ?date=YYYY-MM-DD|today&days=N (today's is built and stored on the spot)", (*call).report)}},
		{adminapi.PathBreakers, []endpoint{get(RoleViewer, "every breaker", (*call).breakers)}},
		{adminapi.PathBreaker, []endpoint{get(RoleViewer, "one breaker", (*call).breaker)}},
		{adminapi.PathBreakerReset, []endpoint{breakerAct(adminapi.BreakerReset)}},
		{adminapi.PathBreakerForceOpen, []endpoint{breakerAct(adminapi.BreakerForceOpen)}},
		{adminapi.PathBreakerForceClose, []endpoint{reviewed(breakerAct(adminapi.BreakerForceClose))}},
		{adminapi.PathBreakerAuto, []endpoint{breakerAct(adminapi.BreakerAuto)}},
		{adminapi.PathControl, []endpoint{get(RoleViewer, "kill switch and dry-run status", (*call).controlStatus)}},
		{adminapi.PathControlStatus, []endpoint{get(RoleViewer, "kill switch and dry-run status", (*call).controlStatus)}},
		{adminapi.PathControlHistory, []endpoint{get(RoleViewer, "who changed what, newest first", (*call).controlHistory)}},
		{adminapi.PathControlWouldHave, []endpoint{get(RoleViewer, "the dry-run timeline, newest first; ?limit=&service=", (*call).wouldHave)}},
		{adminapi.PathControlDisable, []endpoint{act(RoleOperator, true, `turn the kill switch off; {"reason":...}`, (*call).disable)}},
		{adminapi.PathControlEnable, []endpoint{act(RoleOperator, true, "turn the kill switch back on", (*call).enable)}},
		{adminapi.PathControlDryRunOn, []endpoint{act(RoleOperator, true, "start dry-run: policies only record (duplicates get through idempotency); gated like disable", (*call).dryRunOn)}},
		{adminapi.PathControlDryRunOff, []endpoint{act(RoleAdmin, true, "leave dry-run (same as go-live)", (*call).goLive)}},
		{adminapi.PathControlGoLive, []endpoint{act(RoleAdmin, true, "leave dry-run: policies intervene again", (*call).goLive)}},
		// The literal dlq/ routes come before dlq/{id}: the first match wins.
		{adminapi.PathDLQ, []endpoint{get(RoleViewer, "dead letters, unresolved ones unless state= says otherwise; ?domain=&operation=&failure_type=&state=pending|replaying|needs_review|resolved&limit=1..1000 (100)&cursor= (the next of the previous page)", (*call).dlqList)}},
		{adminapi.PathDLQStats, []endpoint{get(RoleViewer, "dead letters counted by domain, failure type and state, and the compress_oldest aggregates", (*call).dlqStats)}},
		{adminapi.PathDLQReplayBatch, []endpoint{batch(RoleOperator, false, `replay pending entries now, at the replay rate: {"domain":..., "failure_type":..., "operation":..., "limit":1..1000 (100)}, a domain or a failure_type required; refused while the kill switch is DISABLED unless "override":true`, (*call).dlqReplayBatch)}},
		{adminapi.PathDLQPurgeBatch, []endpoint{batch(RoleAdmin, true, `delete the entries a filter selects: {"domain":..., "operation":..., "failure_type":..., "state":..., "limit":1..1000 (100), "confirm":"CONFIRM"}, one filter field required`, (*call).dlqPurgeBatch)}},
		{adminapi.PathDLQEntry, []endpoint{get(RoleViewer, "one dead letter, with its arguments", (*call).dlqGet)}},
		{adminapi.PathDLQEntryReplay, []endpoint{act(RoleOperator, false, "replay one pending entry now through its registered replayer; refused while the kill switch is DISABLED unless \"override\":true", (*call).dlqReplay)}},
		{adminapi.PathDLQEntryRedrive, []endpoint{reviewed(act(RoleOperator, false, "give an entry that needs review a fresh replay budget: back to pending", (*call).dlqRedrive))}},
		{adminapi.PathDLQEntryPurge, []endpoint{act(RoleAdmin, true, "delete one entry, in any state", (*call).dlqPurge)}},
		// The literal audit/ routes come before audit/{id}.
		{adminapi.PathAudit, []endpoint{get(RoleViewer, "the audit trail, newest first: ?actor=&action= (exact, or a prefix ending in *)&target=&outcome=ok|refused|failed&since=&until= (RFC 3339)&before= (the next of the previous page)&limit=1..1000 (50)&review=pending", (*call).auditList)}},
		{adminapi.PathAuditVerify, []endpoint{get(RoleOperator, "walk the audit chain and name the first record where it breaks", (*call).auditVerify)}},
		{adminapi.PathAuditRecord, []endpoint{get(RoleViewer, "one audit record", (*call).auditGet)}},
		{adminapi.PathAuditAcknowledge, []endpoint{act(RoleAdmin, false, `acknowledge a record that requires a review: {"reason":"the note"}; itself recorded`, (*call).auditAcknowledge)}},
		{adminapi.PathSeries, []endpoint{get(RoleViewer, "every service's last hour per minute (calls, failures, rejections), breaker state, annotations, the replay / emergency track; ?scope=fleet (default: every live process merged) or process", (*call).seriesList)}},
		{adminapi.PathSeriesService, []endpoint{get(RoleViewer, "one service: the last hour per minute and the last day per hour (calls, failures, rejections, p50/p99, breaker state, DLQ depth), transitions, annotations, the replay / emergency track; ?scope=fleet (default) or process", (*call).seriesOne)}},
	}, append(append(append(append(h.emergencyRoutes(get, act), h.opsRoutes(get, act)...), h.policyRoutes(get, act)...), h.canaryRoutes(get, act)...), h.chaosRoutes(get, act)...)...)
}

func (c *call) index() {
	var out []adminapi.Endpoint
	for _, rt := range c.h.routes {
		for _, ep := range rt.eps {
			p := adminapi.URL(rt.pattern)
			role := ep.role.String()
			if ep.probe {
				role = "open"
			}
			out = append(out, adminapi.Endpoint{Method: ep.method, Path: p, Role: role, Destructive: ep.destructive, Unlock: ep.unlock, Doc: ep.doc})
		}
	}
	c.ok(adminapi.Index{Endpoints: out})
}

func (c *call) whoami() {
	c.ok(adminapi.Whoami{
		Role:           c.role.String(),
		KeysConfigured: len(c.h.gates.keys) > 0,
		Unlocked:       c.h.gates.unlocked,
		Confirmation:   adminapi.Confirmation,
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
