package main

// mutant is one planted bug: the text old in file (found exactly once)
// becomes new, and the tests of pkgs must notice.
type mutant struct {
	name     string
	file     string
	old, new string
	pkgs     []string
	why      string // the behaviour broken, in the README's words
}

var (
	pkgRuntime = []string{"./runtime", "./internal/behaviour"}
	pkgBreaker = []string{"./runtime/breaker"}
	pkgIdem    = []string{"./runtime/idem"}
	pkgDLQ     = []string{"./runtime/dlq"}
	pkgAdmin   = []string{"./runtime/admin"}
)

// mutants is the list `make mutate` plants, one at a time. Keep each edit
// small and plausible (an off-by-one, a dropped case, a skipped check): a
// bug someone could write and review past.
var mutants = []mutant{
	{name: "breaker/threshold-off-by-one", file: "runtime/breaker/breaker.go",
		old: "failures >= uint64(b.limits.FailureThreshold)", new: "failures > uint64(b.limits.FailureThreshold)",
		pkgs: pkgBreaker, why: "the breaker opens at failure_threshold failures"},
	{name: "breaker/one-probe-closes", file: "runtime/breaker/breaker.go",
		old: "b.succeeded >= b.limits.HalfOpenMaxCalls", new: "b.succeeded >= 1",
		pkgs: pkgBreaker, why: "HALF_OPEN closes after half_open_max_calls successful probes"},
	{name: "breaker/forced-open-admits", file: "runtime/breaker/breaker.go",
		old: "\tcase Open, ForcedOpen:\n\t\tw |= gateBit", new: "\tcase Open:\n\t\tw |= gateBit",
		pkgs: pkgBreaker, why: "FORCED_OPEN rejects every call"},
	{name: "breaker/apply-equal-rank", file: "runtime/breaker/breaker.go",
		old: "case rank(state) > rank(cur) && fresh:", new: "case rank(state) >= rank(cur) && fresh:",
		pkgs: pkgBreaker, why: "a remote state is adopted only if more restrictive"},
	{name: "classify/429-is-success", file: "runtime/classify.go",
		old: "case code == 429:\n\t\treturn Failure", new: "case code == 429:\n\t\treturn Success",
		pkgs: pkgRuntime, why: "429 counts as a failure"},
	{name: "classify/501-is-failure", file: "runtime/classify.go",
		old: "case code == 501:", new: "case code == 599:",
		pkgs: pkgRuntime, why: "501 is not a failure"},
	{name: "retry/one-attempt-too-many", file: "runtime/zone.go",
		old: "attempt >= z.attemptsNow()", new: "attempt > z.attemptsNow()",
		pkgs: pkgRuntime, why: "retry=N makes N attempts in all"},
	{name: "backoff/cap-ignored", file: "runtime/backoff.go",
		old: "d > 0 && d < ceiling", new: "d > 0",
		pkgs: []string{"./runtime"}, why: "the exponential backoff never waits longer than its max"},
	{name: "bulkhead/one-too-many", file: "runtime/bulkhead.go",
		old: "if n >= b.max {", new: "if n > b.max {",
		pkgs: pkgRuntime, why: "bulkhead=N admits N concurrent calls"},
	{name: "idem/fingerprint-ignored", file: "runtime/idem/gate.go",
		old: "if rec.Fingerprint != req.Fingerprint {", new: "if false {",
		pkgs: pkgIdem, why: "a key reused with other arguments is refused"},
	{name: "idem/fingerprint-bool", file: "runtime/idem/hash.go",
		old: "return h.byte('F')", new: "return h.byte('T')",
		pkgs: pkgIdem, why: "arguments differing only in a bool are key reuse"},
	{name: "idem/request-window-ignored", file: "runtime/idem/gate.go",
		old: "window := req.ExecutionWindow", new: "window := time.Duration(0)",
		pkgs: pkgIdem, why: "a method's idem_ttl bounds its running claim"},
	{name: "dlq/queue-cap-off-by-one", file: "runtime/dlq/park.go",
		old: "if total >= int64(q.opts.MaxSize) {", new: "if total > int64(q.opts.MaxSize) {",
		pkgs: pkgDLQ, why: "the queue holds at most its cap"},
	{name: "dlq/domain-cap-off-by-one", file: "runtime/dlq/park.go",
		old: "if inDomain >= int64(domainCap) {", new: "if inDomain > int64(domainCap) {",
		pkgs: pkgDLQ, why: "a domain holds at most its cap"},
	{name: "wal/crc-unchecked", file: "runtime/store/internal/wal/frame.go",
		old: "if crc != binary.LittleEndian.Uint32(buf[4:8]) {", new: "if false && crc != binary.LittleEndian.Uint32(buf[4:8]) {",
		pkgs: []string{"./runtime/store/internal/wal"}, why: "a corrupted WAL record is detected"},
	{name: "reconcile/forced-open-as-closed", file: "runtime/shared.go",
		old: "\tcase breaker.ForcedOpen:\n\t\treturn 3\n", new: "",
		pkgs: []string{"./runtime"}, why: "FORCED_OPEN wins when breaker states merge after an outage"},
	{name: "reconcile/least-restrictive-wins", file: "runtime/shared.go",
		old: "return ra > rb", new: "return ra < rb",
		pkgs: []string{"./runtime"}, why: "breaker states merge most-restrictive-wins"},
	{name: "report/forced-open-unranked", file: "runtime/report/report.go",
		old: "\tcase \"FORCED_OPEN\":\n\t\treturn 3\n", new: "",
		pkgs: []string{"./runtime/report"}, why: "the fleet's report takes the worst breaker state"},
	{name: "admin/viewer-starts-dry-run", file: "runtime/admin/admin.go",
		old: `act(RoleOperator, false, "start dry-run`, new: `act(RoleViewer, false, "start dry-run`,
		pkgs: pkgAdmin, why: "an action needs an operator key"},
	{name: "admin/report-without-gates", file: "runtime/admin/admin.go",
		old: `{"report", []endpoint{get(RoleViewer, `, new: `{"report", []endpoint{probe(`,
		pkgs: pkgAdmin, why: "only health and metrics skip the host, origin and key gates"},
	{name: "admin/origin-gate-skipped", file: "runtime/admin/admin.go",
		old: `o != "" && !g.originAllowed(o)`, new: `o != "" && !g.originAllowed(o) && c.ep == nil`,
		pkgs: pkgAdmin, why: "a foreign Origin is refused"},
	{name: "admin/confirm-skipped", file: "runtime/admin/admin.go",
		old: "if c.ep.destructive && c.body.Confirm != control.Confirmation {", new: "if false && c.body.Confirm != control.Confirmation {",
		pkgs: pkgAdmin, why: `destructive actions need "confirm":"CONFIRM"`},
	{name: "directive/retry-unbounded", file: "annotations/parse.go",
		old: "case n < 1 || n > hi:", new: "case n < 1:",
		pkgs: []string{"./annotations"}, why: "retry= is 1..100"},
	{name: "metrics/label-cap-off-by-one", file: "runtime/metrics/labels.go",
		old: "if len(l.admitted) < l.max {", new: "if len(l.admitted) <= l.max {",
		pkgs: []string{"./runtime/metrics"}, why: "free-form label values beyond the cap share __other__"},
	{name: "generator/done-counts-attempt-2", file: "generator/emit.go",
		old: "jen.Id(l.permit), err, jen.Lit(1)", new: "jen.Id(l.permit), err, jen.Lit(2)",
		pkgs: []string{"./generator"}, why: "a call without retry reports its one attempt to Done"},
	{name: "emergency/shed-one-level-late", file: "runtime/zone.go",
		old: "z.rt.emg.level.Load() >= z.shedAt", new: "z.rt.emg.level.Load() > z.shedAt",
		pkgs: []string{"./runtime"}, why: "CRITICAL fails fast every zone not marked criticality=high"},
	{name: "emergency/recovery-gate-skipped", file: "runtime/emergency/emergency.go",
		old: "if gerr := e.safe.Check(r); gerr != nil {", new: "if gerr := e.safe.Check(r); gerr != nil && r.CPU > 1 {",
		pkgs: []string{"./runtime/emergency"}, why: "recovery holds while the error rate or CPU/load is high or unreadable"},
	{name: "emergency/no-stabilisation-window", file: "runtime/emergency/emergency.go",
		old: "if due := s.ChangedAt.Add(e.window); now.Before(due) {", new: "if due := s.ChangedAt; now.Before(due) {",
		pkgs: []string{"./runtime/emergency"}, why: "recovery goes one level per stabilisation window"},
	{name: "governance/failsafe-blocks", file: "runtime/governance/gate.go",
		old: "if r.Outcome == Block && d.Allowed {", new: "if (r.Outcome == Block || r.Outcome == Failsafe) && d.Allowed {",
		pkgs: []string{"./runtime/governance"}, why: "a check that cannot be evaluated allows the action (fail-open)"},
	{name: "governance/break-glass-overrides-kill-switch", file: "runtime/governance/gate.go",
		old: "if r.Outcome == Block && glass && r.Check != CheckKillSwitch {", new: "if r.Outcome == Block && glass {",
		pkgs: []string{"./runtime/governance"}, why: "Break Glass never overrides the kill switch"},
}
