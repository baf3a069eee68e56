package series

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/baldur-go/baldur/runtime/breaker"
)

// Fleet view: every process publishes its rings (Snapshot, Encode) to the
// shared store after each minute tick; a reader decodes the snapshots of
// the live processes and merges them (Merge).
//
// Merging adds up what adds up — calls, failures, rejections, samples,
// transitions, replays — point by point on the same minute (or hour). The
// sampled latencies are not mergeable from the points (each process keeps
// only its bucket bounds), so the fleet's p50 and p99 are the highest of the
// processes': an upper bound (the fleet's p99 is never above the slowest
// process's p99). The breaker state and the emergency level are the most
// restrictive any process saw; the dead-letter depth is the highest reading
// (the queue is shared, so the processes read the same queue).

// SnapshotVersion is the version of the encoded Snapshot.
const SnapshotVersion = 1

// MaxSnapshotBytes bounds one decoded snapshot.
const MaxSnapshotBytes = 8 << 20

// Snapshot is what one process publishes; Merge returns one for the fleet.
type Snapshot struct {
	Version int
	Node    string   `json:",omitempty"` // the process that published it
	Nodes   []string `json:",omitempty"` // merged: the processes, sorted
	At      time.Time
	// Services are sorted by name; their Annotations are empty (the
	// snapshot's hold them all).
	Services    []View
	Track       TrackView
	Annotations []Annotation
}

// Processes is how many processes the snapshot covers.
func (s Snapshot) Processes() int {
	if len(s.Nodes) > 0 {
		return len(s.Nodes)
	}
	return 1
}

// Service returns the view of name, its annotations included.
func (s Snapshot) Service(name string) (View, bool) {
	i, ok := slices.BinarySearchFunc(s.Services, name, func(v View, n string) int { return cmp.Compare(v.Service, n) })
	if !ok {
		return View{}, false
	}
	v := s.Services[i]
	v.Annotations = forService(s.Annotations, name)
	return v, true
}

// Snapshot returns everything this recorder holds.
func (r *Recorder) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Version: SnapshotVersion, Node: r.node, At: r.clk.Now(), Services: make([]View, 0, len(r.rings)),
		Track: r.track.view(), Annotations: slices.Clone(r.annotations)}
	for _, g := range r.rings {
		s.Services = append(s.Services, g.view())
	}
	slices.SortFunc(s.Services, func(a, b View) int { return cmp.Compare(a.Service, b.Service) })
	return s
}

// Encode writes s compactly: gzip-compressed JSON (a few KiB per service
// before compression, a tenth after).
func Encode(s Snapshot) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(s); err != nil {
		return nil, fmt.Errorf("series: encoding a snapshot: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("series: encoding a snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrSnapshot is wrapped by Decode's errors.
var ErrSnapshot = errors.New("series: bad snapshot")

// Decode reads what Encode wrote, refusing another version and anything
// larger than MaxSnapshotBytes once decompressed.
func Decode(b []byte) (Snapshot, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxSnapshotBytes+1))
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if len(raw) > MaxSnapshotBytes {
		return Snapshot{}, fmt.Errorf("%w: larger than %d bytes", ErrSnapshot, MaxSnapshotBytes)
	}
	var s Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if s.Version != SnapshotVersion {
		return Snapshot{}, fmt.Errorf("%w: version %d, want %d", ErrSnapshot, s.Version, SnapshotVersion)
	}
	return s, nil
}

