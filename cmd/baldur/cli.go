package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usage = `usage: baldur [--addr URL] [--json] <command> [arguments] [flags]

  cb list                                  every breaker and its state
  cb show NAME                             one breaker
  cb reset|force-open|force-close|auto NAME [--reason R] --confirm [--override]
  control status                           kill switch and dry-run
  control disable --reason R --confirm     turn every policy off
  control enable --confirm                 turn them back on
  control dry-run on --confirm            policies only record (gated like disable)
  control dry-run off --confirm            leave dry-run (same as go-live)
  control go-live --confirm                leave dry-run
  control history                          who changed what, newest first
  control would-have [--limit N] [--service S]
  health                                   the service's health report
  dashboard                                the dashboard summary: verdict, the last minutes' calls, noisiest services
  report                                   the most recent stored daily reports (up to 7), one line each
  report [--date YYYY-MM-DD|today] [--days N]   daily reports in full, newest first
  dlq list [--domain D] [--state S] [--failure-type T] [--operation O] [--limit N] [--cursor C]
                                           dead letters (unresolved unless --state says otherwise)
  dlq show ID                              one entry, with its arguments
  dlq stats                                entries by domain, failure type and state
  dlq replay ID [--override]               replay one pending entry now
  dlq replay --domain D [--failure-type T] [--operation O] [--limit N] [--override]
                                           replay a domain's (or a failure type's) pending entries
  dlq redrive ID                           fresh replay budget for an entry that needs review
  dlq purge ID --confirm                   delete one entry (admin role, unlocked server)
  dlq purge --domain D [--state S] [--failure-type T] [--operation O] [--limit N] --confirm
                                           delete the entries a filter selects
  top [--once] [--interval D]              services, calls/s, error rate, breaker state and the last
                                           hour as a sparkline, redrawn every D (2s) on a terminal
  audit list [--actor A] [--action X|PREFIX*] [--target T] [--outcome ok|refused|failed]
             [--since T] [--until T] [--before SEQ] [--limit N] [--pending-review]
                                           the audit trail, newest first (times in RFC 3339)
  audit show SEQ                           one audit record, with its hashes
  audit verify                             walk the hash chain; exit 1 naming the first broken record
  audit ack SEQ --reason NOTE              acknowledge a record that requires a review (admin role)
  leader                                   whether this process leads the fleet, its token, who holds the lease
  leader step-down --confirm [--reason R]  give up this process's term: another process takes the lease
                                           (admin role, unlocked server)
  schedule                                 scheduled tasks: last run, outcome, duration, next run
  schedule run NAME [--reason R]           run a task now in this process; exit 1 when the run fails
                                           (admin role, unlocked server; refused while governance blocks it)
  notify [status]                          alert channels (endpoints as scheme and host), routes, guards,
                                           counters, lasting alerts
  notify test [--channel C] [--reason R]   send a test alert through every channel (or C) and show each
                                           answer; exit 1 when one refused (admin role, unlocked server)
  watchdog                                 the runtime's background loops: state, silence, restarts
  shaping                                  load shaping per method: rate tokens, throttle probability,
                                           adaptive concurrency limit, retry budget use; this process only

  emergency [status]                       the fleet's emergency level, its signals, the recovery under way
  emergency declare LEVEL --reason R --confirm   raise it (ELEVATED, HIGH or CRITICAL)
  emergency release LEVEL --reason R       the gated recovery down to LEVEL, one level per window
  emergency force-release LEVEL --reason R --confirm   drop it at once (admin; flagged for review)
  governance [status]                      each check of the gate in front of automated actions
  governance strict on --reason R [--for D]    block every automated action for D (default 1h)
  governance strict off --confirm          end STRICT mode
  governance break-glass open --reason R --confirm [--for D]   let automation through (admin; reviewed)
  governance break-glass close             close Break Glass

  policy [list] [SCOPE]                    overrides, canaries, and each method's retry, backoff, timeout,
                                           bulkhead_wait, breaker_threshold, breaker_recovery and bulkhead
                                           with where each comes from (directive, env, override)
  policy diff [SCOPE]                      what the overrides change against the directives
  policy set SCOPE KEY=VALUE... --reason R --confirm   override fleet-wide, in the directive's grammar
                                           (SCOPE: service.Method, service or "*"), e.g. retry=5 timeout=2s
  policy unset SCOPE --reason R --confirm  remove a scope's override: back to the directive

  canary [list]                            rollouts of overrides: stage, cohort figures, verdict, the gate that blocks
  canary status ID                         one rollout, its stages and figures
  canary start SCOPE KEY=VALUE... [--stages 1,10,50,100] [--hold 5m] [--reason R]   stage an override (SCOPE: all, SERVICE, SERVICE.METHOD)
  canary start ... --bypass R --confirm    past the emergency, governance and chaos gates (admin; flagged for review)
  canary abort ID [--reason R]             roll one rollout back now
  canary panic-rollback --reason R --confirm   roll back every running rollout, fleet-wide (admin)

  chaos [list]                             fault-injection experiments in force, and what this process injected
  chaos inject SERVICE [--errors P%] [--latency D [--latency-percent P%]] --for D [--reason R] --confirm
                                           fail P% of SERVICE's calls and/or delay them by D, fleet-wide,
                                           for D (at most 1h; admin role, unlocked server; refused from
                                           emergency HIGH up)
  chaos stop SERVICE [--reason R]          end SERVICE's experiment fleet-wide

flags:
  --addr URL      admin server (default: $BALDUR_ADMIN_ADDR, else http://127.0.0.1:9090); https://host:port for TLS
  --ca-file F     PEM file of the certificate authority (or self-signed certificate) the https server's
                  certificate must chain to (default: $BALDUR_ADMIN_CA_FILE, else the system's roots)
  --insecure      allow sending the admin key over plain http:// to a host that is not loopback
  --json          print the server's JSON answer
  --timeout D     request timeout (default 10s)
  --reason R      why (recorded in the history and the breaker's transition)
  --confirm       send the typed confirmation CONFIRM (destructive actions)
  --override      act on a breaker or replay a dead letter even while the kill switch is DISABLED
  --limit N       would-have, dlq list/replay/purge: at most N entries, 1 to 1000 (default 100)
  --service S     would-have: only this service
  --domain D, --operation O, --failure-type T, --state S
                  dlq: filters (state: pending, replaying, needs_review or resolved)
  --cursor C      dlq list: the page after the one that printed this cursor
  --date D        report: the last day shown, YYYY-MM-DD or today (default today)
  --days N        report: how many days, 1 to 90 (default 1)
  --channel C     notify test: only this channel (slack, webhook or alertmanager)
  --for D         governance strict on / break-glass open: how long, a Go duration (default 1h);
                  chaos inject: how long the experiment runs (required)
  --errors P%     chaos inject: the share of calls failed, 0 to 100 ("20%" or "20")
  --latency D     chaos inject: latency added before the calls, a Go duration
  --latency-percent P%   chaos inject: the share of calls delayed (default 100%)
  --once          top: print once and exit (also when stdout is not a terminal, and with --json)
  --interval D    top: time between redraws (default 2s)

environment: BALDUR_ADMIN_KEY (the admin key), BALDUR_OPERATOR (your name in the history; default $USER),
  BALDUR_ADMIN_ADDR, BALDUR_ADMIN_CA_FILE
redirects are never followed: a 3xx answer is an error naming where it pointed
exit status: 0 done, 1 failed or refused (or a replay that did not resolve), 2 usage
`

