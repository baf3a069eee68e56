package env

import (
	"sort"
	"strings"

	"github.com/baldur-go/baldur/internal/spell"
)

// Var is one BALDUR_* variable that baldur reads. Name is the variable, or a
// pattern with one placeholder in angle brackets standing for one or more
// upper-case letters, digits and underscores (BALDUR_BULKHEAD_<NAME>).
type Var struct {
	Name string
	// Harness marks a variable read only by the repository's own tests and
	// their child processes: known, so never reported as unknown, but not
	// part of the README's table.
	Harness bool
}

// Vars is every BALDUR_* variable the code reads: the one list that the
// README's environment table is checked against (names_test.go scans the
// sources for every BALDUR_ name and fails on one missing here or there)
// and that Unknown reads to warn about a variable nobody reads.
var Vars = []Var{
	{Name: "BALDUR_ADMIN_ADDR"},
	{Name: "BALDUR_ADMIN_CA_FILE"},
	{Name: "BALDUR_ADMIN_DRAIN_DELAY"},
	{Name: "BALDUR_ADMIN_DRAIN_TIMEOUT"},
	{Name: "BALDUR_ADMIN_KEY"},
	{Name: "BALDUR_ADMIN_KEYS"},
	{Name: "BALDUR_ADMIN_TLS_CERT"},
	{Name: "BALDUR_ADMIN_TLS_KEY"},
	{Name: "BALDUR_ADMIN_UNLOCK"},
	{Name: "BALDUR_ALLOWED_ORIGINS"},
	{Name: "BALDUR_AUDIT_ENABLED"},
	{Name: "BALDUR_BULKHEAD_<NAME>"},
	{Name: "BALDUR_CACHE_MAX_ENTRIES"},
	{Name: "BALDUR_CALL_STATS"},
	{Name: "BALDUR_CANARY_HOLD"},
	{Name: "BALDUR_CANARY_MAX_EMERGENCY"},
	{Name: "BALDUR_CANARY_MAX_ERROR_RISE"},
	{Name: "BALDUR_CANARY_MAX_P99_RATIO"},
	{Name: "BALDUR_CANARY_MIN_CALLS"},
	{Name: "BALDUR_CANARY_STAGES"},
	{Name: "BALDUR_CANARY_STAGE_DEADLINE"},
	{Name: "BALDUR_CB_FAILURE_THRESHOLD"},
	{Name: "BALDUR_CB_HALF_OPEN_MAX_CALLS"},
	{Name: "BALDUR_CB_HALF_OPEN_MAX_WAIT"},
	{Name: "BALDUR_CB_MINIMUM_CALLS"},
	{Name: "BALDUR_CB_RECOVERY_TIMEOUT"},
	{Name: "BALDUR_CB_WINDOW"},
	{Name: "BALDUR_CHAOS_ENABLED"},
	{Name: "BALDUR_CONTROL_BACKEND"},   // refused at start: no longer read
	{Name: "BALDUR_CONTROL_REDIS_URL"}, // refused at start: no longer read
	{Name: "BALDUR_DLQ_DOMAIN_CAPS"},
	{Name: "BALDUR_DLQ_DOMAIN_MAX_SIZE"},
	{Name: "BALDUR_DLQ_LEASE"},
	{Name: "BALDUR_DLQ_MAX_SIZE"},
	{Name: "BALDUR_DLQ_OVERFLOW"},
	{Name: "BALDUR_DLQ_REPLAY_BUDGET"},
	{Name: "BALDUR_DLQ_REPLAY_CONCURRENCY"},
	{Name: "BALDUR_DLQ_REPLAY_RATE"},
	{Name: "BALDUR_DLQ_RETENTION"},
	{Name: "BALDUR_EMERGENCY_AUTO"},
	{Name: "BALDUR_EMERGENCY_BREAKERS_OPEN"},
	{Name: "BALDUR_EMERGENCY_CPU"},
	{Name: "BALDUR_EMERGENCY_DEGRADED"},
	{Name: "BALDUR_EMERGENCY_ERROR_RATE"},
	{Name: "BALDUR_EMERGENCY_EVAL_INTERVAL"},
	{Name: "BALDUR_EMERGENCY_LOAD"},
	{Name: "BALDUR_EMERGENCY_SAFE_CPU"},
	{Name: "BALDUR_EMERGENCY_SAFE_ERROR_RATE"},
	{Name: "BALDUR_EMERGENCY_SAFE_LOAD"},
	{Name: "BALDUR_EMERGENCY_STABILISATION"},
	{Name: "BALDUR_EVENT_LOGGING_<FAMILY>_LOG_LEVEL"},
	{Name: "BALDUR_GOVERNANCE_EMERGENCY_LEVEL"},
	{Name: "BALDUR_IDEMPOTENCY_DEGRADED"},
	{Name: "BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS"},
	{Name: "BALDUR_LEADER_ELECTION_REDIS_URL"},
	{Name: "BALDUR_LEADER_LEASE"},
	{Name: "BALDUR_LOG_LEVEL"},
	{Name: "BALDUR_NOTIFY_ALERTMANAGER_URL"},
	{Name: "BALDUR_NOTIFY_BURST_THRESHOLD"},
	{Name: "BALDUR_NOTIFY_BURST_WINDOW"},
	{Name: "BALDUR_NOTIFY_CHANNEL_RATE_PER_HOUR"},
	{Name: "BALDUR_NOTIFY_CHANNEL_RATE_PER_MINUTE"},
	{Name: "BALDUR_NOTIFY_COOLDOWN"},
	{Name: "BALDUR_NOTIFY_ENABLED"},
	{Name: "BALDUR_NOTIFY_MAX_ATTEMPTS"},
	{Name: "BALDUR_NOTIFY_QUEUE_SIZE"},
	{Name: "BALDUR_NOTIFY_RATE_PER_HOUR"},
	{Name: "BALDUR_NOTIFY_RATE_PER_MINUTE"},
	{Name: "BALDUR_NOTIFY_REMIND_AFTER"},
	{Name: "BALDUR_NOTIFY_ROUTE_<PRIORITY>"},
	{Name: "BALDUR_NOTIFY_SLACK_WEBHOOK_URL"},
	{Name: "BALDUR_NOTIFY_TIMEOUT"},
	{Name: "BALDUR_NOTIFY_WEBHOOK_URL"},
	{Name: "BALDUR_OPERATOR"},
	{Name: "BALDUR_PROTECT_DEFAULT_TIMEOUT_SECONDS"},
	{Name: "BALDUR_REDIS_PREFIX"},
	{Name: "BALDUR_REDIS_URL"},
	{Name: "BALDUR_REQUIRE_POSTGRES"},
	{Name: "BALDUR_REQUIRE_REDIS"},
	{Name: "BALDUR_RESILIENT_STORAGE_REDIS_URL"},
	{Name: "BALDUR_SLO_<SERVICE>"},
	{Name: "BALDUR_SQL_DSN"},
	{Name: "BALDUR_STATE_DIR"},
	{Name: "BALDUR_TEST_POSTGRES_ADDR"},
	{Name: "BALDUR_TEST_REDIS_ADDR"},

	// The tests' child processes and their parameters.
	{Name: "BALDUR_ADMIN_TEST_CHILD", Harness: true},
	{Name: "BALDUR_CONTROL_TEST_CHILD", Harness: true},
	{Name: "BALDUR_CONTROL_TEST_DIR", Harness: true},
	{Name: "BALDUR_CONTROL_TEST_PREFIX", Harness: true},
	{Name: "BALDUR_CONTROL_TEST_URL", Harness: true},
	{Name: "BALDUR_DLQ_TEST_CHILD", Harness: true},
	{Name: "BALDUR_DLQ_TEST_DIR", Harness: true},
	{Name: "BALDUR_DLQ_TEST_PREFIX", Harness: true},
	{Name: "BALDUR_DLQ_TEST_SEED", Harness: true},
	{Name: "BALDUR_FLEET_CHILD", Harness: true},
	{Name: "BALDUR_FLEET_PREFIX", Harness: true},
	{Name: "BALDUR_FLEET_STATE_DIR", Harness: true},
	{Name: "BALDUR_IDEM_ADDR", Harness: true},
	{Name: "BALDUR_IDEM_CHILD", Harness: true},
	{Name: "BALDUR_IDEM_PREFIX", Harness: true},
	{Name: "BALDUR_STORE_CRASH_CHILD", Harness: true},
	{Name: "BALDUR_STORE_CRASH_ROUND", Harness: true},
	{Name: "BALDUR_STORE_PERM_CHILD", Harness: true},
	{Name: "BALDUR_TEST_REDIS_LOGS", Harness: true},
	{Name: "BALDUR_TEST_STATE_DIR", Harness: true},
}

