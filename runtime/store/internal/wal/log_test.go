package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFrame_RoundTripAndDamage(t *testing.T) {
	frame := AppendFrame(nil, []byte("payload"))
	require.Len(t, frame, FrameSize(7))
	got, n, err := DecodeFrame(frame)
	require.NoError(t, err)
	assert.Equal(t, "payload", string(got))
	assert.Equal(t, len(frame), n)

	_, _, err = DecodeFrame(frame[:len(frame)-1])
	assert.ErrorIs(t, err, ErrShortFrame)
	_, _, err = DecodeFrame(frame[:3])
	assert.ErrorIs(t, err, ErrShortFrame)
	_, _, err = DecodeFrame(make([]byte, 16))
	assert.ErrorIs(t, err, ErrBadLength, "zeros are not a record")
	for i := range frame {
		bad := append([]byte{}, frame...)
		bad[i] ^= 1
		_, _, err := DecodeFrame(bad)
		assert.Error(t, err, "flipping a bit of byte %d must be detected", i)
	}
}

func TestLog_ReplaysInOrderAcrossSnapshots(t *testing.T) {
	dir := t.TempDir()
	var state []string
	open := func() *Log {
		state = nil
		l, err := Open(dir, Options{SegmentSize: 64, Apply: func(rec []byte) error {
			state = append(state, string(rec))
			return nil
		}})
		require.NoError(t, err)
		return l
	}
	l := open()
	var want []string
	for i := range 20 {
		rec := []byte{'r', byte('a' + i)}
		want = append(want, string(rec))
		ticket, due := l.Append(rec)
		require.NoError(t, ticket.Wait())
		if due {
			// The snapshot of this toy state is the list of records so far.
			snap := append([]string{}, want...)
			l.Compact(func(emit func([]byte) error) error {
				for _, r := range snap {
					if err := emit([]byte(r)); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	require.NoError(t, l.Close())
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	assert.Len(t, snaps, 1)
	assert.Less(t, len(segs), 5)

	l = open()
	defer l.Close()
	assert.Equal(t, want, state)
	ticket, _ := l.Append(nil)
	assert.Error(t, ticket.Wait(), "empty records are refused")
}

func TestLog_AppendAfterClose(t *testing.T) {
	l, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	ticket, _ := l.Append([]byte("x"))
	assert.ErrorIs(t, ticket.Wait(), ErrClosed)
	assert.False(t, l.Compact(func(func([]byte) error) error { return nil }))
}

func TestLog_FailedSnapshotKeepsSegments(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Options{SegmentSize: 1})
	require.NoError(t, err)
	ticket, due := l.Append([]byte("one"))
	require.NoError(t, ticket.Wait())
	require.True(t, due)
	require.True(t, l.Compact(func(func([]byte) error) error { return errors.New("boom") }))
	ticket, _ = l.Append([]byte("two"))
	require.NoError(t, ticket.Wait())
	require.NoError(t, l.Close())
	_, err = os.Stat(filepath.Join(dir, segName(1)))
	require.NoError(t, err, "the segment a failed snapshot should have covered stays")

	var got []string
	l, err = Open(dir, Options{Apply: func(rec []byte) error { got = append(got, string(rec)); return nil }})
	require.NoError(t, err)
	defer l.Close()
	assert.Equal(t, []string{"one", "two"}, got)
}
