package dlq_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

// TestQueueDepthReadsARealQueue parks entries in a dlq.Queue on a memory
// store and reads them back through the adapter.
func TestQueueDepthReadsARealQueue(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	q, err := dlq.New(st, dlq.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx := context.Background()
	for _, dom := range []string{"payments", "payments", "ledger"} {
		_, err := q.Park(ctx, dlq.Capture{Domain: dom, Method: "Charge", Err: errors.New("down"), Args: []byte(`{}`)})
		require.NoError(t, err)
	}
	depth, err := dlq.QueueDepth(q).DLQDepth(ctx)
	require.NoError(t, err)
	got := map[string]int64{}
	for _, d := range depth {
		got[d.Domain+"/"+d.State] = d.Entries
	}
	assert.Equal(t, int64(2), got["payments/pending"])
	assert.Equal(t, int64(1), got["ledger/pending"])
	assert.Equal(t, int64(0), got["ledger/needs_review"])
}

// TestQueueTotalsCountEvictionsAndResolvedReplays evicts one entry at a cap
// of two and resolves one by replay, then reads both counters.
func TestQueueTotalsCountEvictionsAndResolvedReplays(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	q, err := dlq.New(st, dlq.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxSize: 2})
	require.NoError(t, err)
	defer q.Close()
	ctx := context.Background()
	q.Register("payments", "Charge", "sig", func(context.Context, []byte) error { return nil })
	var last string
	for range 3 { // the third park evicts the oldest (drop_oldest)
		last, err = q.Park(ctx, dlq.Capture{Domain: "payments", Method: "Charge", Signature: "sig", Err: errors.New("down"), Args: []byte(`{}`)})
		require.NoError(t, err)
	}
	_, err = q.Replay(ctx, last)
	require.NoError(t, err)
	src, ok := dlq.QueueDepth(q).(dlq.TotalsSource)
	require.True(t, ok, "QueueDepth reports the counters too")
	_, tot, err := src.DLQSnapshot(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, tot.Evicted)
	assert.EqualValues(t, 1, tot.Resolved["payments"])
}
