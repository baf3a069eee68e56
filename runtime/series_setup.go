package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/series"
)

// Series keys in the store: each process publishes its rings at
// SeriesKeyPrefix+<node> after every minute tick, with SeriesTTL, so that a
// process that died drops out of the fleet's view within SeriesTTL.
const (
	SeriesKeyPrefix = "series:node:"
	SeriesTTL       = 3 * time.Minute
)

// Series returns the runtime's time series: per service, the last hour in
// one-minute points and the last day in one-hour points, with breaker
// transitions, kill-switch / dry-run and emergency changes and whatever
// other subsystems add with Annotate on the same time axis, and the
// process-wide track (dead-letter replays, emergency level); see the series
// package for the memory bound. It is this process's view; SeriesFleet
// merges every live process's.
func (rt *Runtime) Series() *series.Recorder { return rt.series }

// annotate puts an event of another subsystem (a canary stage, a fault
// injection experiment) on the plots' time axis; before the recorder exists
// (those subsystems open first) there is nothing to put it on.
func (rt *Runtime) annotate(kind, service, text string) {
	rt.annotations.Load().Annotate(kind, service, text)
}

// startSeries starts the minute tick that feeds the rings from Snapshot and
// the dead-letter depth and publishes them to a shared store (Redis, or a
// Config.Store), and listens to
// breaker transitions and emergency levels. Nothing is added to the call
// path.
func (rt *Runtime) startSeries() {
	bounds := DurationBuckets[:]
	opts := series.Options{Clock: rt.clock, Bounds: bounds, Read: rt.seriesReading, Node: rt.node}
	// The embedded store serves this process alone: nothing to share, and
	// nothing written to its log every minute.
	if !rt.ownsStore || rt.redis != nil {
		opts.Publish = rt.publishSeries
	}
	rt.series = series.New(opts)
	rt.annotations.Store(rt.series)
	rt.OnBreakerChange(rt.series.Transition)
	rt.OnEmergencyLevel(func(l emergency.Level) { rt.series.SetLevel(int(l)) })
}

// publishSeries stores this process's snapshot for the fleet's view.
func (rt *Runtime) publishSeries(ctx context.Context, b []byte) error {
	return rt.store.Set(ctx, SeriesKeyPrefix+rt.node, b, SeriesTTL)
}

// unpublishSeries removes this process from the fleet's view (Close).
func (rt *Runtime) unpublishSeries(ctx context.Context) {
	_, _ = rt.store.Delete(ctx, SeriesKeyPrefix+rt.node)
}

// SeriesFleet merges the series of every process that published within
// SeriesTTL (this one read live, not from the store) with series.Merge: the
// counts added up, the highest p50 / p99, the most restrictive state.
// Snapshot.Processes says how many were merged. It lists the keys once
// (Store.Keys) and reads them in one round trip; a snapshot that cannot be
// decoded is skipped and counted in skipped.
func (rt *Runtime) SeriesFleet(ctx context.Context) (merged series.Snapshot, skipped int, err error) {
	own := rt.series.Snapshot()
	keys, err := rt.store.Keys(ctx, SeriesKeyPrefix)
	if err != nil {
		return own, 0, fmt.Errorf("baldur: listing the fleet's series: %w", err)
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == SeriesKeyPrefix+rt.node })
	snaps := []series.Snapshot{own}
	if len(keys) > 0 {
		vals, err := rt.store.GetMany(ctx, keys...)
		if err != nil {
			return own, 0, fmt.Errorf("baldur: reading the fleet's series: %w", err)
		}
		for i, v := range vals {
			if v == nil {
				continue // expired between the listing and the read
			}
			s, err := series.Decode(v)
			if err != nil || own.At.Sub(s.At) > SeriesTTL {
				skipped++
				continue
			}
			if s.Node == "" {
				s.Node = strings.TrimPrefix(keys[i], SeriesKeyPrefix)
			}
			snaps = append(snaps, s)
		}
	}
	return series.Merge(series.DefaultMaxServices, snaps...), skipped, nil
}

// seriesReading is one tick's look at the runtime: per-service counters
// summed over the service's methods, the breaker states, the unresolved
// dead letters by domain, the replays, the emergency level and the control
// and emergency history.
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
		rd.Replays, rd.Resolved = q.Replays()
		if depth, err := dlq.QueueDepth(q).DLQDepth(ctx); err == nil {
			rd.DLQKnown = true
			rd.DLQ = make(map[string]int64, len(depth))
			for _, d := range depth {
				rd.DLQ[d.Domain] += d.Entries
			}
		}
	}
	rd.Level = int(rt.EmergencyLevel())
	if rt.ctl != nil {
		for _, ch := range rt.ctl.History() {
			rd.Annotations = append(rd.Annotations, series.Annotation{At: ch.At, Kind: ch.Action, Who: ch.Who, Reason: ch.Reason})
		}
	}
	if em := rt.Emergency(); em != nil {
		for _, ch := range em.Status().History {
			rd.Annotations = append(rd.Annotations, series.Annotation{At: ch.At, Kind: "emergency",
				Who: ch.Who, Reason: ch.From.String() + " → " + ch.To.String() + reasonSuffix(ch.Reason)})
		}
	}
	return rd
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ": " + r
}
