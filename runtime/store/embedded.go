package store

import (
	"fmt"
	"log/slog"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store/internal/wal"
)

// DefaultStateDir is where the runtime keeps the embedded store when
// BALDUR_STATE_DIR is unset.
const DefaultStateDir = ".baldur"

// EmbeddedOptions configure OpenEmbedded. The zero value is the production setting.
type EmbeddedOptions struct {
	// Clock drives expiry and stream IDs. Default: the system clock.
	Clock clock.Clock
	// Logger receives store.wal_truncated and snapshot events. Default slog.Default().
	Logger *slog.Logger
	// SegmentSize is how long a log segment grows before the state is
	// snapshotted and older segments are deleted. Default 64 MiB.
	SegmentSize int64
	// SyncEach gives every write its own fsync instead of sharing one among
	// concurrent writers (group commit). Only useful to measure what group
	// commit buys; it is several times slower under concurrency.
	SyncEach bool
}

// Embedded is the crash-safe single-process store: the state lives in
// memory, every write is appended to a write-ahead log in the state directory
// and acknowledged only once fsynced, and the log is replayed at start.
// Its change feed reaches subscribers in the same process only.
//
// A write is visible to other callers as soon as it is applied, about one
// fsync before it is acknowledged; deciding claims in memory this way is
// what lets concurrent writers share fsyncs. If
// an fsync fails the store stops accepting writes (ErrUnavailable), since
// the kernel may already have dropped the unwritten pages.
type Embedded struct {
	*engine
	dir string
}

var _ Store = (*Embedded)(nil)

// OpenEmbedded opens (creating if needed) the store in dir, replaying its
// snapshot and log. A torn or corrupt log tail is cut off with a
// store.wal_truncated warning and never stops the start; a directory that
// cannot be written is an error naming it. Only one process may open a
// directory at a time.
func OpenEmbedded(dir string, opts EmbeddedOptions) (*Embedded, error) {
	if dir == "" {
		dir = DefaultStateDir
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	e := newEngine(opts.Clock, "embedded store")
	l, err := wal.Open(dir, wal.Options{
		SegmentSize: opts.SegmentSize,
		SyncEach:    opts.SyncEach,
		Logger:      logger,
		Apply:       e.replay,
	})
	if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	e.log = l
	return &Embedded{engine: e, dir: dir}, nil
}

// Dir returns the state directory.
func (s *Embedded) Dir() string { return s.dir }
