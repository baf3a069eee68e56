package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors callers branch on with errors.Is. Wording, one convention
// for the package: the operation first, then the key or argument, then the
// cause ("get \"k\": wrong kind of value for key"); an error of the Redis
// backend starts with "redis" so that an operator tells a Redis failure from
// a local one ("redis atomic: …", "open redis redis://…: …", the URL redacted).
// The package's own name is left to its caller.
var (
	// ErrUnavailable means the backend could not be reached or cannot durably
	// write (network failure, timeout, failed fsync). Callers decide whether to
	// fail closed or open on it; Failover turns it into DEGRADED mode instead.
	ErrUnavailable = errors.New("store unavailable")
	// ErrClosed is returned after Close; it also matches ErrUnavailable so that
	// code that fails open on an unreachable store does the same during shutdown.
	ErrClosed = errors.New("store closed")
	// ErrNotFound is returned by Get and TTL for a missing or expired key.
	ErrNotFound = errors.New("key not found")
	// ErrWrongType is returned when an operation meets a key holding another
	// kind of value (a hash where a string was expected, a non-integer for Incr).
	ErrWrongType = errors.New("wrong kind of value for key")
	// ErrInvalid is returned for arguments no backend can accept (empty key,
	// negative TTL, empty hash, a value over MaxValueSize).
	ErrInvalid = errors.New("invalid store argument")
	// ErrCrossSlot is returned by the Redis store when the keys of one atomic
	// operation do not share a Redis Cluster hash slot; give them a common hash
	// tag such as "dlq:{payments}:entries" and "dlq:{payments}:count".
	ErrCrossSlot = errors.New("keys of one atomic operation must share a hash tag")
)

// errClosed is what every method returns after Close.
var errClosed = fmt.Errorf("%w (%w)", ErrClosed, ErrUnavailable)

// KeepTTL, passed as the ttl of Set, CompareAndSet or SetOp, keeps the expiry
// the key already has (like Redis SET KEEPTTL). Any other negative TTL is invalid.
const KeepTTL time.Duration = -1

// MaxValueSize bounds one value or payload so that a record always fits the
// write-ahead log's frame; it is far above anything a DLQ entry should hold.
const MaxValueSize = 16 << 20

// Store is the shared state the runtime packages build on: keys with TTLs and
// claims, counters, hashes, ordered durable logs (streams) and a change feed.
//
// A key holds one kind of value: a string (Set, SetNX, Incr), a hash (HSet) or
// a stream (Append). Using a key with an operation of another kind fails with
// ErrWrongType, as in Redis. Stored byte slices are copied; callers may reuse
// theirs. Every method is safe for concurrent use.
//
// TTLs: ttl > 0 expires the key after ttl, ttl == 0 means no expiry and
// KeepTTL keeps the current one. Failures to reach the backend wrap
// ErrUnavailable.
type Store interface {
	// Get returns the string value of key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetMany returns the string values of keys, in order, in one round trip
	// (one per node on Redis Cluster). A key that is missing, expired or of
	// another kind gives nil; an empty value is a non-nil empty slice.
	GetMany(ctx context.Context, keys ...string) ([][]byte, error)
	// Set stores value under key, replacing whatever the key held.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNX stores value only if key is absent (an expired key is absent) and
	// reports whether it did: a claim with an expiry, in one round trip.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// CompareAndSet replaces the value of key with newValue only if it
	// currently equals old, and reports whether it did. A missing key or a key
	// of another kind does not match.
	CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error)
	// Delete removes keys of any kind and returns how many existed. Deleting
	// several keys is not atomic across them; use Atomic for that.
	Delete(ctx context.Context, keys ...string) (int64, error)
	// Incr adds delta to the integer in key and returns the new value. A
	// missing key starts at 0 and then gets ttl (if > 0); an existing key keeps
	// its expiry, so a fixed window counter is Incr(key, 1, window).
	Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
	// TTL returns the time left before key expires, 0 if it never expires, or
	// ErrNotFound.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Keys returns every live key starting with prefix, sorted. It walks the
	// whole key space (SCAN on Redis): for admin views and reconciliation, not
	// for the hot path.
	Keys(ctx context.Context, prefix string) ([]string, error)

	// HSet sets fields of the hash at key, creating it if needed.
	HSet(ctx context.Context, key string, fields map[string]string) error
	// HGetAll returns all fields of the hash at key; empty when it is missing.
	HGetAll(ctx context.Context, key string) (map[string]string, error)

	// Append adds value at the end of stream and returns its ID. IDs grow
	// strictly within a stream and are opaque across backends.
	Append(ctx context.Context, stream string, value []byte) (ID, error)
	// Range returns up to count entries of stream with ID >= from, oldest
	// first; count <= 0 means all. Page with from = last.ID.Next().
	Range(ctx context.Context, stream string, from ID, count int) ([]Entry, error)
	// Remove deletes entries by ID and returns how many existed.
	Remove(ctx context.Context, stream string, ids ...ID) (int64, error)
	// Len returns the number of entries in stream (0 when it is missing).
	Len(ctx context.Context, stream string) (int64, error)

	// Atomic applies txn.Ops only if every txn.Conds holds, all at once: no
	// other writer sees a partial result and a crash never leaves one behind.
	// On Redis Cluster every key of txn must share a hash slot (ErrCrossSlot).
	Atomic(ctx context.Context, txn Txn) (TxnResult, error)

	// Publish sends payload to the subscribers of channel. The change feed is
	// a hint, delivered at most once: subscribers re-read the state they care
	// about instead of trusting that they saw every message.
	Publish(ctx context.Context, channel string, payload []byte) error
	// Subscribe returns a subscription to channels. Its channel is closed by
	// Subscription.Close or by closing the store.
	Subscribe(ctx context.Context, channels ...string) (Subscription, error)

	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Close releases the store and stops its goroutines; later calls fail
	// with ErrClosed. Close is idempotent.
	Close() error
}

