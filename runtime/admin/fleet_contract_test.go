package admin

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// The contract's fleet answers carry every field of the runtime's statuses:
// a field added to one and not the other fails here.
func TestContractFleetTypesCoverTheRuntimes(t *testing.T) {
	t.Parallel()
	rt, err := runtime.New(t.Context(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	var l adminapi.Leader
	strictDecode(t, rt.Leader().Status(), &l)
	assert.True(t, l.Leader)
	require.NotEmpty(t, rt.Scheduler().Status())
	for _, task := range rt.Scheduler().Status() {
		var ct adminapi.Task
		strictDecode(t, task, &ct)
		assert.Equal(t, task.Name, ct.Name)
	}
	require.NotEmpty(t, rt.Watchdog().Status())
	for _, loop := range rt.Watchdog().Status() {
		var cl adminapi.Loop
		strictDecode(t, loop, &cl)
		assert.Equal(t, int64(loop.Period), cl.Period)
	}
}
