// Package wal is the embedded store's write-ahead log: checksummed records in
// numbered segment files, written by one goroutine that shares each fsync
// among all concurrent writers (group commit), and snapshots that retire old
// segments.
//
// The log knows nothing about what records mean. Its owner applies a change
// in memory, hands the encoded record to Append while still holding its own
// lock (so log order is apply order) and acknowledges the change only after
// Ticket.Wait returns nil. At Open the owner's Apply callback sees the
// snapshot's records and then every logged record, in order.
package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// ErrClosed is the error of an Append after Close.
var ErrClosed = errors.New("write-ahead log closed")

// Options configure Open. The zero value of every field is usable.
type Options struct {
	// SegmentSize is the segment length past which Append reports that a
	// compaction is due. Default 64 MiB.
	SegmentSize int64
	// SyncEach fsyncs every record on its own instead of sharing an fsync
	// among concurrent writers: slower, kept for comparison in benchmarks.
	SyncEach bool
	// Logger receives store.wal_truncated and snapshot events. Default slog.Default().
	Logger *slog.Logger
	// Apply receives, at Open, the records of the latest snapshot and then
	// those of the log, in order. An error marks the record as corrupt: the log
	// is truncated there like after a checksum failure.
	Apply func(rec []byte) error
}

// DefaultSegmentSize is the default Options.SegmentSize.
const DefaultSegmentSize = 64 << 20

// SnapshotFunc writes a full copy of the owner's state as records through
// emit. It runs on a background goroutine, so it must work from a copy taken
// when Compact was called.
type SnapshotFunc func(emit func(rec []byte) error) error

// Ticket is the durability promise for one Append.
type Ticket struct {
	done chan struct{}
	err  error
}

// Wait blocks until the record is on disk (fsynced) and returns the write error, if any.
func (t *Ticket) Wait() error {
	<-t.done
	return t.err
}

func doneTicket(err error) *Ticket {
	t := &Ticket{done: make(chan struct{}), err: err}
	close(t.done)
	return t
}

// batch is the records sharing one write and one fsync.
type batch struct {
	buf    []byte
	ticket *Ticket
	// snap, when set, rotates the log after this batch and snapshots the
	// state as of its end.
	snap SnapshotFunc
}

// Log is an open write-ahead log directory.
type Log struct {
	dir    string
	opts   Options
	logger *slog.Logger
	lock   *os.File

	mu       sync.Mutex
	queue    []*batch // batches waiting for the writer, oldest first
	open     *batch   // the batch collecting records, also the last of queue
	segBytes int64    // bytes in the current segment, queued ones included
	busy     bool     // a rotation or snapshot is under way
	closing  bool
	failed   error // sticky: after a failed write nothing more is acknowledged

	wake       chan struct{}
	writerDone chan struct{}
	snapWG     sync.WaitGroup

	syncs, records int64 // for Stats, guarded by mu

	// Owned by the writer goroutine (and Open/Close around it).
	f        *os.File
	segIndex uint64
}

// Open locks dir, replays its snapshot and segments through opts.Apply,
// truncating a torn or corrupt tail with a store.wal_truncated warning, and
// starts the writer goroutine.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Apply == nil {
		opts.Apply = func([]byte) error { return nil }
	}
	l := &Log{dir: dir, opts: opts, logger: opts.Logger, wake: make(chan struct{}, 1), writerDone: make(chan struct{})}
	if err := l.lockDir(); err != nil {
		return nil, err
	}
	if err := l.recover(); err != nil {
		l.unlockDir()
		return nil, err
	}
	go l.writer()
	return l, nil
}

// dirError names the directory, and says plainly when the cause is permissions.
func dirError(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("state directory %q is not writable: %w", dir, err)
	}
	return fmt.Errorf("state directory %q: %w", dir, err)
}

func (l *Log) lockDir() error {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return dirError(l.dir, err)
	}
	// Probe with a fresh file: opening an existing LOCK only needs write
	// permission on that file, while segments and snapshots need it on the directory.
	probe := filepath.Join(l.dir, "probe.tmp")
	pf, err := os.OpenFile(probe, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return dirError(l.dir, err)
	}
	_ = pf.Close()
	if err := os.Remove(probe); err != nil {
		return dirError(l.dir, err)
	}
	lf, err := os.OpenFile(filepath.Join(l.dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return dirError(l.dir, err)
	}
	if err := lockFile(lf); err != nil {
		_ = lf.Close()
		return dirError(l.dir, err)
	}
	l.lock = lf
	return nil
}

func (l *Log) unlockDir() {
	if l.lock != nil {
		_ = unlockFile(l.lock)
		_ = l.lock.Close()
		l.lock = nil
	}
}

