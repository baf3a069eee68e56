package admin

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/series"
)

// seriesList answers series/: every service's last hour at a glance.
func (c *call) seriesList() {
	rec := c.h.rt.Series()
	out := adminapi.SeriesList{Scope: adminapi.SeriesScopeProcess, GeneratedAt: rec.Now().UTC(), StepSeconds: 60,
		Services: []adminapi.SeriesSummary{}, Annotations: annotationViews(rec.Annotations())}
	recorded := rec.Services()
	// A service built since the last minute tick has no points yet: list
	// it with its breaker's state, so that a new service shows at once.
	seen := make(map[string]bool, len(recorded))
	for _, s := range recorded {
		seen[s.Service] = true
	}
	for _, b := range c.h.rt.Snapshot().Breakers {
		if !seen[b.Name] {
			recorded = append(recorded, series.Summary{Service: b.Name, State: b.State})
		}
	}
	slices.SortFunc(recorded, func(a, b series.Summary) int { return cmp.Compare(a.Service, b.Service) })
	for _, s := range recorded {
		v := adminapi.SeriesSummary{Service: s.Service, State: s.State.String(), Calls: orEmpty(s.Calls),
			Failures: orEmpty(s.Failures), Rejections: orEmpty(s.Rejections)}
		if !s.Last.Start.IsZero() {
			p := pointView(s.Last)
			v.Last = &p
		}
		out.Services = append(out.Services, v)
	}
	c.ok(out)
}

// seriesOne answers series/{name}/.
func (c *call) seriesOne() {
	rec := c.h.rt.Series()
	v, ok := rec.Service(c.name)
	if !ok {
		c.refuse(http.StatusNotFound, GateNotFound, fmt.Sprintf("no series for %q", c.name),
			"a service gets a series at the first minute tick after its zone is built; GET "+adminapi.URL(adminapi.PathSeries)+" lists them")
		return
	}
	out := adminapi.Series{Scope: adminapi.SeriesScopeProcess, GeneratedAt: rec.Now().UTC(), Service: v.Service,
		State: v.State.String(), Minutes: pointViews(v.Minutes), Hours: pointViews(v.Hours),
		Transitions: make([]adminapi.SeriesTransition, 0, len(v.Transitions)), Annotations: annotationViews(v.Annotations)}
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

func annotationViews(as []series.Annotation) []adminapi.SeriesAnnotation {
	out := make([]adminapi.SeriesAnnotation, 0, len(as))
	for _, a := range as {
		out = append(out, adminapi.SeriesAnnotation{At: a.At, Kind: a.Kind, Who: a.Who, Reason: a.Reason})
	}
	return out
}

func orEmpty(v []uint64) []uint64 {
	if v == nil {
		return []uint64{}
	}
	return v
}
