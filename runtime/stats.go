package runtime

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"
)

// Per-call statistics. Successes are the hot path, so they are counted on
// shards picked by the address of the caller's stack: goroutines running at
// once almost always land on different cache lines, and no shard is ever
// locked. Everything else is counted on the slow paths. Attempt durations
// are sampled (one attempt in durationSampleEvery per shard) so that the
// success path reads the clock rarely.

const (
	statShards          = 8
	durationSampleEvery = 64
	cacheLine           = 128
)

// DurationBuckets are the upper bounds of the attempt-duration histogram.
var DurationBuckets = [...]time.Duration{
	time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

type statShard struct {
	successes    atomic.Uint64
	rejectedOpen atomic.Uint64
	_            [cacheLine - 16]byte
}

type callStats struct {
	shards           [statShards]statShard
	failures         atomic.Uint64
	ignored          atomic.Uint64
	rejectedBulkhead atomic.Uint64
	retries          atomic.Uint64
	retriedOK        atomic.Uint64 // successes on attempt 2 or later
	timeouts         atomic.Uint64
	fallbacks        atomic.Uint64
	sampled          atomic.Uint64                           // durations observed
	sumNanos         atomic.Uint64                           // of the sampled durations
	buckets          [len(DurationBuckets) + 1]atomic.Uint64 // last one is +Inf
}

// shard picks the caller's shard from the address of its stack frame.
//
//go:nosplit
func (s *callStats) shard() *statShard {
	var marker byte
	a := uintptr(unsafe.Pointer(&marker)) >> 11 // goroutine stacks are at least 2 KiB apart
	return &s.shards[(a*0x9E3779B97F4A7C15)>>61]
}

func (s *callStats) observe(d time.Duration) {
	s.sampled.Add(1)
	s.sumNanos.Add(uint64(max(d, 0)))
	for i, ub := range DurationBuckets {
		if d <= ub {
			s.buckets[i].Add(1)
			return
		}
	}
	s.buckets[len(DurationBuckets)].Add(1)
}

// CallStats are one protected method's counters since the runtime started.
// Calls counts attempts through the zone, as a breaker sees them.
type CallStats struct {
	Service, Method  string
	Successes        uint64 // attempts that succeeded (including 4xx answers, which are not failures)
	Failures         uint64 // attempts counted against the breaker
	Ignored          uint64 // attempts the caller abandoned (its own cancellation)
	RejectedOpen     uint64 // calls the breaker refused
	RejectedBulkhead uint64 // calls the bulkhead refused
	Retries          uint64 // retries scheduled
	RetriedSuccesses uint64 // calls that succeeded on attempt 2 or later: the trouble retry absorbed
	Timeouts         uint64 // attempts that ran past timeout=
	Fallbacks        uint64 // calls the fallback answered
	// Durations is a histogram of sampled attempt durations (one attempt in 64):
	// Buckets[i] counts samples ≤ DurationBuckets[i] (not cumulative); the last
	// entry counts the rest.
	Samples  uint64
	SumNanos uint64
	Buckets  []uint64
}

// Sub returns the counts accumulated since base, an earlier reading of the
// same method. A counter below its base was restarted (a new runtime), so
// its whole value counts. The duration histogram is left as it is in s.
func (s CallStats) Sub(base CallStats) CallStats {
	d := s
	sub := func(a, b uint64) uint64 {
		if a < b {
			return a
		}
		return a - b
	}
	d.Successes, d.Failures, d.Ignored = sub(s.Successes, base.Successes), sub(s.Failures, base.Failures), sub(s.Ignored, base.Ignored)
	d.RejectedOpen, d.RejectedBulkhead = sub(s.RejectedOpen, base.RejectedOpen), sub(s.RejectedBulkhead, base.RejectedBulkhead)
	d.Retries, d.RetriedSuccesses = sub(s.Retries, base.Retries), sub(s.RetriedSuccesses, base.RetriedSuccesses)
	d.Timeouts, d.Fallbacks = sub(s.Timeouts, base.Timeouts), sub(s.Fallbacks, base.Fallbacks)
	return d
}

// CallStats returns the counters of every protected method, sorted by service
// and method. It is empty unless Config.CallStats is set.
func (rt *Runtime) CallStats() []CallStats {
	rt.mu.Lock()
	zones := make([]*Zone, 0, len(rt.zones))
	for _, z := range rt.zones {
		zones = append(zones, z)
	}
	rt.mu.Unlock()
	out := make([]CallStats, 0, len(zones))
	for _, z := range zones {
		s := z.stats
		if s == nil {
			continue
		}
		cs := CallStats{
			Service: z.spec.Service, Method: z.spec.Method,
			Failures: s.failures.Load(), Ignored: s.ignored.Load(),
			RejectedBulkhead: s.rejectedBulkhead.Load(),
			Retries:          s.retries.Load(), RetriedSuccesses: s.retriedOK.Load(),
			Timeouts: s.timeouts.Load(), Fallbacks: s.fallbacks.Load(),
			Samples: s.sampled.Load(), SumNanos: s.sumNanos.Load(),
			Buckets: make([]uint64, len(s.buckets)),
		}
		for i := range s.shards {
			cs.Successes += s.shards[i].successes.Load()
			cs.RejectedOpen += s.shards[i].rejectedOpen.Load()
		}
		for i := range s.buckets {
			cs.Buckets[i] = s.buckets[i].Load()
		}
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b CallStats) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// sampleStart returns the start stamp of an attempt whose duration is to be
// sampled, or 0. The choice reads the caller's shard counter (a load, no
// write): about one attempt in durationSampleEvery is timed.
func (rt *Runtime) sampleStart(s *callStats) int64 {
	if s.shard().successes.Load()%durationSampleEvery != 0 {
		return 0
	}
	return int64(time.Since(rt.epoch)) | 1 // never 0
}
