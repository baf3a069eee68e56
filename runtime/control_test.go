package runtime

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The switches live in the runtime's store: the variables that used to put
// them elsewhere are refused by name, without repeating their value.
func TestControlBackendVariablesAreRefused(t *testing.T) {
	for _, name := range []string{"BALDUR_CONTROL_BACKEND", "BALDUR_CONTROL_REDIS_URL"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "redis://:s3cret-pass@127.0.0.1:6379/0")
			_, err := ConfigFromEnv()
			require.Error(t, err)
			assert.Contains(t, err.Error(), name+" is no longer read")
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

// A control.json written by an earlier version in the state directory is
// moved into the embedded store at start.
func TestRuntimeMovesTheOldControlFileIntoItsStore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "control.json"),
		[]byte(`{"schema":1,"kill_switch":"DISABLED","mode":"LIVE","reason":"incident 42","changed_by":"alice","revision":1,"history":[]}`), 0o600))
	rt, err := New(context.Background(), Config{StateDir: dir, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	assert.False(t, rt.Enabled(), "the old file's state is in force")
	assert.Equal(t, "incident 42", rt.Control().Status().Reason)
	assert.Equal(t, "embedded", rt.Control().Status().Backend)
	require.NoError(t, rt.Close())
	_, err = os.Stat(filepath.Join(dir, "control.json.migrated"))
	require.NoError(t, err, "the old file is kept, renamed")

	rt, err = New(context.Background(), Config{StateDir: dir, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer rt.Close()
	assert.False(t, rt.Enabled(), "read from the store at the next start")
}
