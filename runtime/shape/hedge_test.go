package shape

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHedgeDelayFixed(t *testing.T) {
	t.Parallel()
	h, err := NewHedgeDelay("50ms")
	require.NoError(t, err)
	assert.False(t, h.Percentile())
	h.Observe(time.Second)
	assert.Equal(t, 50*time.Millisecond, h.Delay())
	assert.Equal(t, "50ms", h.String())
}

func TestHedgeDelayPercentileDefaultsUntilEnoughSamplesThenFollowsThem(t *testing.T) {
	t.Parallel()
	h, err := NewHedgeDelay("p95")
	require.NoError(t, err)
	require.True(t, h.Percentile())
	for i := range HedgeMinSamples - 1 {
		h.Observe(time.Duration(i+1) * time.Millisecond)
	}
	assert.Equal(t, DefaultHedgeDelay, h.Delay(), "too few samples: the default")
	// 100 samples of 1..100ms: p95 is 95ms.
	for i := range 100 - (HedgeMinSamples - 1) {
		h.Observe(time.Duration(HedgeMinSamples+i) * time.Millisecond)
	}
	h.Observe(0) // 101st sample
	for h.Samples()%hedgeRecompute != 0 {
		h.Observe(100 * time.Millisecond)
	}
	assert.InDelta(t, float64(95*time.Millisecond), float64(h.Delay()), float64(5*time.Millisecond), "p95 of 1..100ms")
	assert.Contains(t, h.String(), "p95 (now ")
}

func TestHedgeDelayPercentileHasAFloor(t *testing.T) {
	t.Parallel()
	h, err := NewHedgeDelay("p99")
	require.NoError(t, err)
	for range 64 {
		h.Observe(time.Microsecond)
	}
	assert.Equal(t, HedgeDelayFloor, h.Delay())
}

func TestHedgeDelayRefusesBadValues(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"p10", "p100", "px", "soon", "-1s"} {
		_, err := NewHedgeDelay(s)
		assert.Error(t, err, s)
	}
	h, err := NewHedgeDelay("")
	require.NoError(t, err)
	assert.True(t, h.Percentile(), `"" is p95`)
}