// Append queues rec for the next group write and returns its ticket, plus
// whether the current segment has grown past SegmentSize so that the owner
// should call Compact (with a state copy taken under the same lock).
func (l *Log) Append(rec []byte) (*Ticket, bool) {
	if len(rec) == 0 || len(rec) > MaxPayload {
		return doneTicket(fmt.Errorf("record of %d bytes: want 1..%d", len(rec), MaxPayload)), false
	}
	l.mu.Lock()
	switch {
	case l.failed != nil:
		l.mu.Unlock()
		return doneTicket(l.failed), false
	case l.closing:
		l.mu.Unlock()
		return doneTicket(ErrClosed), false
	}
	b := l.open
	if b == nil || l.opts.SyncEach {
		b = &batch{ticket: &Ticket{done: make(chan struct{})}}
		l.queue = append(l.queue, b)
		l.open = b
	}
	b.buf = AppendFrame(b.buf, rec)
	l.records++
	l.segBytes += int64(FrameSize(len(rec)))
	due := !l.busy && l.segBytes >= l.opts.SegmentSize
	l.mu.Unlock()
	l.signal()
	return b.ticket, due
}

// Compact ends the current segment after the records appended so far and
// writes a snapshot with snap in the background; once the snapshot is durable
// the segments it covers are deleted. It reports false (and does nothing) when
// a compaction is already under way or the log is closing.
func (l *Log) Compact(snap SnapshotFunc) bool {
	l.mu.Lock()
	if l.busy || l.closing || l.failed != nil {
		l.mu.Unlock()
		return false
	}
	b := l.open
	if b == nil {
		b = &batch{ticket: &Ticket{done: make(chan struct{})}}
		l.queue = append(l.queue, b)
	}
	b.snap = snap
	l.open = nil // records appended from now on belong to the next segment
	l.busy = true
	l.segBytes = 0
	l.mu.Unlock()
	l.signal()
	return true
}

func (l *Log) signal() {
	select {
	case l.wake <- struct{}{}:
	default: // a wake-up is already pending; the writer will see our batch
	}
}

// writer is the only goroutine writing segments: each round it takes every
// queued batch, writes them, and acknowledges them all with one fsync.
func (l *Log) writer() {
	defer close(l.writerDone)
	for {
		<-l.wake
		l.mu.Lock()
		batches := l.queue
		l.queue, l.open = nil, nil
		closing := l.closing
		l.mu.Unlock()

		var unsynced []*batch
		for _, b := range batches {
			if err := l.failure(); err != nil {
				b.ticket.err = err
				close(b.ticket.done)
				continue
			}
			if _, err := l.f.Write(b.buf); err != nil {
				l.fail(fmt.Errorf("write %s: %w", l.f.Name(), err))
			}
			unsynced = append(unsynced, b)
			if b.snap != nil || l.opts.SyncEach {
				l.syncAndAck(unsynced)
				unsynced = nil
			}
			if b.snap != nil {
				l.rotate(b.snap)
			}
		}
		l.syncAndAck(unsynced)
		if closing {
			l.mu.Lock()
			empty := len(l.queue) == 0
			l.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

func (l *Log) syncAndAck(bs []*batch) {
	if len(bs) == 0 {
		return
	}
	if l.failure() == nil {
		l.mu.Lock()
		l.syncs++
		l.mu.Unlock()
		if err := l.f.Sync(); err != nil {
			// After a failed fsync the page cache may have dropped the data
			// (Linux clears the error once reported), so nothing written since
			// the last good fsync can ever be acknowledged.
			l.fail(fmt.Errorf("fsync %s: %w", l.f.Name(), err))
		}
	}
	err := l.failure()
	for _, b := range bs {
		b.ticket.err = err
		close(b.ticket.done)
	}
}

// Stats counts what the log did since Open.
type Stats struct {
	Records int64 // records appended
	Syncs   int64 // fsyncs of segments; far fewer than Records under group commit
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Records: l.records, Syncs: l.syncs}
}

// Err returns the write error that stopped the log, or nil.
func (l *Log) Err() error { return l.failure() }

func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

func (l *Log) fail(err error) {
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	l.mu.Unlock()
	l.logger.Error("store.wal_failed", "dir", l.dir, "error", err)
}

// rotate starts the next segment and snapshots the state that the previous
// ones produced. Called by the writer after syncing the batch carrying snap.
func (l *Log) rotate(snap SnapshotFunc) {
	if l.failure() != nil {
		l.setBusy(false)
		return
	}
	next := l.segIndex + 1
	f, err := createSegment(l.dir, next)
	if err != nil {
		l.fail(err)
		l.setBusy(false)
		return
	}
	_ = l.f.Close()
	l.f, l.segIndex = f, next
	l.snapWG.Add(1)
	go func() {
		defer l.snapWG.Done()
		defer l.setBusy(false)
		if err := writeSnapshot(l.dir, next, snap); err != nil {
			// The segments stay, so nothing is lost: the next compaction retries.
			l.logger.Error("store.snapshot_failed", "dir", l.dir, "error", err)
			return
		}
		removeBefore(l.dir, next, l.logger)
	}()
}

func (l *Log) setBusy(v bool) {
	l.mu.Lock()
	l.busy = v
	l.mu.Unlock()
}

// Close writes and fsyncs everything appended so far, waits for a running
// snapshot, and releases the directory.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return nil
	}
	l.closing = true
	l.mu.Unlock()
	l.signal()
	<-l.writerDone
	// l.wake stays open: an Append that passed the closing check may still
	// signal it, and a send on a closed channel would panic.
	l.snapWG.Wait()
	var err error
	if l.f != nil {
		if serr := l.f.Sync(); serr != nil && l.failure() == nil {
			err = serr
		}
		if cerr := l.f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	l.unlockDir()
	return err
}
