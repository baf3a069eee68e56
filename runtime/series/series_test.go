package series

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)

var bounds = []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond}

// feed is a runtime stand-in: cumulative counters the test moves by hand.
type feed struct {
	mu   sync.Mutex
	svcs map[string]*ServiceReading
	dlq  map[string]int64
	ann  []Annotation
	down bool // the queue cannot be read

	replays, resolved uint64
	level             int
}

func newFeed() *feed { return &feed{svcs: map[string]*ServiceReading{}, dlq: map[string]int64{}} }

func (f *feed) add(name string, calls, failures, rejections uint64, buckets ...uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.svcs[name]
	if !ok {
		s = &ServiceReading{Service: name, Buckets: make([]uint64, len(bounds)+1)}
		f.svcs[name] = s
	}
	s.Calls += calls
	s.Failures += failures
	s.Rejections += rejections
	for i, b := range buckets {
		s.Buckets[i] += b
	}
}

func (f *feed) setState(name string, st breaker.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.svcs[name].State = st
}

func (f *feed) read(context.Context) Reading {
	f.mu.Lock()
	defer f.mu.Unlock()
	rd := Reading{DLQ: map[string]int64{}, DLQKnown: !f.down, Annotations: f.ann,
		Replays: f.replays, Resolved: f.resolved, Level: f.level}
	for _, s := range f.svcs {
		c := *s
		c.Buckets = append([]uint64(nil), s.Buckets...)
		rd.Services = append(rd.Services, c)
	}
	for k, v := range f.dlq {
		rd.DLQ[k] = v
	}
	return rd
}

func newRecorder(t *testing.T, f *feed, max int) (*Recorder, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	r := New(Options{Clock: clk, Read: f.read, Bounds: bounds, MaxServices: max})
	t.Cleanup(func() {
		r.Close()
		assert.Zero(t, clk.Pending(), "Close leaves no tick armed")
	})
	return r, clk
}

func TestOnePointPerMinuteFromTheCounters(t *testing.T) {
	t.Parallel()
	f := newFeed()
	r, clk := newRecorder(t, f, 0)
	f.add("payments", 100, 5, 2, 90, 8, 2, 0) // 10:00:30..10:01
	f.dlq["payments"] = 3
	clk.Advance(30 * time.Second) // tick at 10:01
	f.add("payments", 40, 0, 0, 1, 0, 0, 1)
	f.dlq["payments"] = 1
	clk.Advance(time.Minute) // 10:02

	v, ok := r.Service("payments")
	require.True(t, ok)
	require.Len(t, v.Minutes, 2)
	first, second := v.Minutes[0], v.Minutes[1]
	assert.Equal(t, time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), first.Start)
	assert.Equal(t, time.Minute, first.Step)
	assert.Equal(t, [3]uint64{100, 5, 2}, [3]uint64{first.Calls, first.Failures, first.Rejections})
	assert.Equal(t, uint64(100), first.Samples)
	assert.Equal(t, time.Millisecond, first.P50, "90 of 100 samples are under 1ms")
	assert.Equal(t, 100*time.Millisecond, first.P99, "the 99th sample is in the 100ms bucket")
	assert.Equal(t, int64(3), first.DLQDepth)
	assert.Equal(t, [3]uint64{40, 0, 0}, [3]uint64{second.Calls, second.Failures, second.Rejections}, "differences, not totals")
	assert.Equal(t, 100*time.Millisecond, second.P99, "a sample past the last bound reads as the last bound")
	assert.Equal(t, int64(1), second.DLQDepth)
	assert.Equal(t, time.Date(2026, 3, 1, 10, 1, 0, 0, time.UTC), second.Start)

	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	clk.Advance(time.Minute)
	v, _ = r.Service("payments")
	assert.Equal(t, int64(-1), v.Minutes[2].DLQDepth, "an unreadable queue is unknown, not empty")
	assert.Zero(t, v.Minutes[2].Calls)
}

func TestTheLastHourAndTheLastDay(t *testing.T) {
	t.Parallel()
	f := newFeed()
	r, clk := newRecorder(t, f, 0)
	f.add("payments", 0, 0, 0)
	// 26 hours of 10 calls a minute, one failure a minute.
	for range 26 * 60 {
		f.add("payments", 10, 1, 0, 10)
		clk.Advance(time.Minute)
	}
	v, ok := r.Service("payments")
	require.True(t, ok)
	require.Len(t, v.Minutes, Minutes, "the minute ring holds one hour")
	require.Len(t, v.Hours, Hours, "the hour ring holds one day, the hour in progress included")
	for i, p := range v.Minutes[1:] {
		assert.Equal(t, time.Minute, p.Start.Sub(v.Minutes[i].Start), "minutes are consecutive")
	}
	full := v.Hours[len(v.Hours)-2]
	assert.Equal(t, time.Hour, full.Step)
	assert.Equal(t, uint64(600), full.Calls, "an hour sums its minutes")
	assert.Equal(t, uint64(60), full.Failures)
	assert.Equal(t, time.Millisecond, full.P99)
	assert.Equal(t, time.Hour, v.Hours[len(v.Hours)-1].Start.Sub(full.Start))
	assert.True(t, v.Hours[0].Start.After(t0.Add(time.Hour)), "hours older than a day are gone")
}

