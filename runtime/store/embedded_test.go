package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store/internal/wal"
)

// logBuffer captures slog records for assertions on events.
type logBuffer = logtest.Buffer

func newTestLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// stateOf dumps everything a store holds, for comparing a store with its reopened self.
func stateOf(t *testing.T, s Store) map[string]any {
	t.Helper()
	ctx := context.Background()
	keys, err := s.Keys(ctx, "")
	require.NoError(t, err)
	out := map[string]any{}
	for _, k := range keys {
		if v, err := s.Get(ctx, k); err == nil {
			ttl, err := s.TTL(ctx, k)
			require.NoError(t, err)
			out[k] = fmt.Sprintf("%q ttl=%v", v, ttl)
		} else if h, err := s.HGetAll(ctx, k); err == nil {
			out[k] = h
		} else {
			es, err := s.Range(ctx, k, ID{}, 0)
			require.NoError(t, err, "key %q is a string, a hash or a stream", k)
			out[k] = es
		}
	}
	return out
}

// fill writes a bit of everything, including expired keys and removed entries.
func fill(t *testing.T, s Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		require.NoError(t, s.Set(ctx, fmt.Sprintf("s%d", i), []byte(fmt.Sprintf("v%d", i)), time.Duration(i%3)*time.Hour))
		require.NoError(t, s.Set(ctx, fmt.Sprintf("gone%d", i), []byte("x"), time.Millisecond))
		_, err := s.Incr(ctx, "counter", int64(i), time.Hour)
		require.NoError(t, err)
		require.NoError(t, s.HSet(ctx, fmt.Sprintf("h%d", i%4), map[string]string{"f": fmt.Sprint(i), fmt.Sprint(i): "x"}))
		id, err := s.Append(ctx, "dlq", []byte(fmt.Sprintf("e%d", i)))
		require.NoError(t, err)
		if i%3 == 0 {
			_, err := s.Remove(ctx, "dlq", id)
			require.NoError(t, err)
		}
		ok, err := s.SetNX(ctx, fmt.Sprintf("claim%d", i%7), []byte("c"), time.Hour)
		require.NoError(t, err)
		_ = ok
	}
	_, err := s.Delete(ctx, "s1")
	require.NoError(t, err)
	_, err = s.Append(ctx, "emptied", []byte("x"))
	require.NoError(t, err)
	es, err := s.Range(ctx, "emptied", ID{}, 0)
	require.NoError(t, err)
	_, err = s.Remove(ctx, "emptied", es[0].ID)
	require.NoError(t, err)
}

func TestEmbedded_ReopenRestoresState(t *testing.T) {
	for _, segment := range []int64{0, 512} { // default: replay the log; 512: mostly from snapshots
		t.Run(fmt.Sprintf("segment=%d", segment), func(t *testing.T) {
			dir, clock := t.TempDir(), clock.NewFake(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
			opts := EmbeddedOptions{Clock: clock, SegmentSize: segment}
			s, err := OpenEmbedded(dir, opts)
			require.NoError(t, err)
			fill(t, s, 60)
			clock.Advance(time.Second) // the "gone" keys expire
			want := stateOf(t, s)
			lastID, err := s.Range(context.Background(), "emptied", ID{}, 0)
			require.NoError(t, err)
			require.Empty(t, lastID)
			require.NoError(t, s.Close())

			s, err = OpenEmbedded(dir, opts)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, want, stateOf(t, s))
			assert.NotContains(t, want, "gone0")

			// Stream IDs keep growing past entries removed before the restart.
			id, err := s.Append(context.Background(), "emptied", []byte("y"))
			require.NoError(t, err)
			assert.Equal(t, ID{Ms: uint64(clock.Now().UnixMilli()), Seq: 0}, id)
		})
	}
}

func TestEmbedded_CompactionRetiresSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, EmbeddedOptions{SegmentSize: 4 << 10})
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 2000 {
		require.NoError(t, s.Set(ctx, fmt.Sprintf("k%d", i%50), bytes.Repeat([]byte("x"), 100), 0))
	}
	require.NoError(t, s.Close()) // waits for the running snapshot
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	assert.LessOrEqual(t, len(segs), 3, "covered segments are deleted: %v", segs)
	assert.Len(t, snaps, 1, "only the latest snapshot is kept")

	s, err = OpenEmbedded(dir, EmbeddedOptions{})
	require.NoError(t, err)
	defer s.Close()
	keys, err := s.Keys(ctx, "k")
	require.NoError(t, err)
	assert.Len(t, keys, 50)
}

// lastSegment returns the path of the newest log segment.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	slices.Sort(segs)
	return segs[len(segs)-1]
}

