package canary

import (
	"math"
	"time"
)

// Buckets is the number of latency buckets: bucket i counts durations below
// bucketBase × 2^(i/4), so neighbouring bounds are 19 % apart, from 10 µs to
// about 3 minutes; the last bucket takes everything longer.
const Buckets = 96

const bucketBase = 10 * time.Microsecond

// Histogram counts sampled latencies in Buckets buckets.
type Histogram [Buckets]uint64

// BucketOf is the bucket of d.
func BucketOf(d time.Duration) int {
	if d <= bucketBase {
		return 0
	}
	i := int(math.Ceil(4 * math.Log2(float64(d)/float64(bucketBase))))
	return min(max(i, 0), Buckets-1)
}

// Bound is the upper bound of bucket i.
func Bound(i int) time.Duration {
	return time.Duration(float64(bucketBase) * math.Exp2(float64(i)/4))
}

// Observe counts d.
func (h *Histogram) Observe(d time.Duration) { h[BucketOf(d)]++ }

// Count is the number of samples.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile is the upper bound of the bucket holding quantile q (0 < q ≤ 1),
// 0 without samples.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return Bound(i)
		}
	}
	return Bound(Buckets - 1)
}

// Cohort is one cohort's counters: calls, failures and sampled latencies.
type Cohort struct {
	Calls    uint64
	Failures uint64
	Latency  Histogram
}

// Add adds o to c.
func (c *Cohort) Add(o Cohort) {
	c.Calls += o.Calls
	c.Failures += o.Failures
	for i := range c.Latency {
		c.Latency[i] += o.Latency[i]
	}
}

// Sub is c minus base, each counter floored at 0 (a process that restarted
// counts from 0 again).
func (c Cohort) Sub(base Cohort) Cohort {
	sub := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	out := Cohort{Calls: sub(c.Calls, base.Calls), Failures: sub(c.Failures, base.Failures)}
	for i := range out.Latency {
		out.Latency[i] = sub(c.Latency[i], base.Latency[i])
	}
	return out
}

// Figures summarises the cohort.
func (c Cohort) Figures() Figures {
	f := Figures{Calls: c.Calls, Failures: c.Failures, Samples: c.Latency.Count()}
	if c.Calls > 0 {
		f.ErrorRate = 100 * float64(c.Failures) / float64(c.Calls)
	}
	if f.Samples > 0 {
		f.P50 = ms(c.Latency.Quantile(0.5))
		f.P99 = ms(c.Latency.Quantile(0.99))
	}
	return f
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// wireCohort is a cohort as stored: the histogram sparse.
type wireCohort struct {
	Calls    uint64         `json:"calls"`
	Failures uint64         `json:"failures"`
	Latency  map[int]uint64 `json:"latency,omitempty"`
}

func (c Cohort) wire() wireCohort {
	w := wireCohort{Calls: c.Calls, Failures: c.Failures}
	for i, n := range c.Latency {
		if n > 0 {
			if w.Latency == nil {
				w.Latency = map[int]uint64{}
			}
			w.Latency[i] = n
		}
	}
	return w
}

func (w wireCohort) cohort() Cohort {
	c := Cohort{Calls: w.Calls, Failures: w.Failures}
	for i, n := range w.Latency {
		if i >= 0 && i < Buckets {
			c.Latency[i] = n
		}
	}
	return c
}

// processFigures is what one process publishes for one stage of a rollout.
type processFigures struct {
	Node     string     `json:"node"`
	At       time.Time  `json:"at"`
	Canary   wireCohort `json:"canary"`
	Baseline wireCohort `json:"baseline"`
}
