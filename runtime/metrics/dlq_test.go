package metrics_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/metrics"
	"github.com/baldur-go/baldur/runtime/store"
)

// TestQueueDepthReadsARealQueue parks entries in a dlq.Queue on a memory
// store and reads them back through the adapter.
func TestQueueDepthReadsARealQueue(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	q, err := dlq.New(st, dlq.Options{Logger: quiet})
	require.NoError(t, err)
	ctx := context.Background()
	for _, dom := range []string{"payments", "payments", "ledger"} {
		_, err := q.Park(ctx, dlq.Capture{Domain: dom, Operation: "Charge", Err: errors.New("down"), Args: []byte(`{}`)})
		require.NoError(t, err)
	}
	depth, err := metrics.QueueDepth(q).DLQDepth(ctx)
	require.NoError(t, err)
	got := map[string]int64{}
	for _, d := range depth {
		got[d.Domain+"/"+d.State] = d.Entries
	}
	assert.Equal(t, int64(2), got["payments/pending"])
	assert.Equal(t, int64(1), got["ledger/pending"])
	assert.Equal(t, int64(0), got["ledger/needs_review"])
}
