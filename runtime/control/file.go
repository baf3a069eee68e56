package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// DefaultFileName is the file the File backend keeps under the state directory.
const DefaultFileName = "control.json"

// File keeps the state in one JSON file, replaced atomically (temporary file,
// fsync, rename) so that a crash leaves the old state or the new one, never a
// torn write. Processes on one host sharing the file serialise updates through
// an advisory lock on a sibling ".lock" file (on Unix).
type File struct {
	path string
	mu   sync.Mutex // serialises this process's goroutines; the flock serialises processes
	now  func() time.Time
}

// NewFile returns a backend storing the state in path (typically
// filepath.Join(stateDir, DefaultFileName)). The directory is created on the
// first write.
func NewFile(path string) *File {
	return &File{path: path, now: time.Now}
}

// NewFileInDir returns a backend storing dir/control.json.
func NewFileInDir(dir string) *File { return NewFile(filepath.Join(dir, DefaultFileName)) }

// Path is the state file.
func (f *File) Path() string { return f.path }

// Describe implements Backend.
func (f *File) Describe() string { return "file:" + f.path }

// Close implements Backend.
func (f *File) Close() error { return nil }

// Load implements Backend. It creates nothing: a missing directory reads as
// the default state.
func (f *File) Load(context.Context) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := os.Stat(filepath.Dir(f.path)); errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	unlock, err := f.lock()
	if err != nil {
		return State{}, err
	}
	defer unlock()
	return f.readLocked()
}

// Update implements Backend.
func (f *File) Update(_ context.Context, fn func(State) (State, error)) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	unlock, err := f.lock()
	if err != nil {
		return State{}, err
	}
	defer unlock()
	cur, err := f.readLocked()
	if err != nil {
		return State{}, err
	}
	next, err := fn(cur)
	if err != nil {
		return State{}, err
	}
	if err := f.writeLocked(next); err != nil {
		return State{}, err
	}
	return next, nil
}

func (f *File) lock() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return nil, fmt.Errorf("control file: create state dir: %w", err)
	}
	return lockFile(f.path + ".lock")
}

func (f *File) readLocked() (State, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return State{}, fmt.Errorf("control file: read %s: %w", f.path, err)
	}
	s, derr := Decode(b)
	if derr == nil {
		return s, nil
	}
	// Keep the bad bytes for the post-mortem: rename, never delete.
	aside := f.path + ".corrupt-" + strconv.FormatInt(f.now().UnixNano(), 10)
	if err := os.Rename(f.path, aside); err != nil {
		return State{}, fmt.Errorf("control file: set aside corrupt %s: %w (state: %w)", f.path, err, derr)
	}
	return State{}, &CorruptError{Where: f.path, SetAside: aside, Err: derr}
}

func (f *File) writeLocked(s State) error {
	b, err := s.Encode()
	if err != nil {
		return fmt.Errorf("control file: encode: %w", err)
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("control file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("control file: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("control file: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("control file: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("control file: replace %s: %w", f.path, err)
	}
	// The rename is durable only once the directory entry is.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