// Merge merges the snapshots of several processes into the fleet's (see the
// rules above). At most maxServices services keep a series of their own
// (the first by name), the others are summed into Other, so the merged
// view is bounded like a recorder (DefaultMaxServices when maxServices <= 0).
func Merge(maxServices int, snaps ...Snapshot) Snapshot {
	if maxServices <= 0 {
		maxServices = DefaultMaxServices
	}
	out := Snapshot{Version: SnapshotVersion}
	byName := map[string]*View{}
	var names []string
	for _, s := range snaps {
		out.Nodes = append(out.Nodes, s.Node)
		if s.At.After(out.At) {
			out.At = s.At
		}
		for _, v := range s.Services {
			if _, ok := byName[v.Service]; !ok {
				byName[v.Service] = nil
				names = append(names, v.Service)
			}
		}
		out.Track.Minutes = mergePoints(out.Track.Minutes, s.Track.Minutes, Minutes, trackStart, combineTrack)
		out.Track.Hours = mergePoints(out.Track.Hours, s.Track.Hours, Hours, trackStart, combineTrack)
		for _, a := range s.Annotations {
			if !slices.ContainsFunc(out.Annotations, a.same) {
				out.Annotations = append(out.Annotations, a)
			}
		}
	}
	slices.Sort(out.Nodes)
	slices.Sort(names)
	kept, own := map[string]string{}, 0
	for _, n := range names {
		if n != Other && own < maxServices {
			kept[n] = n
			own++
		} else {
			kept[n] = Other
		}
	}
	for _, s := range snaps {
		for _, v := range s.Services {
			name := kept[v.Service]
			acc := byName[name]
			if acc == nil {
				acc = &View{Service: name, State: v.State}
				byName[name] = acc
			}
			mergeView(acc, v)
		}
	}
	for _, n := range names {
		if v := byName[n]; v != nil && kept[n] == n {
			out.Services = append(out.Services, *v)
		}
	}
	if v := byName[Other]; v != nil && !slices.ContainsFunc(out.Services, func(s View) bool { return s.Service == Other }) {
		out.Services = append(out.Services, *v)
	}
	slices.SortFunc(out.Services, func(a, b View) int { return cmp.Compare(a.Service, b.Service) })
	out.Annotations = trimAnnotations(out.At, out.Annotations)
	return out
}

// mergeView adds v to acc.
func mergeView(acc *View, v View) {
	if v.State.Restriction() > acc.State.Restriction() {
		acc.State = v.State
	}
	acc.Minutes = mergePoints(acc.Minutes, v.Minutes, Minutes, pointStart, combinePoint)
	acc.Hours = mergePoints(acc.Hours, v.Hours, Hours, pointStart, combinePoint)
	for _, t := range v.Transitions {
		t.Name = acc.Service
		acc.Transitions = append(acc.Transitions, t)
	}
	slices.SortStableFunc(acc.Transitions, func(a, b breaker.Transition) int { return a.At.Compare(b.At) })
	if n := len(acc.Transitions) - MaxTransitions; n > 0 {
		acc.Transitions = slices.Delete(acc.Transitions, 0, n)
	}
}

// combinePoint adds q to p (see the merge rules at the top of this file).
func combinePoint(p, q Point) Point {
	p.Calls += q.Calls
	p.Failures += q.Failures
	p.Rejections += q.Rejections
	p.Samples += q.Samples
	p.P50, p.P99 = max(p.P50, q.P50), max(p.P99, q.P99)
	if q.State.Restriction() > p.State.Restriction() {
		p.State = q.State
	}
	if q.Worst.Restriction() > p.Worst.Restriction() {
		p.Worst = q.Worst
	}
	p.Transitions += q.Transitions
	p.DLQDepth = max(p.DLQDepth, q.DLQDepth)
	return p
}

func pointStart(p Point) time.Time      { return p.Start }
func trackStart(p TrackPoint) time.Time { return p.Start }

// mergePoints merges two lists sorted by start: points on the same start
// are combined; the newest keep are kept.
func mergePoints[T any](a, b []T, keep int, start func(T) time.Time, combine func(T, T) T) []T {
	out := make([]T, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && start(a[i]).Before(start(b[j]))):
			out = append(out, a[i])
			i++
		case i == len(a) || start(b[j]).Before(start(a[i])):
			out = append(out, b[j])
			j++
		default:
			out = append(out, combine(a[i], b[j]))
			i, j = i+1, j+1
		}
	}
	if n := len(out) - keep; n > 0 {
		out = out[n:]
	}
	return out
}
