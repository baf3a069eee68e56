package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Outcomes a record carries.
const (
	// OutcomeOK: the action was carried out.
	OutcomeOK = "ok"
	// OutcomeRefused: a gate refused the attempt; Detail names the gate.
	OutcomeRefused = "refused"
	// OutcomeFailed: the action was allowed but did not succeed; Detail says why.
	OutcomeFailed = "failed"
)

// ActionAcknowledge is the action of the record an admin writes to
// acknowledge a record that carries ReviewRequired; its Acknowledges field
// names the reviewed record and its Reason holds the note.
const ActionAcknowledge = "audit.acknowledge"

// Field limits: a record stays small whatever a caller hands in, and the
// canonical encoding never meets a string PostgreSQL's text type refuses.
const (
	maxShort = 256  // names, roles, actions, targets, ids
	maxLong  = 2048 // reason and detail
)

// Actor is who did something: the admin key's name and role for an HTTP
// request, the operator named by the CLI (BALDUR_OPERATOR), and the process
// and node that carried the action out. An automated action has no key: its
// Operator is "runtime".
type Actor struct {
	Key      string `json:"key,omitempty"`
	Role     string `json:"role,omitempty"`
	Operator string `json:"operator,omitempty"`
	Process  string `json:"process,omitempty"`
	Node     string `json:"node,omitempty"`
}

// Record is one entry of the audit trail: who did what to which target,
// why, when, with what outcome. The chain fields (Chain, Seq, Prev, Hash)
// are set when the record is sealed into the chain; the rest is what the
// caller of Trail.Record handed in.
type Record struct {
	// Chain identifies the chain the record belongs to: one per fleet (every
	// process sharing a store appends to the same chain).
	Chain string `json:"chain,omitempty"`
	// Seq numbers the records of a chain from 1, without gaps.
	Seq uint64 `json:"seq,omitempty"`
	// Time is when the action happened, UTC, to the microsecond (what
	// PostgreSQL keeps).
	Time time.Time `json:"time"`
	Actor
	// Action is what was done, e.g. "control.disable" or "breaker.state_changed".
	Action string `json:"action"`
	// Target is what it was done to: a breaker, a DLQ domain or entry, "control".
	Target string `json:"target,omitempty"`
	// Reason is why, as the operator typed it.
	Reason string `json:"reason,omitempty"`
	// Outcome is OutcomeOK, OutcomeRefused or OutcomeFailed.
	Outcome string `json:"outcome"`
	// Detail is the refusing gate or the error, when there is one.
	Detail string `json:"detail,omitempty"`
	// RequestID ties the record to the HTTP request (X-Request-Id) that caused it.
	RequestID string `json:"request_id,omitempty"`
	// ReviewRequired marks records of break-glass actions, forced releases
	// and gate bypasses, which an admin acknowledges with a note.
	ReviewRequired bool `json:"review_required,omitempty"`
	// Acknowledges is the Seq of the record an ActionAcknowledge record
	// acknowledges; 0 otherwise.
	Acknowledges uint64 `json:"acknowledges,omitempty"`
	// Prev is the hash of the record before this one (zeros for the first).
	Prev Hash `json:"prev"`
	// Hash is SHA-256 over the record's canonical encoding, which includes Prev.
	Hash Hash `json:"hash"`
}

// Hash is a SHA-256 digest; it reads and writes as lower-case hex.
type Hash [sha256.Size]byte

// String returns the hash in hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first 12 hex digits, for people.
func (h Hash) Short() string { return h.String()[:12] }

// MarshalText writes the hash in hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a hash written in hex.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("hash %q: want %d hex digits", b, 2*len(h))
	}
	_, err := hex.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("hash %q: %w", b, err)
	}
	return nil
}

// canonicalVersion is the first byte of every canonical encoding: a change
// of layout gets a new version, so old records keep verifying.
const canonicalVersion = 1

// Canonical returns the bytes the record's hash covers: every field but
// Hash, in a fixed order, strings length-prefixed (so no two records share
// an encoding), integers big-endian, the time as Unix microseconds.
func (r *Record) Canonical() []byte {
	return r.appendCanonical(make([]byte, 0, 256))
}

func (r *Record) appendCanonical(b []byte) []byte {
	b = append(b, canonicalVersion)
	b = appendString(b, r.Chain)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMicro()))
	for _, s := range [...]string{r.Key, r.Role, r.Operator, r.Process, r.Node,
		r.Action, r.Target, r.Reason, r.Outcome, r.Detail, r.RequestID} {
		b = appendString(b, s)
	}
	if r.ReviewRequired {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint64(b, r.Acknowledges)
	return append(b, r.Prev[:]...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ComputeHash returns SHA-256 over the record's canonical encoding.
func (r *Record) ComputeHash() Hash {
	var buf [512]byte
	return sha256.Sum256(r.appendCanonical(buf[:0]))
}

// hashInto is ComputeHash reusing scratch (for Verify's walk).
func (r *Record) hashInto(scratch []byte) (Hash, []byte) {
	scratch = r.appendCanonical(scratch[:0])
	return sha256.Sum256(scratch), scratch
}

// normalise makes the caller's fields fit the canonical encoding and every
// backend: valid UTF-8 without NUL (PostgreSQL text refuses it), bounded
// lengths, time in UTC to the microsecond.
func (r *Record) normalise() {
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	for _, f := range [...]struct {
		s   *string
		max int
	}{
		{&r.Key, maxShort}, {&r.Role, maxShort}, {&r.Operator, maxShort}, {&r.Process, maxShort},
		{&r.Node, maxShort}, {&r.Action, maxShort}, {&r.Target, maxShort}, {&r.Reason, maxLong},
		{&r.Outcome, maxShort}, {&r.Detail, maxLong}, {&r.RequestID, maxShort},
	} {
		*f.s = clean(*f.s, f.max)
	}
}

func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// errNoAction is returned by Trail.Record for a record without an action.
var errNoAction = errors.New("audit record without an action")
