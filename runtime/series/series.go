// Package series keeps what happened over time for each protected service: a
// small ring of per-interval points (60 one-minute points and 24 one-hour
// points) fed from the runtime's cumulative counters by a ticking loop, plus
// breaker transitions and operator annotations on the same time axis.
//
// Nothing here runs on the call path: a tick (once a minute, on the clock)
// reads the counters the runtime keeps anyway and stores the differences.
//
// # Memory bound
//
// A service holds Minutes+Hours points (PointSize bytes each, 112 on 64-bit),
// up to MaxTransitions transitions (64 bytes each, plus their reasons) and
// two duration histograms: about 14 KiB (ServiceBytes).
// At most Options.MaxServices services (default 100) get a ring of their own,
// first come first kept; the rest are summed into the service Other. The
// recorder therefore holds at most (MaxServices+1) × ServiceBytes ≈ 1.4 MiB with
// the defaults, plus MaxAnnotations annotations, however many services run.
package series

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
)

// Ring sizes and caps.
const (
	Minutes            = 60  // one-minute points kept: the last hour
	Hours              = 24  // one-hour points kept: the last day
	MaxTransitions     = 64  // breaker transitions kept per service, newest win
	MaxAnnotations     = 128 // annotations kept, newest win (and none older than Hours)
	DefaultMaxServices = 100
	// Other is the service that services beyond MaxServices are summed into.
	Other = "__other__"
	// maxNameLen bounds a service name kept as a key.
	maxNameLen = 128
)

// PointSize is the size of one Point in memory.
const PointSize = int(unsafe.Sizeof(Point{}))

// Point is one interval of one service.
type Point struct {
	Start time.Time     // the interval covers [Start, Start+Step)
	Step  time.Duration // time.Minute or time.Hour
	// Calls counts the calls that reached the zone (attempts that succeeded,
	// failed or were abandoned, and calls refused); Failures the attempts
	// counted against the breaker; Rejections the calls the breaker or the
	// bulkhead refused.
	Calls, Failures, Rejections uint64
	// Samples is how many attempt durations were sampled (about one in 64);
	// P50 and P99 are upper bounds of the histogram buckets the quantiles fall
	// in (0 without samples; the last finite bound for slower attempts).
	Samples  uint64
	P50, P99 time.Duration
	// State is the breaker state at the end of the interval; Worst the most
	// restrictive state it was in during the interval; Transitions how many
	// times it moved.
	State, Worst breaker.State
	Transitions  int
	// DLQDepth is the dead letters not yet resolved at the end of the
	// interval (-1: unknown, the queue could not be read).
	DLQDepth int64
}

// Annotation is an event on the time axis: a kill-switch or dry-run change,
// an emergency level change, or whatever another subsystem adds with
// Recorder.Annotate (a canary stage, a fault-injection experiment).
type Annotation struct {
	At   time.Time
	Kind string // disable, enable, dry-run-on, go-live, emergency, canary, ...
	// Service is the service it concerns; empty: every service.
	Service string `json:",omitempty"`
	Who     string `json:",omitempty"`
	Reason  string `json:",omitempty"`
}

// Reading is one look at the runtime's cumulative counters.
type Reading struct {
	Services []ServiceReading
	// DLQ is the unresolved dead-letter depth by domain (the service name);
	// DLQKnown false: the queue could not be read.
	DLQ      map[string]int64
	DLQKnown bool
	// Annotations are control changes to add (the recorder drops those it
	// already holds)).
	Annotations []Annotation
	// Replays and Resolved are the dead-letter replays this process ran to
	// an outcome since it started, and those that resolved their entry.
	Replays, Resolved uint64
	// Level is the emergency level in force (0 NORMAL .. 3 CRITICAL).
	Level int
}