// opts is the parsed command line.
type opts struct {
	addr     string
	json     bool
	timeout  time.Duration
	reason   *string
	confirm  bool
	override bool
	limit    int
	service  string
	date     string
	days     int
	dlq      map[string]string // dlq filters by API name: domain, operation, failure_type, state
	audit    map[string]string // audit list filters (auditFlags), by API name
	cursor   string
	channel  string        // notify test: one channel
	interval time.Duration // top: between redraws
	caFile   string
	insecure bool
	window   string            // governance strict / break-glass, chaos inject: --for D
	stages   string            // canary start: --stages 1,10,50,100
	hold     string            // canary start: --hold 5m
	bypass   string            // canary start: --bypass R
	chaos    map[string]string // chaos inject: errors, latency, latency-percent as given
	set      map[string]bool   // flags given, for per-command checks
	args     []string          // positional
}

var (
	valueFlags = map[string]bool{"addr": true, "reason": true, "timeout": true, "limit": true, "service": true, "date": true, "days": true,
		"domain": true, "operation": true, "failure-type": true, "state": true, "cursor": true, "ca-file": true,
		"actor": true, "action": true, "target": true, "outcome": true, "since": true, "until": true, "before": true, "for": true, "interval": true, "channel": true,
		"stages": true, "hold": true, "bypass": true,
		"errors": true, "latency": true, "latency-percent": true}
	boolFlags = map[string]bool{"once": true, "json": true, "confirm": true, "override": true, "help": true, "h": true, "insecure": true, "pending-review": true}
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// parse reads flags anywhere on the line (baldur cb reset NAME --confirm reads
// as well as baldur --confirm cb reset NAME); "--" ends the flags.
func parse(args []string, getenv func(string) string) (*opts, error) {
	o := &opts{interval: 2 * time.Second, timeout: 10 * time.Second, limit: 100, days: 1, set: map[string]bool{}, dlq: map[string]string{}, audit: map[string]string{}, chaos: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.args = append(o.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case boolFlags[name]:
			b := true
			if hasVal {
				var err error
				if b, err = strconv.ParseBool(val); err != nil {
					return nil, usagef("flag --%s=%q: want true or false", name, val)
				}
			}
			o.set[name] = b
		case valueFlags[name]:
			if !hasVal {
				if i+1 >= len(args) {
					return nil, usagef("flag --%s needs a value", name)
				}
				i++
				val = args[i]
			}
			if err := o.setValue(name, val); err != nil {
				return nil, err
			}
			o.set[name] = true
		default:
			return nil, usagef("unknown flag %s", a)
		}
	}
	o.json, o.confirm, o.override, o.insecure = o.set["json"], o.set["confirm"], o.set["override"], o.set["insecure"]
	if !o.set["ca-file"] {
		o.caFile = getenv("BALDUR_ADMIN_CA_FILE")
	}
	if !o.set["addr"] {
		o.addr = getenv("BALDUR_ADMIN_ADDR")
	}
	base, err := baseURL(o.addr)
	if err != nil {
		src := "--addr"
		if !o.set["addr"] {
			src = "BALDUR_ADMIN_ADDR"
		}
		return nil, usagef("%s=%q: %v", src, o.addr, err)
	}
	o.addr = base
	return o, nil
}

func (o *opts) setValue(name, val string) error {
	switch name {
	case "addr":
		o.addr = val
	case "reason":
		o.reason = &val
	case "service":
		o.service = val
	case "domain", "operation", "failure-type", "state":
		if strings.TrimSpace(val) == "" {
			return usagef("flag --%s needs a value that is not blank", name)
		}
		o.dlq[strings.ReplaceAll(name, "-", "_")] = val
	case "actor", "action", "target", "outcome", "since", "until", "before":
		return o.setAuditValue(name, val)
	case "interval":
		d, err := time.ParseDuration(val)
		if err != nil || d < 100*time.Millisecond {
			return usagef("flag --interval=%q: want a duration of at least 100ms, such as 2s", val)
		}
		o.interval = d
	case "cursor":
		o.cursor = val
	case "channel":
		o.channel = val
	case "for":
		if d, err := time.ParseDuration(val); err != nil || d <= 0 {
			return usagef("flag --for=%q: want a positive duration such as 1h", val)
		}
		o.window = val
	case "errors", "latency", "latency-percent":
		o.chaos[name] = val
	case "ca-file":
		o.caFile = val
	case "stages":
		o.stages = val
	case "hold":
		if d, err := time.ParseDuration(val); err != nil || d <= 0 {
			return usagef("flag --hold=%q: want a positive duration such as 5m", val)
		}
		o.hold = val
	case "bypass":
		o.bypass = val
	case "timeout":
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return usagef("flag --timeout=%q: want a positive duration such as 10s", val)
		}
		o.timeout = d
	case "limit":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 1000 {
			return usagef("flag --limit=%q: want a number from 1 to 1000", val)
		}
		o.limit = n
	case "days":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > 90 {
			return usagef("flag --days=%q: want a number from 1 to 90", val)
		}
		o.days = n
	case "date":
		if _, err := time.Parse(time.DateOnly, val); err != nil && !strings.EqualFold(val, "today") {
			return usagef("flag --date=%q: want YYYY-MM-DD or today", val)
		}
		o.date = val
	}
	return nil
}

