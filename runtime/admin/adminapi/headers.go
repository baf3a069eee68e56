package adminapi

// Prefix is where the JSON API lives; every path constant is relative to it.
const Prefix = "/api/baldur/"

// Header names the API reads.
const (
	KeyHeader      = "X-Baldur-Key"      // the admin key
	OperatorHeader = "X-Baldur-Operator" // who is acting, recorded in the history (optional)
)

// Confirmation is the typed confirmation a destructive action needs in its
// body's "confirm" field.
const Confirmation = "CONFIRM"

// Gate names a refusal: which check said no. Clients branch on it; the hint
// says how to pass.
const (
	GateRoute       = "route"        // no such endpoint
	GateMethod      = "method"       // wrong HTTP method
	GateHost        = "host"         // Host header not allowed (DNS rebinding)
	GateOrigin      = "origin"       // Origin header not allowed (cross-site request)
	GateKey         = "key"          // no admin key, or a wrong one
	GateRole        = "role"         // the key's role is too low
	GateUnlock      = "unlock"       // server not started with BALDUR_ADMIN_UNLOCK=1
	GateContentType = "content_type" // body is not application/json
	GateBody        = "body"         // body too large or not valid JSON
	GateConfirm     = "confirm"      // "confirm":"CONFIRM" missing or wrong
	GateInput       = "input"        // a field or parameter is invalid
	GateNotFound    = "not_found"    // unknown breaker or dead-letter entry
	GateKillSwitch  = "kill_switch"  // manual action while the kill switch is DISABLED
	GateState       = "state"        // the dead-letter entry is not in a state the action takes (409)
	GateBusy        = "busy"         // another runner holds the entry or the domain's replay lease (409)
	GateFull        = "full"         // the dead-letter queue is at its cap and rejects (503)
	GateBackend     = "backend"      // the control store or the dead-letter store failed
	GateUnavailable = "unavailable"  // feature not configured or not built yet
	GateGovernance  = "governance"   // an automated task the governance gate blocks (409)
	GateLeader      = "leader"       // a leader-only action on a process that does not lead (409)
)

// Refusal is the JSON body of every 4xx/5xx answer.
type Refusal struct {
	Error string `json:"error"`
	Gate  string `json:"gate"`
	Hint  string `json:"hint"`
}
