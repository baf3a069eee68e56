package dlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// State is where an entry is in its life: parked (pending), being replayed
// under a lease (replaying), waiting for an operator (needs_review) or done
// (resolved, kept for the retention period).
type State string

// The states of an entry.
const (
	StatePending     State = "pending"
	StateReplaying   State = "replaying"
	StateNeedsReview State = "needs_review"
	StateResolved    State = "resolved"
)

// valid reports whether s is one of the four states.
func (s State) valid() bool {
	switch s {
	case StatePending, StateReplaying, StateNeedsReview, StateResolved:
		return true
	}
	return false
}

// Capture is what a generated wrapper hands to Park after the last attempt of
// a dlq method failed.
type Capture struct {
	Domain string // the service (name=): breaker, metrics and DLQ domain
	// Method is the Go method whose call is parked; entries show it as
	// their operation. (Not the idempotency operation= label.)
	Method string
	// Signature identifies the method's parameter types; an entry is replayed
	// only by a replayer registered with the same signature.
	Signature string
	// Args is the generated argument record encoded with encoding/json. It
	// must be valid JSON; nil is stored as null.
	Args json.RawMessage
	// Err is the last attempt's error; it must not be nil.
	Err error
	// FailureType is a classifier's label for Err; empty means
	// Options.Classify, then Err's dynamic type name (past fmt wrappers).
	FailureType string
	Attempts    int // attempts made, retries included
	// FirstFailure is when the first attempt failed; zero means now.
	FirstFailure time.Time
}

// Entry is one parked call as the admin API shows it.
type Entry struct {
	ID           string          `json:"id"`
	Domain       string          `json:"domain"`
	Operation    string          `json:"operation"`
	Signature    string          `json:"signature,omitempty"`
	Args         json.RawMessage `json:"args"`
	Error        string          `json:"error"`        // the captured error text
	FailureType  string          `json:"failure_type"` // type name or classifier label
	Attempts     int             `json:"attempts"`     // attempts of the original call
	FirstFailure time.Time       `json:"first_failure"`
	LastFailure  time.Time       `json:"last_failure"` // capture, or the last failed replay
	ReplayCount  int             `json:"replay_count"` // replays started since capture or redrive
	State        State           `json:"state"`
	Reason       string          `json:"reason"`               // why the entry reached its state
	LastError    string          `json:"last_error,omitempty"` // the last replay's error
	LeaseUntil   time.Time       `json:"lease_until,omitzero"` // replaying only
	Owner        string          `json:"owner,omitempty"`      // runner holding the lease
	UpdatedAt    time.Time       `json:"updated_at"`
}

// record is the stored form of an entry: short field names, times as unix
// nanoseconds. V grows with every change so that index entries ("id v") can
// tell a current position from a stale one.
type record struct {
	ID       string          `json:"id"`
	Domain   string          `json:"d"`
	Op       string          `json:"o"`
	Sig      string          `json:"g,omitempty"`
	Args     json.RawMessage `json:"a"`
	Err      string          `json:"e"`
	Type     string          `json:"t"`
	Attempts int             `json:"n,omitempty"`
	First    int64           `json:"f"`
	Last     int64           `json:"l"`
	Replays  int             `json:"r,omitempty"`
	State    State           `json:"s"`
	Reason   string          `json:"w,omitempty"`
	LastErr  string          `json:"x,omitempty"`
	Lease    int64           `json:"lu,omitempty"`
	Owner    string          `json:"ow,omitempty"`
	Updated  int64           `json:"u"`
	V        uint64          `json:"v"`
}

func (r *record) encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode entry %s: %w", r.ID, err)
	}
	return b, nil
}

func decodeRecord(id string, b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode entry %s: %w", id, err)
	}
	if r.ID != id || !r.State.valid() {
		return nil, fmt.Errorf("decode entry %s: record for %q in state %q", id, r.ID, r.State)
	}
	return &r, nil
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (r *record) entry() Entry {
	return Entry{
		ID: r.ID, Domain: r.Domain, Operation: r.Op, Signature: r.Sig, Args: r.Args,
		Error: r.Err, FailureType: r.Type, Attempts: r.Attempts,
		FirstFailure: unixTime(r.First), LastFailure: unixTime(r.Last),
		ReplayCount: r.Replays, State: r.State, Reason: r.Reason, LastError: r.LastErr,
		LeaseUntil: unixTime(r.Lease), Owner: r.Owner, UpdatedAt: unixTime(r.Updated),
	}
}

// next returns a copy of r moved to state for reason at now, with a new version.
func (r *record) next(state State, reason string, now time.Time) *record {
	c := *r
	c.State, c.Reason, c.Updated, c.V = state, reason, now.UnixNano(), r.V+1
	if state != StateReplaying {
		c.Lease, c.Owner = 0, ""
	}
	return &c
}

// newID returns a fresh entry id: 12 hex digits of milliseconds then 16 random
// hex digits, so that ids sort by capture time and never collide in practice.
func newID(now time.Time) string {
	var buf [28]byte
	ms := uint64(max(now.UnixMilli(), 0)) & (1<<48 - 1)
	const hex = "0123456789abcdef"
	for i := 11; i >= 0; i-- {
		buf[i] = hex[ms&15]
		ms >>= 4
	}
	r := rand.Uint64()
	for i := 27; i >= 12; i-- {
		buf[i] = hex[r&15]
		r >>= 4
	}
	return string(buf[:])
}

// failureType names err for grouping: its dynamic type, looking through the
// wrappers fmt.Errorf builds (which say nothing about the failure).
func failureType(err error) string {
	for {
		t := reflect.TypeOf(err)
		name := t.String()
		if !strings.HasPrefix(name, "*fmt.wrapError") {
			return name
		}
		inner := errors.Unwrap(err)
		if inner == nil {
			return name
		}
		err = inner
	}
}

// indexValue is what the state indexes (replaying, needs_review, resolved)
// hold: the id and the version that put it there.
func indexValue(id string, v uint64) []byte {
	return strconv.AppendUint(append([]byte(id), ' '), v, 10)
}

func parseIndexValue(b []byte) (string, uint64, bool) {
	id, vs, ok := strings.Cut(string(b), " ")
	if !ok {
		return "", 0, false
	}
	v, err := strconv.ParseUint(vs, 10, 64)
	return id, v, err == nil
}
