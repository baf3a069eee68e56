package runtime

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestNewWarnsOnceAboutEachUnknownVariableWithTheNearestName(t *testing.T) {
	t.Parallel()
	var buf logtest.Buffer
	cfg := Config{
		Store:  store.NewMemory(),
		Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		environ: func() []string {
			return []string{"HOME=/root", "BALDUR_CB_WINDOW=60s", "BALDUR_CB_WINDWO=30s",
				"BALDUR_REDIS_URLL=redis://user:hunter2@10.0.0.1/0", "BALDUR_BULKHEAD_DATABASE=3"}
		},
	}
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	defer rt.Close()
	out := buf.String()
	lines := buf.Lines("runtime.variable_unknown")
	require.Len(t, lines, 2, out)
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], "variable=BALDUR_CB_WINDWO did_you_mean=BALDUR_CB_WINDOW")
	assert.Contains(t, lines[1], "variable=BALDUR_REDIS_URLL did_you_mean=BALDUR_REDIS_URL")
	assert.NotContains(t, out, "hunter2", "values are never logged")
}
