package admin

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/series"
)

// seriesSource reads ?scope=: the fleet's merged snapshot (the default) or
// this process's. A store that cannot be read gives the process's, with
// the error in the fleet info. ok false: the scope was refused.
func (c *call) seriesSource() (snap series.Snapshot, scope string, info *adminapi.SeriesFleetInfo, ok bool) {
	scope = c.r.URL.Query().Get("scope")
	rt := c.h.rt
	switch scope {
	case adminapi.SeriesScopeProcess:
		return rt.Series().Snapshot(), scope, nil, true
	case "", adminapi.SeriesScopeFleet:
		m, skipped, err := rt.SeriesFleet(c.r.Context())
		if err != nil {
			return m, adminapi.SeriesScopeProcess, &adminapi.SeriesFleetInfo{Processes: 1, Nodes: []string{},
				Error: "the store could not be read: this process's series only"}, true
		}
		nodes := m.Nodes
		if nodes == nil {
			nodes = []string{}
		}
		return m, adminapi.SeriesScopeFleet, &adminapi.SeriesFleetInfo{Processes: m.Processes(), Nodes: nodes, Skipped: skipped}, true
	default:
		c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("scope %q: want process or fleet", scope),
			"leave scope out for the fleet's merged series")
		return series.Snapshot{}, "", nil, false
	}
}

// seriesList answers series/: every service's last hour at a glance.
func (c *call) seriesList() {
	snap, scope, info, ok := c.seriesSource()
	if !ok {
		return
	}
	out := adminapi.SeriesList{Scope: scope, Fleet: info, GeneratedAt: c.h.rt.Series().Now().UTC(), StepSeconds: 60,
		Services: []adminapi.SeriesSummary{}, Annotations: annotationViews(snap.Annotations), Track: trackView(snap.Track)}
	// A service built since the last minute tick has no points yet: list
	// it with its breaker's state, so that a new service shows at once.
	seen := make(map[string]bool, len(snap.Services))
	views := slices.Clone(snap.Services)
	for _, s := range views {
		seen[s.Service] = true
	}
	for _, b := range c.h.rt.Snapshot().Breakers {
		if !seen[b.Name] {
			views = append(views, series.View{Service: b.Name, State: b.State})
		}
	}
	slices.SortFunc(views, func(a, b series.View) int { return cmp.Compare(a.Service, b.Service) })
	for _, s := range views {
		v := adminapi.SeriesSummary{Service: s.Service, State: s.State.String(), Calls: []uint64{}, Failures: []uint64{}, Rejections: []uint64{}}
		for _, p := range s.Minutes {
			v.Calls, v.Failures, v.Rejections = append(v.Calls, p.Calls), append(v.Failures, p.Failures), append(v.Rejections, p.Rejections)
		}
		if n := len(s.Minutes); n > 0 {
			p := pointView(s.Minutes[n-1])
			v.Last = &p
		}
		out.Services = append(out.Services, v)
	}
	c.ok(out)
}

// seriesOne answers series/{name}/.
func (c *call) seriesOne() {
	snap, scope, info, ok := c.seriesSource()
	if !ok {
		return
	}
	v, ok := snap.Service(c.name)
	if !ok {
		c.refuse(http.StatusNotFound, GateNotFound, fmt.Sprintf("no series for %q", c.name),
			"a service gets a series at the first minute tick after its zone is built; GET "+adminapi.URL(adminapi.PathSeries)+" lists them")
		return
	}
	out := adminapi.Series{Scope: scope, Fleet: info, GeneratedAt: c.h.rt.Series().Now().UTC(), Service: v.Service,
		State: v.State.String(), Minutes: pointViews(v.Minutes), Hours: pointViews(v.Hours),
		Transitions: make([]adminapi.SeriesTransition, 0, len(v.Transitions)), Annotations: annotationViews(v.Annotations),
		Track: trackView(snap.Track)}
	for _, t := range v.Transitions {
		out.Transitions = append(out.Transitions, adminapi.SeriesTransition{At: t.At, From: t.From.String(), To: t.To.String(), Reason: t.Reason})
	}
	c.ok(out)
}

func pointViews(ps []series.Point) []adminapi.SeriesPoint {
	out := make([]adminapi.SeriesPoint, 0, len(ps))
	for _, p := range ps {
		out = append(out, pointView(p))
	}
	return out
}

func pointView(p series.Point) adminapi.SeriesPoint {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return adminapi.SeriesPoint{Start: p.Start, StepSeconds: int(p.Step / time.Second), Calls: p.Calls, Failures: p.Failures,
		Rejections: p.Rejections, Samples: p.Samples, P50Ms: ms(p.P50), P99Ms: ms(p.P99), State: p.State.String(),
		Worst: p.Worst.String(), Transitions: p.Transitions, DLQDepth: p.DLQDepth}
}

func trackView(t series.TrackView) adminapi.SeriesTrack {
	conv := func(ps []series.TrackPoint) []adminapi.SeriesTrackPoint {
		out := make([]adminapi.SeriesTrackPoint, 0, len(ps))
		for _, p := range ps {
			out = append(out, adminapi.SeriesTrackPoint{Start: p.Start, StepSeconds: int(p.Step / time.Second), Replays: p.Replays,
				Resolved: p.Resolved, Level: emergency.Level(p.Level).String(), Worst: emergency.Level(p.Worst).String()})
		}
		return out
	}
	return adminapi.SeriesTrack{Minutes: conv(t.Minutes), Hours: conv(t.Hours)}
}

func annotationViews(as []series.Annotation) []adminapi.SeriesAnnotation {
	out := make([]adminapi.SeriesAnnotation, 0, len(as))
	for _, a := range as {
		out = append(out, adminapi.SeriesAnnotation{At: a.At, Kind: a.Kind, Service: a.Service, Who: a.Who, Reason: a.Reason})
	}
	return out
}
