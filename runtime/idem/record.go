package idem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Key layout. Every claim is one string key:
//
//	<prefix>{<domain>}:<operation>:<key>        e.g. idem:{payments}:Charge:order-42
//
// to which the Redis store adds its own prefix, "baldur:" by default, so that
// redis-cli shows baldur:idem:{payments}:Charge:order-42.
// The domain is the Redis Cluster hash tag, so all the keys of a service live
// in one slot and an operation that ever needs several of them (reconciling,
// listing one domain with Keys) stays single-slot. Domain and operation may
// not contain ':', '{' or '}', which keeps the layout unambiguous whatever
// the key holds (ParseKey splits it back).
const (
	// DefaultPrefix starts every idempotency key unless Options.Prefix says otherwise.
	DefaultPrefix = "idem:"
	// MaxKeyLen is the longest key accepted, in bytes (the user's key, before
	// namespacing): long enough for a UUID or a composite business key,
	// short enough that a hostile caller cannot bloat the store's index.
	MaxKeyLen = 255
	// MaxNameLen bounds a domain or an operation label, in bytes.
	MaxNameLen = 128
)

// checkRequest validates what Claim namespaces; its error path is the only
// one that allocates.
func checkRequest(r *Request) error {
	if reason := checkName("domain", r.Domain); reason != "" {
		return &KeyError{Domain: r.Domain, Operation: r.Operation, Reason: reason}
	}
	if reason := checkName("operation", r.Operation); reason != "" {
		return &KeyError{Domain: r.Domain, Operation: r.Operation, Reason: reason}
	}
	switch {
	case r.Key == "":
		return &KeyError{Domain: r.Domain, Operation: r.Operation, Reason: "key is empty"}
	case len(r.Key) > MaxKeyLen:
		return &KeyError{Domain: r.Domain, Operation: r.Operation,
			Reason: fmt.Sprintf("key is %d bytes, over the limit of %d", len(r.Key), MaxKeyLen)}
	case !utf8.ValidString(r.Key):
		return &KeyError{Domain: r.Domain, Operation: r.Operation, Reason: "key is not valid UTF-8"}
	}
	return nil
}

func checkName(what, s string) string {
	if s == "" {
		return what + " is empty"
	}
	if len(s) > MaxNameLen {
		return fmt.Sprintf("%s is %d bytes, over the limit of %d", what, len(s), MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == ':' || c == '{' || c == '}' || c >= 0x7f {
			return fmt.Sprintf("%s %q: only printable ASCII without spaces, ':', '{' or '}'", what, s)
		}
	}
	return ""
}

// storeKey builds the namespaced key: the one allocation of a claim.
func storeKey(prefix, domain, operation, key string) string {
	return prefix + "{" + domain + "}:" + operation + ":" + key
}

// ParseKey splits a store key built with prefix back into its domain,
// operation and key, for admin views and reconciliation reports.
func ParseKey(prefix, storeKey string) (domain, operation, key string, ok bool) {
	rest, ok := strings.CutPrefix(storeKey, prefix+"{")
	if !ok {
		return "", "", "", false
	}
	domain, rest, ok = strings.Cut(rest, "}:")
	if !ok {
		return "", "", "", false
	}
	operation, key, ok = strings.Cut(rest, ":")
	if !ok || domain == "" || operation == "" || key == "" {
		return "", "", "", false
	}
	return domain, operation, key, true
}

// Value layout (version 1), all integers big-endian:
//
//	running:   0xB1 'R' token[16] fingerprint[8] firstSeen[8]
//	completed: 0xB1 'C' token[16] fingerprint[8] firstSeen[8] completedAt[8] hasResults[1] results...
//
// Times are Unix nanoseconds from the claiming process's clock. Binary rather
// than JSON because the running value is rebuilt on every Complete to
// compare-and-set against, and this costs no allocation.
const (
	recordMagic   = 0xB1
	tagRunning    = 'R'
	tagCompleted  = 'C'
	tokenLen      = 16
	runningLen    = 2 + tokenLen + 8 + 8
	completedHead = runningLen + 8 + 1
)

// Record is a decoded claim, for admin views, reconciliation and tests.
type Record struct {
	State       State
	Token       [tokenLen]byte // random per claim: only its owner completes or releases it
	Fingerprint uint64
	FirstSeen   time.Time
	CompletedAt time.Time // StateCompleted only
	// HasResults reports whether Results were stored (replay mode).
	HasResults bool
	Results    []byte
}

var errBadRecord = errors.New("not an idempotency record")

// DecodeRecord parses a stored value. Anything that is not a well-formed
// version 1 record is an error, never a panic; the gate treats such a value
// as a claim of unknown state.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) < runningLen || b[0] != recordMagic {
		return Record{}, fmt.Errorf("%d bytes: %w", len(b), errBadRecord)
	}
	var r Record
	copy(r.Token[:], b[2:2+tokenLen])
	r.Fingerprint = binary.BigEndian.Uint64(b[2+tokenLen:])
	r.FirstSeen = time.Unix(0, int64(binary.BigEndian.Uint64(b[2+tokenLen+8:])))
	switch b[1] {
	case tagRunning:
		if len(b) != runningLen {
			return Record{}, fmt.Errorf("running record of %d bytes: %w", len(b), errBadRecord)
		}
		r.State = StateRunning
	case tagCompleted:
		if len(b) < completedHead || b[completedHead-1] > 1 || (b[completedHead-1] == 0 && len(b) != completedHead) {
			return Record{}, fmt.Errorf("completed record of %d bytes: %w", len(b), errBadRecord)
		}
		r.State = StateCompleted
		r.CompletedAt = time.Unix(0, int64(binary.BigEndian.Uint64(b[runningLen:])))
		r.HasResults = b[completedHead-1] == 1
		if r.HasResults {
			r.Results = b[completedHead:len(b):len(b)]
		}
	default:
		return Record{}, fmt.Errorf("state tag %#x: %w", b[1], errBadRecord)
	}
	return r, nil
}

// appendRunning appends the running record of c.
func (c *Claim) appendRunning(dst []byte) []byte {
	dst = append(dst, recordMagic, tagRunning)
	dst = append(dst, c.token[:]...)
	dst = binary.BigEndian.AppendUint64(dst, c.fingerprint)
	return binary.BigEndian.AppendUint64(dst, uint64(c.firstSeen))
}

// appendCompleted appends the completed record of c; results == nil stores none.
func (c *Claim) appendCompleted(dst []byte, completedAt int64, results []byte, keep bool) []byte {
	dst = append(dst, recordMagic, tagCompleted)
	dst = append(dst, c.token[:]...)
	dst = binary.BigEndian.AppendUint64(dst, c.fingerprint)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.firstSeen))
	dst = binary.BigEndian.AppendUint64(dst, uint64(completedAt))
	if !keep {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	return append(dst, results...)
}
