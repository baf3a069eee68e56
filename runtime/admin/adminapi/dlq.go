package adminapi

import (
	"encoding/json"
	"time"

	"github.com/baldur-go/baldur/runtime/report/daily"
)

// DLQEntry is one dead letter as the dlq/ routes show it.
type DLQEntry struct {
	ID           string          `json:"id"`
	Domain       string          `json:"domain"`
	Operation    string          `json:"operation"`
	Signature    string          `json:"signature,omitempty"`
	Args         json.RawMessage `json:"args"`
	Error        string          `json:"error"`        // the captured error text
	FailureType  string          `json:"failure_type"` // type name or classifier label
	Attempts     int             `json:"attempts"`     // attempts of the original call
	FirstFailure time.Time       `json:"first_failure"`
	LastFailure  time.Time       `json:"last_failure"`
	ReplayCount  int             `json:"replay_count"`
	State        string          `json:"state"` // pending, replaying, needs_review, resolved
	Reason       string          `json:"reason"`
	LastError    string          `json:"last_error,omitempty"` // the last replay's error
	LeaseUntil   time.Time       `json:"lease_until,omitzero"` // replaying only
	Owner        string          `json:"owner,omitempty"`      // runner holding the lease
	UpdatedAt    time.Time       `json:"updated_at"`
}

// DLQFilterView echoes a listing's filter; State "unresolved" stands for
// pending, replaying and needs_review together.
type DLQFilterView struct {
	Domain      string `json:"domain,omitempty"`
	Operation   string `json:"operation,omitempty"`
	FailureType string `json:"failure_type,omitempty"`
	State       string `json:"state"`
}

// DLQListing is the dlq/ answer: one page of entries and the filter it used.
type DLQListing struct {
	Entries []DLQEntry `json:"entries"`
	// Next is the cursor of the next page (?cursor=); empty at the end.
	Next   string        `json:"next,omitempty"`
	Limit  int           `json:"limit"`
	Filter DLQFilterView `json:"filter"`
}

// DLQEntryAnswer is the dlq/{id}/ answer.
type DLQEntryAnswer struct {
	Entry DLQEntry `json:"entry"`
}

// DLQGroup counts the entries of one domain (and failure type).
type DLQGroup struct {
	Domain      string `json:"domain"`
	FailureType string `json:"failure_type,omitempty"`
	Pending     int64  `json:"pending"`
	Replaying   int64  `json:"replaying"`
	NeedsReview int64  `json:"needs_review"`
	Resolved    int64  `json:"resolved"`
	Compressed  int64  `json:"compressed"`
}

// DLQStats are the queue's counters.
type DLQStats struct {
	Total   int64      `json:"total"`   // unresolved entries
	Evicted int64      `json:"evicted"` // evictions across the fleet
	Groups  []DLQGroup `json:"groups"`  // by domain and failure type
	Domains []DLQGroup `json:"domains"` // by domain
	// Operations count by domain and operation, from the first park by a
	// version that keeps these counters (older entries are not in them).
	Operations []DLQOperationGroup `json:"operations"`
}

// DLQOperationGroup counts the entries of one domain and operation.
type DLQOperationGroup struct {
	Domain      string `json:"domain"`
	Operation   string `json:"operation"`
	Pending     int64  `json:"pending"`
	Replaying   int64  `json:"replaying"`
	NeedsReview int64  `json:"needs_review"`
	Resolved    int64  `json:"resolved"`
}

// DLQAggregate sums the entries evicted under compress_oldest.
type DLQAggregate struct {
	Domain       string           `json:"domain"`
	FailureType  string           `json:"failure_type"`
	Count        int64            `json:"count"`
	Operations   map[string]int64 `json:"operations"`
	Attempts     int64            `json:"attempts"`
	FirstFailure time.Time        `json:"first_failure"`
	LastFailure  time.Time        `json:"last_failure"`
	LastError    string           `json:"last_error"`
	SampleIDs    []string         `json:"sample_ids"`
}

// DLQStatsAnswer is the dlq/stats/ answer.
type DLQStatsAnswer struct {
	Stats      DLQStats       `json:"stats"`
	Aggregates []DLQAggregate `json:"aggregates"`
}

// DLQActionAnswer is the answer of a replay or a redrive of one entry.
type DLQActionAnswer struct {
	Action string   `json:"action"` // replay or redrive
	By     string   `json:"by"`
	Entry  DLQEntry `json:"entry"`
}

// DLQPurgeAnswer is the answer of a purge of one entry; Entry is what was
// purged, nil when the record could not be read first.
type DLQPurgeAnswer struct {
	Action string    `json:"action"` // purge
	By     string    `json:"by"`
	ID     string    `json:"id"`
	Entry  *DLQEntry `json:"entry,omitempty"`
}

// DLQBatchReport is what a batch replay did.
type DLQBatchReport struct {
	Domain     string         `json:"domain,omitempty"`
	Automatic  bool           `json:"automatic"`
	Replayed   int            `json:"replayed"`
	Outcomes   map[string]int `json:"outcomes"` // replays per outcome (resolved, failed, ...)
	Busy       []string       `json:"busy,omitempty"`
	Stopped    string         `json:"stopped,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
}

// DLQBatchAnswer is the dlq/replay/ answer.
type DLQBatchAnswer struct {
	Action string         `json:"action"` // replay_batch
	By     string         `json:"by"`
	Limit  int            `json:"limit"`
	Report DLQBatchReport `json:"report"`
	Note   string         `json:"note,omitempty"` // the batch stopped at its time limit
}

// DLQPurgeBatchAnswer is the dlq/purge/ answer.
type DLQPurgeBatchAnswer struct {
	Action      string   `json:"action"` // purge_batch
	By          string   `json:"by"`
	Purged      int      `json:"purged"`
	IDs         []string `json:"ids"`
	AlreadyGone int      `json:"already_gone"`
	More        bool     `json:"more"` // more entries match: run it again
}

// Decision is one would-have decision of dry-run.
type Decision struct {
	At       time.Time `json:"at"`
	Service  string    `json:"service"`
	Method   string    `json:"method"`
	Policy   string    `json:"policy"`
	Decision string    `json:"decision"`
	Reason   string    `json:"reason"`
}

// WouldHaveAnswer is the would-have/ answer: the newest decisions first.
type WouldHaveAnswer struct {
	DryRun  bool       `json:"dry_run"`
	Total   int        `json:"total"`
	Entries []Decision `json:"entries"`
}

// ReportDay is one day of the report/ answer. Report is the day's report in
// the report's own document type (package daily, standard library only);
// Missing says why there is none.
type ReportDay struct {
	Date    string        `json:"date"`
	Report  *daily.Report `json:"report,omitempty"`
	Text    string        `json:"text"` // the rendering for a terminal
	Missing string        `json:"missing,omitempty"`
}

// ReportAnswer is the report/ answer, newest day first.
type ReportAnswer struct {
	Today string      `json:"today"`
	Days  []ReportDay `json:"days"`
}