func TestEmbedded_DamagedTailIsTruncated(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
		kept   int // of the 10 records written
	}{
		{"torn header", func(t *testing.T, path string, _ int64) { appendToFile(t, path, []byte{0x20, 0, 0}) }, 10},
		{"torn payload", func(t *testing.T, path string, _ int64) {
			appendToFile(t, path, wal.AppendFrame(nil, []byte("a record cut short"))[:15])
		}, 10},
		{"last record cut", func(t *testing.T, path string, size int64) { require.NoError(t, os.Truncate(path, size-3)) }, 9},
		{"bit flip in last record", func(t *testing.T, path string, size int64) { flipByte(t, path, size-2) }, 9},
		{"zero-filled tail", func(t *testing.T, path string, _ int64) { appendToFile(t, path, make([]byte, 4096)) }, 10},
		{"checksummed garbage", func(t *testing.T, path string, _ int64) {
			appendToFile(t, path, wal.AppendFrame(nil, []byte{recordVersion, 9, 9}))
		}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			s, err := OpenEmbedded(dir, EmbeddedOptions{})
			require.NoError(t, err)
			for i := range 10 {
				_, err := s.Append(ctx, "dlq", []byte(fmt.Sprintf("entry-%d", i)))
				require.NoError(t, err)
			}
			require.NoError(t, s.Close())
			path := lastSegment(t, dir)
			st, err := os.Stat(path)
			require.NoError(t, err)
			tc.damage(t, path, st.Size())

			logger, logs := newTestLogger()
			s, err = OpenEmbedded(dir, EmbeddedOptions{Logger: logger})
			require.NoError(t, err, "a damaged tail never stops the start")
			n, err := s.Len(ctx, "dlq")
			require.NoError(t, err)
			assert.Equal(t, int64(tc.kept), n)
			assert.Contains(t, logs.String(), "store.wal_truncated")
			assert.Contains(t, logs.String(), filepath.Base(path))

			// The store keeps working, and the truncation is permanent.
			_, err = s.Append(ctx, "dlq", []byte("after"))
			require.NoError(t, err)
			require.NoError(t, s.Close())
			logger, logs = newTestLogger()
			s, err = OpenEmbedded(dir, EmbeddedOptions{Logger: logger})
			require.NoError(t, err)
			defer s.Close()
			n, err = s.Len(ctx, "dlq")
			require.NoError(t, err)
			assert.Equal(t, int64(tc.kept+1), n)
			assert.NotContains(t, logs.String(), "store.wal_truncated", "the second start finds a clean log")
		})
	}
}

func TestEmbedded_DamagedSnapshotDoesNotStopStart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, EmbeddedOptions{SegmentSize: 1 << 10})
	require.NoError(t, err)
	for i := range 200 {
		require.NoError(t, s.Set(context.Background(), fmt.Sprintf("k%d", i), bytes.Repeat([]byte("v"), 40), 0))
	}
	require.NoError(t, s.Close())
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	require.Len(t, snaps, 1)
	st, err := os.Stat(snaps[0])
	require.NoError(t, err)
	flipByte(t, snaps[0], st.Size()/2)

	logger, logs := newTestLogger()
	s, err = OpenEmbedded(dir, EmbeddedOptions{Logger: logger})
	require.NoError(t, err)
	defer s.Close()
	assert.Contains(t, logs.String(), "store.snapshot_truncated")
	require.NoError(t, s.Set(context.Background(), "still", []byte("works"), 0))
}

func appendToFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[off] ^= 0x40
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func TestEmbedded_OneProcessPerDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenEmbedded(dir, EmbeddedOptions{})
	require.NoError(t, err)
	defer s.Close()
	_, err = OpenEmbedded(dir, EmbeddedOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), "locked by another process")
}

func TestEmbedded_StateDirIsAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.WriteFile(path, []byte("not a directory"), 0o600))
	_, err := OpenEmbedded(path, EmbeddedOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}

// TestEmbedded_UnwritableStateDir_ChildProcess checks the error for a state
// directory without write permission. Root ignores permission bits, so as
// root the check runs in a child process (this test binary, re-executed) as
// the unprivileged user nobody.
func TestEmbedded_UnwritableStateDir_ChildProcess(t *testing.T) {
	base, err := os.MkdirTemp("", "baldur-perm-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Chmod(base, 0o755); _ = os.RemoveAll(base) })
	require.NoError(t, os.Chmod(base, 0o755))
	state := filepath.Join(base, "state")
	require.NoError(t, os.Mkdir(state, 0o755))

	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(state, 0o555))
		_, err := OpenEmbedded(state, EmbeddedOptions{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), fmt.Sprintf("state directory %q is not writable", state))
		return
	}
	// The test binary sits in a directory only root may enter: copy it out.
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(base, "store.test")
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, data, 0o755))

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), permChildEnv+"="+state)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	assert.Contains(t, string(out), fmt.Sprintf("state directory %q is not writable", state))
}

// permChild opens dir and prints the error it must get.
func permChild(dir string) int {
	s, err := OpenEmbedded(dir, EmbeddedOptions{})
	if err == nil {
		_ = s.Close()
		fmt.Println("opened a directory it cannot write to")
		return 1
	}
	fmt.Println(err)
	return 0
}

func TestEmbedded_GroupCommitSharesFsyncs(t *testing.T) {
	s, err := OpenEmbedded(t.TempDir(), EmbeddedOptions{})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for i := range 50 {
				_, err := s.Append(ctx, "dlq", []byte(fmt.Sprintf("%d-%d", w, i)))
				assert.NoError(t, err)
			}
		})
	}
	await.Wait(t, &wg, "the concurrent appenders")
	st := s.log.Stats()
	assert.Equal(t, int64(32*50), st.Records)
	assert.Less(t, st.Syncs, st.Records/2, "concurrent writers share fsyncs: %+v", st)
}

func TestEmbedded_SyncEachFsyncsEveryRecord(t *testing.T) {
	s, err := OpenEmbedded(t.TempDir(), EmbeddedOptions{SyncEach: true})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				_, err := s.Append(ctx, "dlq", []byte("x"))
				assert.NoError(t, err)
			}
		})
	}
	await.Wait(t, &wg, "the concurrent appenders")
	st := s.log.Stats()
	assert.Equal(t, st.Records, st.Syncs)
}

func TestEmbedded_WritesAfterCloseFail(t *testing.T) {
	s, err := OpenEmbedded(t.TempDir(), EmbeddedOptions{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.Append(context.Background(), "x", []byte("y"))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.Ping(context.Background()), ErrClosed)
	assert.True(t, strings.HasPrefix(s.Dir(), os.TempDir()))
}