// ServiceReading is one service's counters since the runtime started.
type ServiceReading struct {
	Service                     string
	Calls, Failures, Rejections uint64
	// Buckets is the sampled-duration histogram, not cumulative across
	// buckets, one entry per Options.Bounds plus the overflow.
	Buckets []uint64
	State   breaker.State
}

// Options configure a Recorder.
type Options struct {
	// Clock ticks the loop. Default clock.Real().
	Clock clock.Clock
	// Read returns the counters; it runs on the tick, outside every lock of
	// the recorder, and is given a context bounded by ReadTimeout.
	Read func(ctx context.Context) Reading
	// Bounds are the upper bounds of the histogram buckets of ServiceReading.
	Bounds []time.Duration
	// MaxServices is how many services get a ring of their own. Default
	// DefaultMaxServices.
	MaxServices int
	// ReadTimeout bounds one Read, and one Publish. Default 5s.
	ReadTimeout time.Duration
	// Publish, when set, is given this process's rings (Encode of Snapshot)
	// after every tick, outside every lock of the recorder: the runtime
	// stores them for the fleet's merged view (see Merge).
	Publish func(ctx context.Context, snapshot []byte) error
	// Node names this process in its snapshots.
	Node string
}

// Recorder keeps the rings. It is safe for concurrent use.
type Recorder struct {
	clk     clock.Clock
	read    func(context.Context) Reading
	publish func(context.Context, []byte) error
	node    string
	bounds  []time.Duration
	max     int
	timeout time.Duration

	wg sync.WaitGroup // the tick in flight

	mu          sync.Mutex
	closed      bool
	timer       clock.Timer
	started     time.Time
	last        time.Time // the previous tick
	rings       map[string]*ring
	annotations []Annotation // oldest first
	track       track        // replays and the emergency level, for the whole process
}

type ring struct {
	name string
	// prev are the cumulative counters of the previous tick.
	prevCalls, prevFailures, prevRejections uint64
	prevBuckets                             []uint64
	// cur is what the interval in progress saw of the breaker.
	curWorst       breaker.State
	curTransitions int
	state          breaker.State

	minutes    [Minutes]Point
	minN, minI int // points held; where the next goes
	hours      [Hours]Point
	hourN      int
	hourI      int
	hour       Point    // the hour in progress
	hourBucket []uint64 // its duration histogram
	hourOpen   bool

	transitions [MaxTransitions]breaker.Transition
	trN, trI    int
}

// ServiceBytes is the memory one service's ring holds with b histogram bounds.
func ServiceBytes(b int) int {
	return int(unsafe.Sizeof(ring{})) + 3*8*(b+1) + 2*maxNameLen
}

// New starts a recorder: its first tick is at the next minute boundary.
// Close stops it.
func New(opts Options) *Recorder {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.MaxServices <= 0 {
		opts.MaxServices = DefaultMaxServices
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 5 * time.Second
	}
	if opts.Read == nil {
		opts.Read = func(context.Context) Reading { return Reading{} }
	}
	r := &Recorder{clk: opts.Clock, read: opts.Read, publish: opts.Publish, node: opts.Node, bounds: slices.Clone(opts.Bounds), max: opts.MaxServices,
		timeout: opts.ReadTimeout, rings: make(map[string]*ring)}
	now := r.clk.Now()
	r.started, r.last = now, now
	r.mu.Lock()
	r.armLocked(now)
	r.mu.Unlock()
	return r
}

// Close stops the loop and waits for a tick in flight.
func (r *Recorder) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Recorder) armLocked(now time.Time) {
	next := now.Truncate(time.Minute).Add(time.Minute)
	r.timer = r.clk.AfterFunc(next.Sub(now), r.tick)
}

func (r *Recorder) tick() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()

	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	rd := r.read(ctx)
	cancel()
	now := r.clk.Now()

	r.mu.Lock()
	r.recordLocked(now, rd)
	if !r.closed {
		r.armLocked(now)
	}
	r.mu.Unlock()
	if r.publish != nil {
		_ = r.Publish(context.Background())
	}
}

