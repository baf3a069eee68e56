package adminapi

import (
	"strconv"
	"strings"
	"time"
)

// Audit trail routes.
const (
	PathAudit            = "audit"
	PathAuditVerify      = "audit/verify"
	PathAuditRecord      = "audit/{id}"
	PathAuditAcknowledge = "audit/{id}/acknowledge"
)

// RequestIDHeader carries the request id an audit record keeps: the
// client's, when it sends one, else one the server makes; every answer to
// an action carries it.
const RequestIDHeader = "X-Request-Id"

// AuditPath fills a record's number into an audit/{id} path.
func AuditPath(pattern string, seq uint64) string {
	return strings.Replace(pattern, segmentID, strconv.FormatUint(seq, 10), 1)
}

// Audit outcomes, the "outcome" of an AuditRecord.
const (
	AuditOK      = "ok"
	AuditRefused = "refused" // a gate refused it; the detail names the gate
	AuditFailed  = "failed"
)

// AuditRecord is the JSON form of one audit record.
type AuditRecord struct {
	Chain          string    `json:"chain"`
	Seq            uint64    `json:"seq"`
	Time           time.Time `json:"time"`
	Key            string    `json:"key,omitempty"`
	Role           string    `json:"role,omitempty"`
	Operator       string    `json:"operator,omitempty"`
	Process        string    `json:"process,omitempty"`
	Node           string    `json:"node,omitempty"`
	Action         string    `json:"action"`
	Target         string    `json:"target,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Outcome        string    `json:"outcome"`
	Detail         string    `json:"detail,omitempty"`
	RequestID      string    `json:"request_id,omitempty"`
	ReviewRequired bool      `json:"review_required,omitempty"`
	Acknowledges   uint64    `json:"acknowledges,omitempty"`
	Prev           string    `json:"prev"`
	Hash           string    `json:"hash"`
}

// AuditList is the answer of audit/: a page of records, newest first.
type AuditList struct {
	Chain   string        `json:"chain"`
	Records []AuditRecord `json:"records"`
	// Next is the before= of the next page; absent on the last.
	Next uint64 `json:"next,omitempty"`
	// Backlog counts records not yet sealed, or not yet in PostgreSQL.
	Backlog     int64 `json:"backlog"`
	ChainBroken bool  `json:"chain_broken"`
	// DrainError is why records are not reaching PostgreSQL, when they are not.
	DrainError string `json:"drain_error,omitempty"`
}

// AuditRecordAnswer is the answer of audit/{id}/.
type AuditRecordAnswer struct {
	Record AuditRecord `json:"record"`
}

// AuditBreak names the first record where the chain breaks.
type AuditBreak struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// AuditVerification is the answer of audit/verify/.
type AuditVerification struct {
	Chain   string      `json:"chain"`
	OK      bool        `json:"ok"`
	Checked uint64      `json:"checked"`
	First   uint64      `json:"first"`
	Last    uint64      `json:"last"`
	Head    string      `json:"head"`
	Broken  *AuditBreak `json:"broken,omitempty"`
}

// AuditAcknowledgeAnswer is the answer of audit/{id}/acknowledge/.
type AuditAcknowledgeAnswer struct {
	Acknowledged uint64 `json:"acknowledged"`
	By           string `json:"by"`
	Note         string `json:"note"`
}

// AuditListParams are the query parameters of audit/.
var AuditListParams = []string{"actor", "action", "target", "outcome", "since", "until", "before", "limit", "review"}