// baseURL turns "127.0.0.1:9090", ":9090" or "http://host:9090/" into
// "http://host:9090". A listen address on every interface is reached on loopback.
func baseURL(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "http://127.0.0.1:9090", nil
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want host:port or http://host:port")
	}
	if h, p, err := net.SplitHostPort(u.Host); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		u.Host = net.JoinHostPort("127.0.0.1", p)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// allow refuses flags the command does not use: a stray --confirm on a read is
// more likely a mistake than an intention.
func (o *opts) allow(cmd string, names ...string) error {
	ok := map[string]bool{"addr": true, "json": true, "timeout": true, "help": true, "h": true, "ca-file": true, "insecure": true}
	for _, n := range names {
		ok[n] = true
	}
	for n := range o.set {
		if !ok[n] {
			return usagef("%s does not take --%s", cmd, n)
		}
	}
	return nil
}

func (o *opts) nargs(cmd string, n int, what string) error {
	if len(o.args) != n {
		if what == "" {
			return usagef("%s takes no argument", cmd)
		}
		return usagef("usage: baldur %s %s", cmd, what)
	}
	return nil
}

// run is the whole command; main only exits with its status.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	o, err := parse(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "baldur: %s\n(baldur --help shows the usage)\n", clean(err.Error()))
		return exitUsage
	}
	if o.set["help"] || o.set["h"] || (len(o.args) > 0 && o.args[0] == "help") {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	c := &client{
		base: o.addr, key: getenv("BALDUR_ADMIN_KEY"), who: operator(getenv), insecure: o.insecure,
		timeout: o.timeout, json: o.json, stdout: stdout, stderr: stderr,
	}
	if c.http, err = httpClient(o.caFile); err != nil {
		return c.fail(err)
	}
	defer c.http.CloseIdleConnections()
	cmd, err := dispatch(o)
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "baldur: %s\n(baldur --help shows the usage)\n", clean(err.Error()))
			return exitUsage
		}
		return c.fail(err)
	}
	return cmd(c)
}

