package shape

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/runtime/clock"
)

func TestWindowForgetsWhatFellOutOfTheSpan(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	w := newWindow(c, 10*time.Second, 10, nil)
	for range 5 {
		w.sum() // calls folded at once go to the current slot
		w.calls.Add(10)
		w.add(1, 0)
		c.Advance(time.Second)
	}
	assert.Equal(t, windowCounts{calls: 50, a: 5}, w.sum())
	c.Advance(7 * time.Second) // the first three seconds fall out
	assert.Equal(t, windowCounts{calls: 20, a: 2}, w.sum())
	c.Advance(time.Hour)
	assert.Equal(t, windowCounts{}, w.sum())
}

func TestWindowSpreadsCallsCountedWithoutTheTime(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	w := newWindow(c, 10*time.Second, 10, nil)
	w.sum()
	// 200 calls over 20s with nothing folding: half of them are in the span.
	c.Advance(20 * time.Second)
	w.calls.Add(200)
	assert.Equal(t, int64(100), w.sum().calls)
	c.Advance(5 * time.Second) // they were spread over the 10 slots: half remain
	assert.Equal(t, int64(50), w.sum().calls)
}

func TestFloorDiv(t *testing.T) {
	t.Parallel()
	assert.Equal(t, int64(-1), floorDiv(-1, 10))
	assert.Equal(t, int64(-1), floorDiv(-10, 10))
	assert.Equal(t, int64(-2), floorDiv(-11, 10))
	assert.Equal(t, int64(1), floorDiv(19, 10))
}