// ID identifies a stream entry: a millisecond timestamp and a sequence number
// within it, ordered like (and printed like) Redis stream IDs, "1700000000000-3".
// The zero ID sorts before every entry.
type ID struct {
	Ms  uint64
	Seq uint64
}

// String formats the ID as "ms-seq".
func (id ID) String() string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Compare returns -1, 0 or +1 as id sorts before, equal to or after other.
func (id ID) Compare(other ID) int {
	switch {
	case id.Ms < other.Ms:
		return -1
	case id.Ms > other.Ms:
		return 1
	case id.Seq < other.Seq:
		return -1
	case id.Seq > other.Seq:
		return 1
	}
	return 0
}

// Less reports whether id sorts before other.
func (id ID) Less(other ID) bool { return id.Compare(other) < 0 }

// Next returns the smallest ID after id, for paging with Range.
func (id ID) Next() ID {
	if id.Seq == ^uint64(0) {
		return ID{Ms: id.Ms + 1}
	}
	return ID{Ms: id.Ms, Seq: id.Seq + 1}
}

// MarshalText formats the ID as "ms-seq" (so IDs are strings in JSON).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses "ms-seq".
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses "ms-seq" or a bare "ms" (sequence 0).
func ParseID(s string) (ID, error) {
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return ID{}, fmt.Errorf("stream id %q: %w", s, ErrInvalid)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return ID{}, fmt.Errorf("stream id %q: %w", s, ErrInvalid)
		}
	}
	return ID{Ms: ms, Seq: seq}, nil
}

// Entry is one stream entry.
type Entry struct {
	ID    ID
	Value []byte
}

// Message is one change-feed message.
type Message struct {
	Channel string
	Payload []byte
}

// Subscription delivers change-feed messages until closed. A subscriber that
// falls behind loses messages rather than slowing publishers down.
type Subscription interface {
	// C returns the channel messages arrive on; it is closed when the
	// subscription or its store is closed.
	C() <-chan Message
	// Close ends the subscription; it is idempotent.
	Close() error
}

func validKeys(keys []string) error {
	for _, k := range keys {
		if err := validKey(k); err != nil {
			return err
		}
	}
	return nil
}

func validKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrInvalid)
	}
	return nil
}

func validTTL(ttl time.Duration, keepAllowed bool) error {
	if ttl < 0 && !(keepAllowed && ttl == KeepTTL) {
		return fmt.Errorf("ttl %v: %w", ttl, ErrInvalid)
	}
	return nil
}

func validValue(v []byte) error {
	if len(v) > MaxValueSize {
		return fmt.Errorf("value of %d bytes is over %d: %w", len(v), MaxValueSize, ErrInvalid)
	}
	return nil
}
