package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Directory layout: wal-<16 hex>.log segments numbered from 1, and at most
// one snap-<16 hex>.snap holding the state produced by every segment with a
// lower number. A *.tmp file is an unfinished snapshot and is deleted at Open.
func segName(i uint64) string  { return fmt.Sprintf("wal-%016x.log", i) }
func snapName(i uint64) string { return fmt.Sprintf("snap-%016x.snap", i) }

func parseName(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	i, err := strconv.ParseUint(name[len(prefix):len(name)-len(suffix)], 16, 64)
	return i, err == nil && i > 0
}

// Snapshot frames start with a type byte so that a snapshot proves it is
// complete: a header, the owner's records, and an end frame with their count.
const (
	snapHeader = 'H'
	snapRecord = 'R'
	snapEnd    = 'E'
	snapMagic  = "baldur-snapshot-1"
)

// recover replays the directory and opens the last segment for appending.
func (l *Log) recover() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return dirError(l.dir, err)
	}
	var segs, snaps []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(l.dir, name))
			continue
		}
		if i, ok := parseName(name, "wal-", ".log"); ok {
			segs = append(segs, i)
		} else if i, ok := parseName(name, "snap-", ".snap"); ok {
			snaps = append(snaps, i)
		}
	}
	slices.Sort(segs)
	slices.Sort(snaps)

	var from uint64 = 1
	if len(snaps) > 0 {
		from = snaps[len(snaps)-1]
		if err := l.loadSnapshot(from); err != nil {
			return err
		}
	}
	// Files a finished snapshot covers but a crash kept from being deleted.
	removeBefore(l.dir, from, l.logger)

	last := uint64(0)
	for _, s := range segs {
		if s < from {
			continue
		}
		if err := l.replaySegment(s); err != nil {
			return err
		}
		last = s
	}
	if last == 0 {
		f, err := createSegment(l.dir, from)
		if err != nil {
			return err
		}
		l.f, l.segIndex = f, from
		return nil
	}
	path := filepath.Join(l.dir, segName(last))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return dirError(l.dir, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return dirError(l.dir, err)
	}
	l.f, l.segIndex, l.segBytes = f, last, st.Size()
	return nil
}

// replaySegment applies every valid record of segment i and cuts the file at
// the first invalid one: a torn write from a crash, or corruption. Continuing
// past a bad record would apply later changes without earlier ones.
func (l *Log) replaySegment(i uint64) error {
	path := filepath.Join(l.dir, segName(i))
	data, err := os.ReadFile(path)
	if err != nil {
		return dirError(l.dir, err)
	}
	off := 0
	for off < len(data) {
		payload, n, err := DecodeFrame(data[off:])
		if err == nil {
			if aerr := l.opts.Apply(payload); aerr != nil {
				err = fmt.Errorf("undecodable record: %w", aerr)
			}
		}
		if err != nil {
			l.logger.Warn("store.wal_truncated", "file", path, "offset", off,
				"dropped_bytes", len(data)-off, "reason", err.Error())
			return truncateFile(path, int64(off))
		}
		off += n
	}
	return nil
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	return f.Sync()
}

// loadSnapshot applies the records of snapshot i. A damaged snapshot is
// applied as far as it is readable and reported; it never stops the start.
func (l *Log) loadSnapshot(i uint64) error {
	path := filepath.Join(l.dir, snapName(i))
	data, err := os.ReadFile(path)
	if err != nil {
		return dirError(l.dir, err)
	}
	problem := func(reason string) error {
		l.logger.Warn("store.snapshot_truncated", "file", path, "reason", reason)
		return nil
	}
	off, count := 0, uint64(0)
	for first := true; ; first = false {
		payload, n, err := DecodeFrame(data[off:])
		if err != nil {
			return problem(fmt.Sprintf("at offset %d: %v", off, err))
		}
		off += n
		switch {
		case first:
			if string(payload) != string(snapHeader)+snapMagic {
				return problem("not a snapshot header")
			}
		case payload[0] == snapRecord:
			if err := l.opts.Apply(payload[1:]); err != nil {
				return problem(fmt.Sprintf("record %d: %v", count, err))
			}
			count++
		case payload[0] == snapEnd:
			want, k := binary.Uvarint(payload[1:])
			if k <= 0 || want != count {
				return problem(fmt.Sprintf("end frame says %d records, read %d", want, count))
			}
			return nil
		default:
			return problem(fmt.Sprintf("unknown frame type %q", payload[0]))
		}
	}
}

// writeSnapshot writes snapshot i atomically: temp file, fsync, rename, fsync
// of the directory so that the rename itself survives a crash.
func writeSnapshot(dir string, i uint64, snap SnapshotFunc) (err error) {
	final := filepath.Join(dir, snapName(i))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var frame, payload []byte
	put := func(kind byte, body []byte) error {
		payload = append(append(payload[:0], kind), body...)
		frame = AppendFrame(frame[:0], payload)
		_, err := w.Write(frame)
		return err
	}
	if err := put(snapHeader, []byte(snapMagic)); err != nil {
		return err
	}
	var count uint64
	if err := snap(func(rec []byte) error {
		if len(rec)+1 > MaxPayload {
			return fmt.Errorf("snapshot record of %d bytes", len(rec))
		}
		count++
		return put(snapRecord, rec)
	}); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := put(snapEnd, binary.AppendUvarint(nil, count)); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(dir)
}

// createSegment creates segment i and makes its directory entry durable
// before anything written to it is acknowledged.
func createSegment(dir string, i uint64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, segName(i)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, dirError(dir, err)
	}
	if err := syncDir(dir); err != nil {
		_ = f.Close()
		return nil, dirError(dir, err)
	}
	return f, nil
}

// removeBefore deletes the segments and snapshots that snapshot i supersedes.
func removeBefore(dir string, i uint64, logger *slog.Logger) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	removed := false
	for _, e := range entries {
		n, ok := parseName(e.Name(), "wal-", ".log")
		if !ok {
			n, ok = parseName(e.Name(), "snap-", ".snap")
		}
		if ok && n < i {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				logger.Warn("store.wal_cleanup_failed", "file", e.Name(), "error", err)
				continue
			}
			removed = true
		}
	}
	if removed {
		_ = syncDir(dir)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
