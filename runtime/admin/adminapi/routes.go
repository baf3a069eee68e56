package adminapi

import (
	"net/url"
	"strings"
)

// Route paths, relative to Prefix, without slashes at the ends. "{name}" and
// "{id}" match one segment; a trailing slash is optional on every route.
// Literal routes are listed before the pattern beside them in the server's
// table (the first match wins), so "dlq/stats" is never read as an entry id.
const (
	PathIndex  = ""
	PathWhoami = "whoami"

	PathHealth      = "health"
	PathHealthLive  = "health/live"
	PathHealthReady = "health/ready"
	PathHealthPool  = "health/pool"
	PathHealthPing  = "health/ping"
	PathMetrics     = "metrics"

	PathSummary = "dashboard/summary"
	PathReport  = "report"

	// ReportRecent is the report/ query asking for the N most recent
	// stored reports (report/?recent=7) instead of a range of days.
	ReportRecent = "recent"

	PathBreakers           = "breakers"
	PathBreaker            = "breakers/{name}"
	PathBreakerReset       = "breakers/{name}/" + BreakerReset
	PathBreakerForceOpen   = "breakers/{name}/" + BreakerForceOpen
	PathBreakerForceClose  = "breakers/{name}/" + BreakerForceClose
	PathBreakerAuto        = "breakers/{name}/" + BreakerAuto
	PathControl            = "control"
	PathControlStatus      = "control/status"
	PathControlHistory     = "control/history"
	PathControlWouldHave   = "control/would-have"
	PathControlDisable     = "control/disable"
	PathControlEnable      = "control/enable"
	PathControlDryRunOn    = "control/dry-run/on"
	PathControlDryRunOff   = "control/dry-run/off"
	PathControlGoLive      = "control/go-live"
	PathDLQ                = "dlq"
	PathDLQStats           = "dlq/stats"
	PathDLQReplayBatch     = "dlq/replay"
	PathDLQPurgeBatch      = "dlq/purge"
	PathDLQEntry           = "dlq/{id}"
	PathDLQEntryReplay     = "dlq/{id}/replay"
	PathDLQEntryRedrive    = "dlq/{id}/redrive"
	PathDLQEntryPurge      = "dlq/{id}/purge"
	PathSeries             = "series"
	PathPolicy             = "policy"
	PathPolicyDiff         = "policy/diff"
	PathPolicySet          = "policy/set"
	PathPolicyUnset        = "policy/unset"
	PathSeriesService      = "series/{name}"
	segmentName, segmentID = "{name}", "{id}"
)

// Breaker actions: the last segment of the breakers/{name}/ action routes and
// the "action" of a BreakerActionAnswer.
const (
	BreakerReset      = "reset"
	BreakerForceOpen  = "force-open"
	BreakerForceClose = "force-close"
	BreakerAuto       = "auto"
)

// BreakerPath fills the breaker's name into a breakers/{name} path.
func BreakerPath(pattern, name string) string {
	return strings.Replace(pattern, segmentName, url.PathEscape(name), 1)
}

// DLQEntryPath fills the entry's id into a dlq/{id} path.
func DLQEntryPath(pattern, id string) string {
	return strings.Replace(pattern, segmentID, url.PathEscape(id), 1)
}

// URL is the full path of a route (Prefix, the path, a trailing slash), the
// form the console and the CLI send.
func URL(path string) string {
	if path == "" {
		return Prefix
	}
	return Prefix + path + "/"
}
