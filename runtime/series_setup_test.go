package runtime

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
)

// The runtime's minute tick turns its own counters into points: calls,
// failures and rejections per minute, the breaker's OPEN minute and the
// kill-switch change on the same axis.
func TestSeriesRecordsWhatTheZonesCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	clk := clock.NewFake(start)
	rt, err := New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(), CallStats: true, Clock: clk})
	require.NoError(t, err)
	defer rt.Close()
	z := rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	call := func(fail error) {
		p, err := z.Enter(ctx)
		if err != nil {
			return
		}
		z.Done(ctx, p, fail, 1)
	}
	for range 7 {
		call(nil)
	}
	clk.Advance(30 * time.Second) // 10:01
	b, ok := rt.Breaker("payments")
	require.True(t, ok)
	b.ForceOpen("outage drill")
	for range 3 {
		call(errors.New("boom")) // refused: the breaker is open
	}
	_, err = rt.Control().Disable(ctx, "ops", "incident")
	require.NoError(t, err)
	clk.Advance(time.Minute) // 10:02

	v, ok := rt.Series().Service("payments")
	require.True(t, ok)
	require.Len(t, v.Minutes, 2)
	assert.Equal(t, uint64(7), v.Minutes[0].Calls)
	assert.Equal(t, breaker.Closed, v.Minutes[0].Worst)
	assert.Equal(t, uint64(3), v.Minutes[1].Rejections)
	assert.Equal(t, breaker.ForcedOpen, v.Minutes[1].Worst)
	assert.Equal(t, 1, v.Minutes[1].Transitions)
	assert.Zero(t, v.Minutes[1].DLQDepth, "the embedded queue is read: empty")
	require.NotEmpty(t, v.Annotations)
	assert.Equal(t, "ops", v.Annotations[len(v.Annotations)-1].Who)
}
