package runtime

import (
	"context"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/series"
)

// Series returns the runtime's time series: per service, the last hour in
// one-minute points and the last day in one-hour points, with breaker
// transitions and kill-switch / dry-run changes on the same axis (see the
// series package for the memory bound). It is this process's view: the
// counters are not merged across the fleet.
func (rt *Runtime) Series() *series.Recorder { return rt.series }

// startSeries starts the minute tick that feeds the rings from Snapshot and
// the dead-letter depth, and listens to breaker transitions. Nothing is
// added to the call path.
func (rt *Runtime) startSeries() {
	bounds := DurationBuckets[:]
	rt.series = series.New(series.Options{Clock: rt.clock, Bounds: bounds, Read: rt.seriesReading})
	rt.OnBreakerChange(rt.series.Transition)
}

// seriesReading is one tick's look at the runtime: per-service counters
// summed over the service's methods, the breaker states, the unresolved
// dead letters by domain and the control history.
func (rt *Runtime) seriesReading(ctx context.Context) series.Reading {
	snap := rt.Snapshot()
	var rd series.Reading
	idx := make(map[string]int, len(snap.Breakers))
	for _, c := range snap.Calls {
		i, ok := idx[c.Service]
		if !ok {
			i = len(rd.Services)
			idx[c.Service] = i
			rd.Services = append(rd.Services, series.ServiceReading{Service: c.Service, Buckets: make([]uint64, len(DurationBuckets)+1)})
		}
		s := &rd.Services[i]
		rej := c.RejectedOpen + c.RejectedBulkhead
		s.Calls += c.Successes + c.Failures + c.Ignored + rej
		s.Failures += c.Failures
		s.Rejections += rej
		for j := range min(len(c.Buckets), len(s.Buckets)) {
			s.Buckets[j] += c.Buckets[j]
		}
	}
	for _, b := range snap.Breakers {
		if i, ok := idx[b.Name]; ok {
			rd.Services[i].State = b.State
		} else {
			idx[b.Name] = len(rd.Services)
			rd.Services = append(rd.Services, series.ServiceReading{Service: b.Name, State: b.State})
		}
	}
	if q := rt.DLQ(); q != nil {
		if depth, err := dlq.QueueDepth(q).DLQDepth(ctx); err == nil {
			rd.DLQKnown = true
			rd.DLQ = make(map[string]int64, len(depth))
			for _, d := range depth {
				rd.DLQ[d.Domain] += d.Entries
			}
		}
	}
	if rt.ctl != nil {
		for _, ch := range rt.ctl.History() {
			rd.Annotations = append(rd.Annotations, series.Annotation{At: ch.At, Kind: ch.Action, Who: ch.Who, Reason: ch.Reason})
		}
	}
	return rd
}