// Publish hands this process's rings to Options.Publish now (the tick does
// it after every minute). Without Options.Publish it does nothing.
func (r *Recorder) Publish(ctx context.Context) error {
	if r.publish == nil {
		return nil
	}
	b, err := Encode(r.Snapshot())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.publish(ctx, b)
}

// Annotate puts an event on the time axis now: kind says what it is (a
// short word: "canary", "experiment", ...), service the service it concerns
// (empty: every service) and text what happened. Other subsystems call it;
// it takes the recorder's lock briefly and does no I/O. The newest
// MaxAnnotations of the last day are kept.
func (r *Recorder) Annotate(kind, service, text string) {
	if r == nil {
		return
	}
	a := Annotation{At: r.clk.Now(), Kind: clip(kind), Service: clip(service), Reason: clip(text)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.annotateLocked(a.At, []Annotation{a})
}

// SetLevel records the emergency level now in force (a runtime listener):
// the minute in progress shows the highest level it saw.
func (r *Recorder) SetLevel(level int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.track.level = level
	r.track.curWorst = max(r.track.curWorst, level)
}

// clip bounds a string kept from a caller.
func clip(s string) string {
	const maxText = 512
	if len(s) > maxText {
		s = strings.ToValidUTF8(s[:maxText], "")
	}
	return s
}

// Transition records a breaker transition (a runtime OnBreakerChange
// listener): it marks the interval in progress and joins the service's list.
func (r *Recorder) Transition(t breaker.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.ringLocked(t.Name)
	g.curTransitions++
	if t.To.Restriction() > g.curWorst.Restriction() {
		g.curWorst = t.To
	}
	g.state = t.To
	g.transitions[g.trI] = t
	g.transitions[g.trI].Name = g.name
	g.trI = (g.trI + 1) % MaxTransitions
	g.trN = min(g.trN+1, MaxTransitions)
}

// ringLocked returns name's ring, admitting it while there is room and
// handing out Other's after.
func (r *Recorder) ringLocked(name string) *ring {
	if len(name) > maxNameLen {
		name = strings.ToValidUTF8(name[:maxNameLen], "")
	}
	if g, ok := r.rings[name]; ok {
		return g
	}
	if len(r.rings) >= r.max {
		name = Other
		if g, ok := r.rings[Other]; ok {
			return g
		}
	}
	g := &ring{name: name, prevBuckets: make([]uint64, len(r.bounds)+1), hourBucket: make([]uint64, len(r.bounds)+1)}
	r.rings[name] = g
	return g
}

// recordLocked closes the minute ending at now for every service.
func (r *Recorder) recordLocked(now time.Time, rd Reading) {
	start := r.last
	if now.Sub(start) > time.Minute || start.Equal(r.started) {
		start = now.Add(-time.Minute)
	}
	start = start.Truncate(time.Minute)
	r.last = now

	// Sum the readings per ring first: Other sums many services.
	type sum struct {
		calls, failures, rejections uint64
		buckets                     []uint64
		state                       breaker.State
		dlq                         int64
	}
	sums := make(map[*ring]*sum, len(r.rings))
	get := func(g *ring) *sum {
		s, ok := sums[g]
		if !ok {
			s = &sum{buckets: make([]uint64, len(r.bounds)+1), state: g.state}
			sums[g] = s
		}
		return s
	}
	for _, sr := range rd.Services {
		g := r.ringLocked(sr.Service)
		s := get(g)
		s.calls += sr.Calls
		s.failures += sr.Failures
		s.rejections += sr.Rejections
		for i := range min(len(sr.Buckets), len(s.buckets)) {
			s.buckets[i] += sr.Buckets[i]
		}
		if g.name != Other || sr.State.Restriction() > s.state.Restriction() {
			s.state = sr.State
		}
	}
	for domain, n := range rd.DLQ {
		get(r.ringLocked(domain)).dlq += n
	}
	for _, g := range r.rings {
		s := get(g)
		p := Point{Start: start, Step: time.Minute, DLQDepth: -1, State: s.state}
		if rd.DLQKnown {
			p.DLQDepth = s.dlq
		}
		p.Calls, g.prevCalls = delta(s.calls, g.prevCalls), s.calls
		p.Failures, g.prevFailures = delta(s.failures, g.prevFailures), s.failures
		p.Rejections, g.prevRejections = delta(s.rejections, g.prevRejections), s.rejections
		hist := make([]uint64, len(s.buckets))
		for i := range s.buckets {
			hist[i] = delta(s.buckets[i], g.prevBuckets[i])
			g.prevBuckets[i] = s.buckets[i]
		}
		p.Samples, p.P50, p.P99 = quantiles(hist, r.bounds)
		p.Worst, p.Transitions = g.curWorst, g.curTransitions
		if p.State.Restriction() > p.Worst.Restriction() {
			p.Worst = p.State
		}
		g.curWorst, g.curTransitions, g.state = p.State, 0, p.State
		g.pushMinute(p, hist, r.bounds)
	}
	r.track.record(start, rd)
	r.annotateLocked(now, rd.Annotations)
}

func (g *ring) pushMinute(p Point, hist []uint64, bounds []time.Duration) {
	g.minutes[g.minI] = p
	g.minI = (g.minI + 1) % Minutes
	g.minN = min(g.minN+1, Minutes)

	hourStart := p.Start.Truncate(time.Hour)
	if g.hourOpen && !g.hour.Start.Equal(hourStart) {
		g.flushHour()
	}
	if !g.hourOpen {
		g.hour = Point{Start: hourStart, Step: time.Hour, Worst: p.Worst}
		clear(g.hourBucket)
		g.hourOpen = true
	}
	h := &g.hour
	h.Calls += p.Calls
	h.Failures += p.Failures
	h.Rejections += p.Rejections
	h.Transitions += p.Transitions
	h.State, h.DLQDepth = p.State, p.DLQDepth
	if p.Worst.Restriction() > h.Worst.Restriction() {
		h.Worst = p.Worst
	}
	for i := range hist {
		g.hourBucket[i] += hist[i]
	}
	h.Samples, h.P50, h.P99 = quantiles(g.hourBucket, bounds)
	// An hour is complete when its last minute is in.
	if p.Start.Add(time.Minute).Equal(hourStart.Add(time.Hour)) {
		g.flushHour()
	}
}

func (g *ring) flushHour() {
	g.hours[g.hourI] = g.hour
	g.hourI = (g.hourI + 1) % Hours
	g.hourN = min(g.hourN+1, Hours)
	g.hourOpen = false
}

func (r *Recorder) annotateLocked(now time.Time, add []Annotation) {
	for _, a := range add {
		if !slices.ContainsFunc(r.annotations, a.same) {
			r.annotations = append(r.annotations, a)
		}
	}
	r.annotations = trimAnnotations(now, r.annotations)
}

// same reports whether b is a (read again, or from another process).
func (a Annotation) same(b Annotation) bool {
	return b.At.Equal(a.At) && b.Kind == a.Kind && b.Service == a.Service && b.Who == a.Who && b.Reason == a.Reason
}

// trimAnnotations sorts as oldest first and keeps the newest MaxAnnotations
// of the last day.
func trimAnnotations(now time.Time, as []Annotation) []Annotation {
	slices.SortStableFunc(as, func(a, b Annotation) int { return a.At.Compare(b.At) })
	cut := now.Add(-Hours * time.Hour)
	drop := 0
	for drop < len(as) && (as[drop].At.Before(cut) || len(as)-drop > MaxAnnotations) {
		drop++
	}
	return slices.Delete(as, 0, drop)
}

// forService keeps the annotations of every service and those of name.
func forService(as []Annotation, name string) []Annotation {
	out := make([]Annotation, 0, len(as))
	for _, a := range as {
		if a.Service == "" || a.Service == name {
			out = append(out, a)
		}
	}
	return out
}

// delta is now-prev; a counter below its previous value was restarted, so
// all of it is new.
func delta(now, prev uint64) uint64 {
	if now < prev {
		return now
	}
	return now - prev
}

// quantiles returns the sample count and the bucket bounds the median and the
// 99th percentile fall in.
func quantiles(hist []uint64, bounds []time.Duration) (n uint64, p50, p99 time.Duration) {
	for _, c := range hist {
		n += c
	}
	if n == 0 || len(bounds) == 0 {
		return n, 0, 0
	}
	at := func(q float64) time.Duration {
		want := uint64(q*float64(n) + 0.999999)
		var seen uint64
		for i, c := range hist {
			seen += c
			if seen >= want {
				return bounds[min(i, len(bounds)-1)]
			}
		}
		return bounds[len(bounds)-1]
	}
	return n, at(0.50), at(0.99)
}

// Summary is one service's latest state and its last hour at a glance.
type Summary struct {
	Service string
	State   breaker.State
	Last    Point // the latest minute (zero Start: none yet)
	// Calls, Failures and Rejections are the last hour's minute points,
	// oldest first, one per recorded minute: sparkline material.
	Calls, Failures, Rejections []uint64
}

// View is everything kept for one service.
type View struct {
	Service     string
	State       breaker.State
	Minutes     []Point // oldest first
	Hours       []Point // oldest first; the hour in progress last
	Transitions []breaker.Transition
	Annotations []Annotation `json:",omitempty"`
}

// Services summarises every service, sorted by name.
func (r *Recorder) Services() []Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Summary, 0, len(r.rings))
	for _, g := range r.rings {
		s := Summary{Service: g.name, State: g.state}
		mins := g.minuteList()
		if len(mins) > 0 {
			s.Last = mins[len(mins)-1]
		}
		s.Calls, s.Failures, s.Rejections = make([]uint64, len(mins)), make([]uint64, len(mins)), make([]uint64, len(mins))
		for i, p := range mins {
			s.Calls[i], s.Failures[i], s.Rejections[i] = p.Calls, p.Failures, p.Rejections
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Summary) int { return cmp.Compare(a.Service, b.Service) })
	return out
}

