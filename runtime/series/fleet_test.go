package series

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
)

func (f *feed) set(fn func(f *feed)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// The process-wide track: replays per minute from the cumulative counter,
// and the highest emergency level a minute saw even when it went back down
// before the tick.
func TestTrackRecordsReplaysAndTheEmergencyLevel(t *testing.T) {
	t.Parallel()
	f := newFeed()
	r, clk := newRecorder(t, f, 0)
	f.set(func(f *feed) { f.replays, f.resolved = 12, 10 })
	clk.Advance(30 * time.Second) // 10:01
	r.SetLevel(2)
	r.SetLevel(0)
	f.set(func(f *feed) { f.replays, f.resolved = 15, 10 })
	clk.Advance(time.Minute) // 10:02
	f.set(func(f *feed) { f.level = 1 })
	clk.Advance(time.Minute) // 10:03

	v := r.Track()
	require.Len(t, v.Minutes, 3)
	assert.Equal(t, [2]uint64{12, 10}, [2]uint64{v.Minutes[0].Replays, v.Minutes[0].Resolved})
	assert.Equal(t, [2]uint64{3, 0}, [2]uint64{v.Minutes[1].Replays, v.Minutes[1].Resolved}, "differences, not totals")
	assert.Equal(t, 2, v.Minutes[1].Worst, "HIGH for a moment still shows")
	assert.Equal(t, 0, v.Minutes[1].Level)
	assert.Equal(t, 1, v.Minutes[2].Level)
	require.Len(t, v.Hours, 1)
	assert.Equal(t, uint64(15), v.Hours[0].Replays, "the hour in progress sums its minutes")
	assert.Equal(t, 2, v.Hours[0].Worst)
}

// Annotate is the API other subsystems call: the annotation shows on its
// service's plot and not on another's; an empty service is every service's.
func TestAnnotateFromAnotherSubsystem(t *testing.T) {
	t.Parallel()
	f := newFeed()
	f.add("payments", 1, 0, 0)
	f.add("shipping", 1, 0, 0)
	r, clk := newRecorder(t, f, 0)
	r.Annotate("canary", "payments", "stage 2: 25%")
	r.Annotate("experiment", "", "latency injection on")
	clk.Advance(time.Minute)

	pay, ok := r.Service("payments")
	require.True(t, ok)
	require.Len(t, pay.Annotations, 2)
	assert.Equal(t, Annotation{At: t0, Kind: "canary", Service: "payments", Reason: "stage 2: 25%"}, pay.Annotations[0])
	ship, _ := r.Service("shipping")
	require.Len(t, ship.Annotations, 1, "payments' canary is not on shipping's plot")
	assert.Equal(t, "experiment", ship.Annotations[0].Kind)
	var nilRec *Recorder
	nilRec.Annotate("canary", "", "a nil recorder ignores it")
}

func TestSnapshotSurvivesEncoding(t *testing.T) {
	t.Parallel()
	f := newFeed()
	f.add("payments", 10, 1, 0, 9, 1)
	r, clk := newRecorder(t, f, 0)
	r.Transition(breaker.Transition{Name: "payments", From: breaker.Closed, To: breaker.Open, At: t0, Reason: "5 failures"})
	r.Annotate("canary", "payments", "stage 1")
	clk.Advance(time.Minute)
	s := r.Snapshot()
	b, err := Encode(s)
	require.NoError(t, err)
	got, err := Decode(b)
	require.NoError(t, err)
	assert.Equal(t, len(s.Services), len(got.Services))
	v, ok := got.Service("payments")
	require.True(t, ok)
	want, _ := r.Service("payments")
	assert.Equal(t, want.Minutes[0].Calls, v.Minutes[0].Calls)
	assert.True(t, want.Minutes[0].Start.Equal(v.Minutes[0].Start))
	assert.Equal(t, "5 failures", v.Transitions[0].Reason)
	assert.Len(t, v.Annotations, 1)
	t.Logf("one service, one minute: %d bytes", len(b))

	_, err = Decode([]byte("not gzip"))
	require.ErrorIs(t, err, ErrSnapshot)
	s.Version = 99
	b, _ = Encode(s)
	_, err = Decode(b)
	require.ErrorIs(t, err, ErrSnapshot)
	assert.ErrorContains(t, err, "version 99")
}

func minute(m int) time.Time { return time.Date(2026, 3, 1, 10, m, 0, 0, time.UTC) }

func pt(m int, calls, failures uint64, p99 time.Duration, st breaker.State, dlq int64) Point {
	return Point{Start: minute(m), Step: time.Minute, Calls: calls, Failures: failures, Samples: calls / 2, P50: p99 / 4, P99: p99,
		State: st, Worst: st, DLQDepth: dlq}
}

func TestMergeAddsCountsAndTakesTheWorstLatencyAndState(t *testing.T) {
	t.Parallel()
	a := Snapshot{Node: "a", At: minute(3), Services: []View{{Service: "payments", State: breaker.Closed,
		Minutes:     []Point{pt(0, 10, 1, 50*time.Millisecond, breaker.Closed, 2), pt(1, 20, 0, 10*time.Millisecond, breaker.Closed, 2)},
		Transitions: []breaker.Transition{{Name: "payments", To: breaker.Closed, At: minute(1)}}}},
		Track:       TrackView{Minutes: []TrackPoint{{Start: minute(1), Step: time.Minute, Replays: 4, Level: 0, Worst: 1}}},
		Annotations: []Annotation{{At: minute(0), Kind: "disable", Who: "ops"}}}
	b := Snapshot{Node: "b", At: minute(2), Services: []View{
		{Service: "payments", State: breaker.Open,
			Minutes:     []Point{pt(1, 5, 5, 250*time.Millisecond, breaker.Open, -1), pt(2, 1, 0, time.Millisecond, breaker.Open, 3)},
			Transitions: []breaker.Transition{{Name: "payments", To: breaker.Open, At: minute(0)}}},
		{Service: "shipping", Minutes: []Point{pt(2, 7, 0, time.Millisecond, breaker.Closed, 0)}}},
		Track: TrackView{Minutes: []TrackPoint{{Start: minute(1), Step: time.Minute, Replays: 6, Level: 2, Worst: 2}}},
		// The kill switch is shared: both processes saw the same change.
		Annotations: []Annotation{{At: minute(0), Kind: "disable", Who: "ops"}, {At: minute(2), Kind: "canary", Service: "payments"}}}

	m := Merge(0, a, b)
	assert.Equal(t, []string{"a", "b"}, m.Nodes)
	assert.Equal(t, 2, m.Processes())
	assert.Equal(t, minute(3), m.At)
	require.Len(t, m.Services, 2)
	pay, ok := m.Service("payments")
	require.True(t, ok)
	assert.Equal(t, breaker.Open, pay.State, "the most restrictive state")
	require.Len(t, pay.Minutes, 3, "points are aligned on their minute")
	assert.Equal(t, uint64(10), pay.Minutes[0].Calls)
	one := pay.Minutes[1]
	assert.Equal(t, [3]uint64{25, 5, 12}, [3]uint64{one.Calls, one.Failures, one.Samples}, "counts add up")
	assert.Equal(t, 250*time.Millisecond, one.P99, "p99: the highest process's (an upper bound)")
	assert.Equal(t, 62500*time.Microsecond, one.P50)
	assert.Equal(t, breaker.Open, one.Worst)
	assert.Equal(t, int64(2), one.DLQDepth, "a known depth wins over an unreadable one")
	require.Len(t, pay.Transitions, 2)
	assert.Equal(t, breaker.Open, pay.Transitions[0].To, "transitions in time order")
	assert.Len(t, pay.Annotations, 2, "the shared change once, plus payments' own")
	ship, _ := m.Service("shipping")
	assert.Len(t, ship.Annotations, 1)
	require.Len(t, m.Track.Minutes, 1)
	assert.Equal(t, uint64(10), m.Track.Minutes[0].Replays, "replays add up")
	assert.Equal(t, 2, m.Track.Minutes[0].Level, "the highest level")
	assert.Len(t, m.Annotations, 2)

	alone := Merge(0, a)
	assert.Equal(t, 1, alone.Processes())
	p, _ := alone.Service("payments")
	assert.Equal(t, a.Services[0].Minutes, p.Minutes, "one process merges into itself")
}

// Processes with different services: the merged view keeps the cap, the
// first by name get their own series and the rest are summed into Other.
func TestMergeKeepsTheCardinalityCap(t *testing.T) {
	t.Parallel()
	var snaps []Snapshot
	for n := range 3 {
		s := Snapshot{Node: fmt.Sprint(n)}
		for i := range 4 {
			s.Services = append(s.Services, View{Service: fmt.Sprintf("svc-%d-%d", n, i), Minutes: []Point{pt(0, 1, 0, 0, breaker.Closed, 0)}})
		}
		s.Services = append(s.Services, View{Service: Other, Minutes: []Point{pt(0, 100, 0, 0, breaker.Closed, 0)}})
		snaps = append(snaps, s)
	}
	m := Merge(5, snaps...)
	require.Len(t, m.Services, 6, "5 services and Other")
	other, ok := m.Service(Other)
	require.True(t, ok)
	assert.Equal(t, uint64(300+7), other.Minutes[0].Calls, "the processes' Other and the 7 services beyond the cap")
	assert.Equal(t, "svc-0-0", m.Services[1].Service, "the first by name keep their own")
	assert.Equal(t, "svc-1-0", m.Services[5].Service)
}

// A recorder publishes after each tick through Options.Publish, outside
// its lock.
func TestTheTickPublishes(t *testing.T) {
	t.Parallel()
	f := newFeed()
	f.add("payments", 3, 0, 0)
	clk := clock.NewFake(t0)
	var mu sync.Mutex
	var got [][]byte
	var r *Recorder
	r = New(Options{Clock: clk, Read: f.read, Bounds: bounds, Node: "n1", Publish: func(_ context.Context, b []byte) error {
		r.Annotate("publish", "", "the lock is free") // would deadlock under the recorder's lock
		mu.Lock()
		defer mu.Unlock()
		got = append(got, b)
		return nil
	}})
	defer r.Close()
	clk.Advance(time.Minute)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	s, err := Decode(got[0])
	require.NoError(t, err)
	assert.Equal(t, "n1", s.Node)
	v, ok := s.Service("payments")
	require.True(t, ok)
	assert.Equal(t, uint64(3), v.Minutes[0].Calls)
}

// What a process publishes stays small: every ring full (100 services, a
// day of points, 64 transitions each) encodes well under a MiB.
func TestAFullSnapshotEncodesCompactly(t *testing.T) {
	t.Parallel()
	f := newFeed()
	r, clk := newRecorder(t, f, 0)
	for i := range DefaultMaxServices {
		f.add(fmt.Sprintf("svc-%03d", i), 0, 0, 0)
	}
	for m := range 25 * 60 {
		for i := range DefaultMaxServices {
			f.add(fmt.Sprintf("svc-%03d", i), uint64(100+m%7), uint64(m%3), 0, 90, uint64(m%5), 1)
		}
		if m%20 == 0 {
			for i := range DefaultMaxServices {
				r.Transition(breaker.Transition{Name: fmt.Sprintf("svc-%03d", i), From: breaker.Closed, To: breaker.Open, At: clk.Now(), Reason: "5 failures in 60s"})
			}
		}
		clk.Advance(time.Minute)
	}
	b, err := Encode(r.Snapshot())
	require.NoError(t, err)
	t.Logf("%d services, full rings: %d bytes published (%d per service)", DefaultMaxServices, len(b), len(b)/DefaultMaxServices)
	assert.Less(t, len(b), 1<<20)
}
