package runtime

import (
	"cmp"
	goruntime "runtime"
	"slices"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// Per-call statistics. Counts are exact; attempt durations are sampled (about
// one attempt in durationSampleEvery) so that the success path reads the
// clock rarely.
//
// Successes and breaker rejections are the hot path. They are counted on one
// cell per P (the scheduler's processor, GOMAXPROCS of them): the goroutine
// pins itself to its P (runtime.procPin, the primitive sync.Pool uses, which
// the runtime keeps callable from outside for this use), adds one with a
// plain load and store, and unpins. Nothing else can run on that P
// meanwhile, so the count is exact without a locked instruction, and two
// cores never write the same cache line. A P beyond the cells (GOMAXPROCS
// raised after the zone was built) counts on a shared atomic instead. An
// atomic add on a cell picked by the goroutine's stack address, the previous
// scheme, cost a locked instruction per call and let two goroutines share a
// cell. Everything else is counted on the slow paths with atomic adds.

const (
	durationSampleEvery = 64
	cacheLine           = 128
)

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// DurationBuckets are the upper bounds of the attempt-duration histogram.
var DurationBuckets = [...]time.Duration{
	time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// statCell is one P's counters. Only a goroutine pinned to that P writes it.
type statCell struct {
	successes    atomic.Uint64
	rejectedOpen atomic.Uint64
	_            [cacheLine - 16]byte
}

type callStats struct {
	cells            []statCell
	overflow         statCell      // Ps beyond cells, with atomic adds
	sample           atomic.Uint32 // 1: time the next attempt (set every durationSampleEvery successes)
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

func newCallStats() *callStats {
	s := &callStats{cells: make([]statCell, max(goruntime.GOMAXPROCS(0), goruntime.NumCPU()))}
	s.sample.Store(1) // the first attempt is timed
	return s
}

// success counts one successful attempt, and every durationSampleEvery on a
// P asks for the next attempt to be timed.
func (s *callStats) success() {
	p := procPin()
	if p >= len(s.cells) {
		procUnpin()
		s.overflow.successes.Add(1)
		return
	}
	c := &s.cells[p].successes
	n := c.Load() + 1
	c.Store(n)
	procUnpin()
	if n%durationSampleEvery == 0 {
		s.sample.Store(1)
	}
}

// rejected counts a call the breaker refused.
func (s *callStats) rejected() {
	p := procPin()
	if p >= len(s.cells) {
		procUnpin()
		s.overflow.rejectedOpen.Add(1)
		return
	}
	c := &s.cells[p].rejectedOpen
	c.Store(c.Load() + 1)
	procUnpin()
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
		cs := s.read()
		cs.Service, cs.Method = z.spec.Service, z.spec.Method
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b CallStats) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// read returns the counters (without Service and Method).
func (s *callStats) read() CallStats {
	cs := CallStats{
		Failures: s.failures.Load(), Ignored: s.ignored.Load(),
		RejectedBulkhead: s.rejectedBulkhead.Load(),
		Retries:          s.retries.Load(), RetriedSuccesses: s.retriedOK.Load(),
		Timeouts: s.timeouts.Load(), Fallbacks: s.fallbacks.Load(),
		Samples: s.sampled.Load(), SumNanos: s.sumNanos.Load(),
		Buckets: make([]uint64, len(s.buckets)),
	}
	cs.Successes, cs.RejectedOpen = s.overflow.successes.Load(), s.overflow.rejectedOpen.Load()
	for i := range s.cells {
		cs.Successes += s.cells[i].successes.Load()
		cs.RejectedOpen += s.cells[i].rejectedOpen.Load()
	}
	for i := range s.buckets {
		cs.Buckets[i] = s.buckets[i].Load()
	}
	return cs
}

// sampleStart returns the start stamp of an attempt whose duration is to be
// sampled, or 0: the first attempt to claim the request success() makes
// every durationSampleEvery successes is timed. The common case is one load
// of a word that changes that rarely.
func (rt *Runtime) sampleStart(s *callStats) int64 {
	if s.sample.Load() == 0 || !s.sample.CompareAndSwap(1, 0) {
		return 0
	}
	return int64(time.Since(rt.epoch)) | 1 // never 0
}
