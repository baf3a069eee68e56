package shape

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Hedging's delay (hedge_delay=): a fixed duration, or a percentile of the
// first attempts' recent latencies, with a default until enough were seen.
const (
	// DefaultHedgeDelay is hedge_delay=pNN's delay until HedgeMinSamples
	// latencies were observed.
	DefaultHedgeDelay = 100 * time.Millisecond
	// HedgeDelayFloor is the shortest percentile delay: below it a hedge
	// would go out with nearly every call.
	HedgeDelayFloor = time.Millisecond
	// HedgeMinSamples latencies are needed before the percentile is used.
	HedgeMinSamples = 64
	// hedgeWindow is how many recent latencies the percentile reads.
	hedgeWindow = 256
	// hedgeRecompute: the percentile is recomputed every this many samples
	// (a sort of the window: a few microseconds, on the observing call).
	hedgeRecompute = 64
)

// HedgeDelay is when a hedged call starts its next attempt. Delay is one
// atomic load; Observe (percentile only) writes one slot of a ring and, every
// 64 samples, recomputes the percentile (one goroutine at a time).
type HedgeDelay struct {
	text    string
	q       float64 // the percentile, 0 < q < 100; 0 for a fixed delay
	current atomic.Int64
	n       atomic.Uint64
	busy    atomic.Bool
	ring    [hedgeWindow]atomic.Int64
}

// NewHedgeDelay reads hedge_delay=: "50ms", or "p95" ("" means p95).
func NewHedgeDelay(s string) (*HedgeDelay, error) {
	if s == "" {
		s = "p95"
	}
	h := &HedgeDelay{text: s}
	if q, ok := strings.CutPrefix(s, "p"); ok {
		f, err := strconv.ParseFloat(q, 64)
		if err != nil || f < 50 || f > 99.9 {
			return nil, fmt.Errorf("hedge_delay %q: want a percentile from p50 to p99.9", s)
		}
		h.q = f
		h.current.Store(int64(DefaultHedgeDelay))
		return h, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("hedge_delay %q: want a positive Go duration or a percentile such as p95", s)
	}
	h.current.Store(int64(d))
	return h, nil
}

// Delay is the delay in force.
func (h *HedgeDelay) Delay() time.Duration { return time.Duration(h.current.Load()) }

// Percentile reports whether the delay follows observed latencies (Observe
// is then worth calling).
func (h *HedgeDelay) Percentile() bool { return h.q != 0 }

// Samples is the number of latencies observed.
func (h *HedgeDelay) Samples() uint64 { return h.n.Load() }

// String is hedge_delay= as written, with the delay in force for a
// percentile: "p95 (now 37ms)".
func (h *HedgeDelay) String() string {
	if h.q == 0 {
		return h.text
	}
	return h.text + " (now " + h.Delay().String() + ")"
}

// Observe records one first attempt's latency (a percentile delay only).
func (h *HedgeDelay) Observe(d time.Duration) {
	if h.q == 0 {
		return
	}
	n := h.n.Add(1)
	h.ring[(n-1)%hedgeWindow].Store(int64(d))
	if n < HedgeMinSamples || n%hedgeRecompute != 0 || !h.busy.CompareAndSwap(false, true) {
		return
	}
	var buf [hedgeWindow]int64
	k := int(min(n, hedgeWindow))
	for i := range k {
		buf[i] = h.ring[i].Load()
	}
	s := buf[:k]
	slices.Sort(s)
	i := int(math.Ceil(h.q/100*float64(k))) - 1
	h.current.Store(max(s[max(i, 0)], int64(HedgeDelayFloor)))
	h.busy.Store(false)
}