// Service returns what is kept for name (Other for a service summed there).
func (r *Recorder) Service(name string) (View, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.rings[name]
	if !ok {
		return View{}, false
	}
	v := g.view()
	v.Annotations = forService(r.annotations, g.name)
	return v, true
}

// view is the ring's points and transitions, without annotations.
func (g *ring) view() View {
	v := View{Service: g.name, State: g.state, Minutes: g.minuteList()}
	for i := range g.hourN {
		v.Hours = append(v.Hours, g.hours[(g.hourI-g.hourN+i+Hours)%Hours])
	}
	if g.hourOpen {
		v.Hours = append(v.Hours, g.hour)
		if len(v.Hours) > Hours {
			v.Hours = v.Hours[1:]
		}
	}
	for i := range g.trN {
		v.Transitions = append(v.Transitions, g.transitions[(g.trI-g.trN+i+MaxTransitions)%MaxTransitions])
	}
	return v
}

// Now is the recorder's clock: the time axis its points are on.
func (r *Recorder) Now() time.Time { return r.clk.Now() }

// Annotations returns the annotations kept, oldest first.
func (r *Recorder) Annotations() []Annotation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.annotations)
}

// Len is how many rings are held (at most MaxServices+1).
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rings)
}

func (g *ring) minuteList() []Point {
	out := make([]Point, g.minN)
	for i := range g.minN {
		out[i] = g.minutes[(g.minI-g.minN+i+Minutes)%Minutes]
	}
	return out
}