func operator(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv("BALDUR_OPERATOR")); v != "" {
		return v
	}
	return strings.TrimSpace(getenv("USER"))
}

// dispatch picks the command for the positional arguments.
func dispatch(o *opts) (func(*client) int, error) {
	if len(o.args) == 0 {
		return nil, usagef("no command given")
	}
	group, rest := o.args[0], o.args[1:]
	o.args = rest
	switch group {
	case "cb", "breaker", "breakers":
		return dispatchCB(o)
	case "control":
		return dispatchControl(o)
	case "health":
		if err := o.allow("health"); err != nil {
			return nil, err
		}
		if err := o.nargs("health", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathHealth, url.Values{"nocache": {"true"}}), nil, typed(printHealth))
		}, nil
	case "dashboard":
		if err := o.allow("dashboard"); err != nil {
			return nil, err
		}
		if err := o.nargs("dashboard", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathSummary, url.Values{"nocache": {"true"}}), nil, typed(printDashboard))
		}, nil
	case "report":
		if err := o.allow("report", "date", "days"); err != nil {
			return nil, err
		}
		if err := o.nargs("report", 0, ""); err != nil {
			return nil, err
		}
		if !o.set["date"] && !o.set["days"] {
			q := url.Values{adminapi.ReportRecent: {strconv.Itoa(recentReports)}}
			return func(c *client) int { return c.call("GET", route(adminapi.PathReport, q), nil, typed(printRecent)) }, nil
		}
		q := url.Values{"days": {strconv.Itoa(o.days)}}
		if o.date != "" {
			q.Set("date", o.date)
		}
		return func(c *client) int { return c.call("GET", route(adminapi.PathReport, q), nil, typed(printReports)) }, nil
	case "dlq":
		return dispatchDLQ(o)
	case "audit":
		return dispatchAudit(o)
	case "leader", "schedule", "watchdog":
		return dispatchFleet(o, group)
	case "notify":
		return dispatchNotify(o)
	case "shaping":
		return dispatchShaping(o)
	case "emergency":
		return dispatchEmergency(o)
	case "governance":
		return dispatchGovernance(o)
	case "canary":
		return dispatchCanary(o)
	case "policy":
		return dispatchPolicy(o)
	case "chaos":
		return dispatchChaos(o)
	case "top":
		return dispatchTop(o)
	}
	return nil, usagef("unknown command %q", group)
}

var cbActions = map[string]string{
	adminapi.BreakerReset:      adminapi.PathBreakerReset,
	adminapi.BreakerForceOpen:  adminapi.PathBreakerForceOpen,
	adminapi.BreakerForceClose: adminapi.PathBreakerForceClose,
	adminapi.BreakerAuto:       adminapi.PathBreakerAuto,
}