func TestBreakerStatePerIntervalWithTransitions(t *testing.T) {
	t.Parallel()
	f := newFeed()
	r, clk := newRecorder(t, f, 0)
	f.add("payments", 1, 0, 0)
	clk.Advance(30 * time.Second)

	// Within one minute: open, then half-open, then closed again.
	at := clk.Now().Add(10 * time.Second)
	r.Transition(breaker.Transition{Name: "payments", From: breaker.Closed, To: breaker.Open, At: at, Reason: "5 failures"})
	r.Transition(breaker.Transition{Name: "payments", From: breaker.Open, To: breaker.HalfOpen, At: at.Add(5 * time.Second)})
	r.Transition(breaker.Transition{Name: "payments", From: breaker.HalfOpen, To: breaker.Closed, At: at.Add(6 * time.Second)})
	clk.Advance(time.Minute)
	// The next minute: open and still open at its end.
	r.Transition(breaker.Transition{Name: "payments", From: breaker.Closed, To: breaker.Open, At: clk.Now()})
	f.setState("payments", breaker.Open)
	clk.Advance(time.Minute)
	clk.Advance(time.Minute)

	v, _ := r.Service("payments")
	require.Len(t, v.Minutes, 4)
	assert.Equal(t, breaker.Closed, v.Minutes[0].Worst)
	flap := v.Minutes[1]
	assert.Equal(t, breaker.Open, flap.Worst, "a flap inside one minute still shows OPEN")
	assert.Equal(t, breaker.Closed, flap.State)
	assert.Equal(t, 3, flap.Transitions)
	assert.Equal(t, breaker.Open, v.Minutes[2].State)
	assert.Equal(t, breaker.Open, v.Minutes[3].Worst, "OPEN carries over into the next minute")
	assert.Zero(t, v.Minutes[3].Transitions)
	require.Len(t, v.Transitions, 4)
	assert.Equal(t, "5 failures", v.Transitions[0].Reason)
	assert.Equal(t, breaker.Open, r.Services()[0].State)
}

func TestTenThousandServicesStayUnderTheCap(t *testing.T) {
	f := newFeed()
	const services = 10_000
	for i := range services {
		f.add(fmt.Sprintf("svc-%05d", i), 1, 0, 0)
	}
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	r, clk := newRecorder(t, f, 0)
	// The rings are fixed arrays, full size from the first tick.
	for range 3 {
		clk.Advance(time.Minute)
	}
	for i := range services {
		r.Transition(breaker.Transition{Name: fmt.Sprintf("late-%05d", i), To: breaker.Open})
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)

	assert.Equal(t, DefaultMaxServices+1, r.Len(), "the first services keep a ring each, the rest share Other")
	other, ok := r.Service(Other)
	require.True(t, ok)
	assert.Equal(t, uint64(services-DefaultMaxServices), other.Minutes[0].Calls, "Other sums the calls of the services beyond the cap")
	assert.Equal(t, breaker.Open, other.State)
	bound := (DefaultMaxServices + 1) * ServiceBytes(len(bounds))
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("rings: %d, documented bound %d bytes, heap grew %d bytes", r.Len(), bound, grown)
	assert.Less(t, grown, int64(2*bound), "the recorder's memory stays near the documented bound")
	assert.Less(t, ServiceBytes(12), 15*1024, "a service costs about 14 KiB with the runtime's 12 bounds")
	goruntime.KeepAlive(r)
}

func TestAnnotationsAreKeptOnceAndAged(t *testing.T) {
	t.Parallel()
	f := newFeed()
	r, clk := newRecorder(t, f, 0)
	a := Annotation{At: t0.Add(10 * time.Second), Kind: "disable", Who: "ops", Reason: "incident"}
	f.ann = []Annotation{a}
	clk.Advance(time.Minute)
	clk.Advance(time.Minute)
	require.Equal(t, []Annotation{a}, r.Annotations(), "an annotation read twice is kept once")
	f.mu.Lock()
	f.ann = nil
	f.mu.Unlock()
	clk.Advance(25 * time.Hour)
	assert.Empty(t, r.Annotations(), "annotations older than a day are dropped")
}

func TestCloseStopsTheLoop(t *testing.T) {
	t.Parallel()
	f := newFeed()
	clk := clock.NewFake(t0)
	r := New(Options{Clock: clk, Read: f.read, Bounds: bounds})
	assert.Equal(t, []time.Time{t0.Truncate(time.Minute).Add(time.Minute)}, clk.Deadlines(), "the first tick is on the minute")
	r.Close()
	assert.Zero(t, clk.Pending())
	clk.Advance(time.Hour)
	assert.Zero(t, r.Len(), "no tick after Close")
}
