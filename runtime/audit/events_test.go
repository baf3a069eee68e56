package audit

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/store"
)

// The runtime's events that are automated actions become records, whatever
// the log's level; the others, and the log itself, are left as they are.
func TestAutomatedActionsAreRecordedFromTheRuntimesEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tr := newTrail(t, store.NewMemory(), Options{})
	logs := &logtest.Buffer{}
	log := slog.New(tr.Handler(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))).With("instance", "i-1")
	log.Info("cb.state_changed", "service", "payments", "from", "CLOSED", "to", "OPEN", "reason", "5 failures in 60s")
	log.Info("cb.state_changed", "service", "payments", "from", "OPEN", "to", "CLOSED", "reason", "remote: fleet state")
	log.Info("cb.state_changed", "service", "payments", "from", "CLOSED", "to", "FORCED_OPEN", "reason", "drill (by alice (operator))")
	log.Warn("store.degraded_entered", "reason", "dial tcp: connection refused")
	log.Info("store.degraded_exited", "degraded_for", "3s", "replayed", 4, "conflicts", 0, "reconcile_took", "2ms")
	log.Warn("dlq.entry_needs_review", "id", "e1", "domain", "ledger", "operation", "Post", "reason", "replay budget spent")
	log.Info("dlq.batch_finished", "domain", "ledger", "automatic", true, "replayed", 3, "resolved", 2, "needs_review", 1)
	log.Info("dlq.batch_finished", "domain", "ledger", "automatic", false, "replayed", 1, "resolved", 1, "needs_review", 0)
	log.Info("cb.share_failed", "service", "payments")
	require.NoError(t, tr.Sync(ctx))

	page, err := tr.List(ctx, Query{Actor: OperatorRuntime})
	require.NoError(t, err)
	var got [][4]string
	for i := len(page.Records) - 1; i >= 0; i-- {
		r := page.Records[i]
		got = append(got, [4]string{r.Action, r.Target, r.Reason, r.Detail})
	}
	assert.Equal(t, [][4]string{
		{"breaker.state_changed", "payments", "5 failures in 60s", "CLOSED -> OPEN"},
		{"store.degraded_entered", "store", "dial tcp: connection refused", ""},
		{"store.degraded_exited", "store", "", "degraded for 3s, 4 writes replayed, 0 conflicts"},
		{"dlq.entry_needs_review", "ledger/e1", "replay budget spent", ""},
		{"dlq.sweep", "ledger", "", "replayed 3, resolved 2, needs_review 1"},
	}, got)
	assert.Len(t, logs.Lines("level="), 2, "the log keeps its own level: the two warnings only")
	assert.Len(t, logs.Lines("instance=i-1"), 2)
	assert.False(t, log.Enabled(ctx, slog.LevelDebug), "DEBUG stays off when the log is off for it")
	assert.True(t, log.Enabled(ctx, slog.LevelInfo), "INFO is seen: actions are logged there")
}

// The runtime's logger exists before its store, and so before the trail:
// actions seen meanwhile are handed over when the trail attaches.
func TestATapKeepsActionsSeenBeforeTheTrailExists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, attach := NewTap(slog.NewTextHandler(&logtest.Buffer{}, nil))
	log := slog.New(h)
	log.Warn("store.degraded_entered", "reason", "no Redis at start")
	tr := newTrail(t, store.NewMemory(), Options{})
	attach(tr)
	log.Info("store.degraded_exited", "degraded_for", "1s", "replayed", 0, "conflicts", 0)
	require.NoError(t, tr.Sync(ctx))
	page, err := tr.List(ctx, Query{})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)
	assert.Equal(t, "store.degraded_exited", page.Records[0].Action)
	assert.Equal(t, "no Redis at start", page.Records[1].Reason)
}