func dispatchCB(o *opts) (func(*client) int, error) {
	if len(o.args) == 0 {
		return nil, usagef("usage: baldur cb list|show|reset|force-open|force-close|auto [NAME]")
	}
	sub := o.args[0]
	o.args = o.args[1:]
	switch {
	case sub == "list":
		if err := o.allow("cb list"); err != nil {
			return nil, err
		}
		if err := o.nargs("cb list", 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int {
			return c.call("GET", route(adminapi.PathBreakers, nil), nil, typed(printBreakers))
		}, nil
	case sub == "show":
		if err := o.allow("cb show"); err != nil {
			return nil, err
		}
		if err := o.nargs("cb show", 1, "NAME"); err != nil {
			return nil, err
		}
		name := o.args[0]
		return func(c *client) int {
			return c.call("GET", route(adminapi.BreakerPath(adminapi.PathBreaker, name), nil), nil, typed(printBreaker))
		}, nil
	case cbActions[sub] != "":
		cmd := "cb " + sub
		if err := o.allow(cmd, "reason", "confirm", "override"); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 1, "NAME [--reason R] --confirm [--override]"); err != nil {
			return nil, err
		}
		name := o.args[0]
		body := o.actionRequest()
		path := route(adminapi.BreakerPath(cbActions[sub], name), nil)
		return func(c *client) int { return c.call("POST", path, body, typed(printBreakerAction)) }, nil
	}
	return nil, usagef("unknown cb command %q", sub)
}

func dispatchControl(o *opts) (func(*client) int, error) {
	if len(o.args) == 0 {
		return nil, usagef("usage: baldur control status|disable|enable|dry-run on|off|go-live|history|would-have")
	}
	sub := o.args[0]
	o.args = o.args[1:]
	read := func(cmd, path string, p printer) (func(*client) int, error) {
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		return func(c *client) int { return c.call("GET", path, nil, p) }, nil
	}
	action := func(cmd, path string, reasonRequired bool) (func(*client) int, error) {
		if err := o.allow(cmd, "reason", "confirm"); err != nil {
			return nil, err
		}
		if err := o.nargs(cmd, 0, ""); err != nil {
			return nil, err
		}
		if reasonRequired && (o.reason == nil || strings.TrimSpace(*o.reason) == "") {
			return nil, usagef("%s needs --reason R (not blank): it is recorded with your name", cmd)
		}
		body := o.actionRequest()
		return func(c *client) int { return c.call("POST", route(path, nil), body, typed(printControlChange)) }, nil
	}
	switch sub {
	case "status":
		if err := o.allow("control status"); err != nil {
			return nil, err
		}
		return read("control status", route(adminapi.PathControl, nil), typed(printControl))
	case "history":
		if err := o.allow("control history"); err != nil {
			return nil, err
		}
		return read("control history", route(adminapi.PathControlHistory, nil), typed(printHistory))
	case "would-have":
		if err := o.allow("control would-have", "limit", "service"); err != nil {
			return nil, err
		}
		q := url.Values{"limit": {strconv.Itoa(o.limit)}}
		if o.service != "" {
			q.Set("service", o.service)
		}
		return read("control would-have", route(adminapi.PathControlWouldHave, q), typed(printWouldHave))
	case "disable":
		return action("control disable", adminapi.PathControlDisable, true)
	case "enable":
		return action("control enable", adminapi.PathControlEnable, false)
	case "go-live":
		return action("control go-live", adminapi.PathControlGoLive, false)
	case "dry-run":
		if len(o.args) != 1 || (o.args[0] != "on" && o.args[0] != "off") {
			return nil, usagef("usage: baldur control dry-run on|off")
		}
		onOff := o.args[0]
		o.args = nil
		if onOff == "on" {
			return action("control dry-run on", adminapi.PathControlDryRunOn, false)
		}
		return action("control dry-run off", adminapi.PathControlDryRunOff, false)
	}
	return nil, usagef("unknown control command %q", sub)
}

// actionRequest is the body of every POST the flags describe.
func (o *opts) actionRequest() adminapi.ActionRequest {
	req := adminapi.ActionRequest{Override: o.override}
	if o.confirm {
		req.Confirm = adminapi.Confirmation
	}
	if o.reason != nil {
		req.Reason = *o.reason
	}
	return req
}