// Known reports whether name is one of Vars, or matches one of its patterns.
func Known(name string) bool {
	for _, v := range Vars {
		if v.matches(name) {
			return true
		}
	}
	return false
}

// matches reports whether name is v's name or fits its pattern.
func (v Var) matches(name string) bool {
	open := strings.IndexByte(v.Name, '<')
	if open < 0 {
		return name == v.Name
	}
	prefix, suffix := v.Name[:open], v.Name[strings.IndexByte(v.Name, '>')+1:]
	if len(name) <= len(prefix)+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return false
	}
	for _, c := range name[len(prefix) : len(name)-len(suffix)] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Prefix is the part of a pattern before its placeholder (BALDUR_BULKHEAD_
// for BALDUR_BULKHEAD_<NAME>); the name itself when it has none.
func (v Var) Prefix() string {
	if open := strings.IndexByte(v.Name, '<'); open >= 0 {
		return v.Name[:open]
	}
	return v.Name
}

// Stranger is a BALDUR_* variable set in the environment that baldur does
// not read, with the nearest name it does read ("" when none is close).
type Stranger struct {
	Name    string
	Nearest string
}

// Unknown returns the BALDUR_* variables of environ (KEY=VALUE, as
// os.Environ lists them) that no Var names or matches, sorted, each with the
// nearest known name. Values are not looked at: they may be secrets.
func Unknown(environ []string) []Stranger {
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "BALDUR_") && !Known(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	// Compared without the common BALDUR_, which would make every name
	// look near every other.
	known := make([]string, 0, len(Vars))
	for _, v := range Vars {
		if !v.Harness {
			known = append(known, strings.TrimPrefix(v.Name, "BALDUR_"))
		}
	}
	var out []Stranger
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		s := Stranger{Name: n}
		if best, _, ok := spell.Nearest(strings.TrimPrefix(n, "BALDUR_"), known); ok {
			s.Nearest = "BALDUR_" + best
		}
		out = append(out, s)
	}
	return out
}
