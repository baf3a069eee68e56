package report

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

// ErrNoReport is returned for a day no report is stored for.
var ErrNoReport = errors.New("no report stored for that day")

// ErrBadDate is returned for a date that is neither YYYY-MM-DD nor "today",
// or that lies in the future.
var ErrBadDate = errors.New("bad report date")

// DefaultRetention is how long a stored report is kept.
const DefaultRetention = 90 * 24 * time.Hour

// MaxDays bounds one Days request.
const MaxDays = 90

// NodeKey is where the report of one process (node) for date (YYYY-MM-DD)
// is stored. Load merges the reports of every node for a date.
func NodeKey(date, node string) string { return dayPrefix(date) + node }

func dayPrefix(date string) string { return "report:" + date + ":node:" }

// Options configure a Generator. The zero value is usable.
type Options struct {
	// Store keeps the reports. Default: the runtime's store.
	Store store.Store
	// Clock tells the time and wakes Start at midnight. Default: the real clock.
	Clock clock.Clock
	// Location draws the day boundaries. Default time.Local.
	Location *time.Location
	// DLQ reports the dead-letter queue. nil: the report lists "dlq" as partial.
	DLQ dlq.DepthSource
	// Retention is how long a stored report is kept. Default 90 days.
	Retention time.Duration
	// Node names this process in its reports; processes sharing a store
	// need distinct names, or they overwrite each other's report. Default:
	// the host name.
	Node string
	// Logger receives report.daily_stored, report.store_failed and
	// report.unreadable. Default slog.Default().
	Logger *slog.Logger
	// OnStored is called after the midnight run stored a day's final report.
	OnStored func(Report)
}

// Generator builds the reports of one runtime. Build it with the runtime:
// it counts from the moment it is built (the first report covers the rest of
// that day), and it adds a breaker listener to the runtime that cannot be
// removed. Its methods are safe for concurrent use.
type Generator struct {
	rt   *runtime.Runtime
	opts Options

	// genMu serializes building reports; the runtime is read with it held,
	// never with mu, which the breaker listener takes.
	genMu sync.Mutex
	day   string    // the day being counted
	from  time.Time // start of the period being counted
	base  snapshot

	mu    sync.Mutex
	trans map[string]*breakerTally // this day's transitions by service

	timerMu sync.Mutex
	timer   clock.Timer
	running bool
	busy    sync.WaitGroup // a midnight run in progress
}

type breakerTally struct {
	opened, transitions int
	last                time.Time
}

// snapshot is the runtime's cumulative counters at one moment.
type snapshot struct {
	calls map[[2]string]runtime.CallStats
	store store.FailoverStats
	dry   map[string]uint64 // would-have decisions by policy
}

// New returns a Generator for rt. It starts nothing: call Start for the
// midnight reports.
func New(rt *runtime.Runtime, opts Options) *Generator {
	if opts.Store == nil {
		opts.Store = rt.Store()
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Node == "" {
		host, _ := os.Hostname()
		opts.Node = cmp.Or(host, "unnamed")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	g := &Generator{rt: rt, opts: opts, trans: map[string]*breakerTally{}}
	now := opts.Clock.Now()
	g.day, g.from, g.base = g.date(now), now, g.snapshot()
	rt.OnBreakerChange(g.onTransition)
	return g
}

func (g *Generator) date(t time.Time) string { return t.In(g.opts.Location).Format(time.DateOnly) }

// Today returns the date of today in the Generator's location.
func (g *Generator) Today() string { return g.date(g.opts.Clock.Now()) }

// ParseDate reads "today", "" (today) or YYYY-MM-DD; a future day is refused.
func (g *Generator) ParseDate(s string) (string, error) {
	today := g.Today()
	if s == "" || strings.EqualFold(s, "today") {
		return today, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, g.opts.Location)
	if err != nil {
		return "", fmt.Errorf("%w %q: want YYYY-MM-DD or today", ErrBadDate, s)
	}
	if d.Format(time.DateOnly) > today {
		return "", fmt.Errorf("%w %q: it is in the future (today is %s)", ErrBadDate, s, today)
	}
	return d.Format(time.DateOnly), nil
}

// onTransition counts a transition for the day. It may run with the
// runtime's lock held: it touches only the Generator's tallies.
func (g *Generator) onTransition(t breaker.Transition) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tl := g.trans[t.Name]
	if tl == nil {
		tl = &breakerTally{}
		g.trans[t.Name] = tl
	}
	tl.transitions++
	if t.To == breaker.Open || t.To == breaker.ForcedOpen {
		tl.opened++
	}
	if t.At.After(tl.last) {
		tl.last = t.At
	}
}

func (g *Generator) snapshot() snapshot {
	return g.snapshotOf(g.rt.Snapshot())
}

// snapshotOf keeps the counters of one runtime snapshot.
func (g *Generator) snapshotOf(rs runtime.Snapshot) snapshot {
	s := snapshot{calls: map[[2]string]runtime.CallStats{}, dry: g.rt.WouldHaveCounts()}
	for _, cs := range rs.Calls {
		s.calls[[2]string{cs.Service, cs.Method}] = cs
	}
	if rs.Store.Failover {
		s.store = rs.Store.FailoverStats
	}
	return s
}

// since returns cur − base, counter by counter; a counter below its base
// (a runtime rebuilt) counts from zero.
func since(cur, base uint64) uint64 {
	if cur < base {
		return cur
	}
	return cur - base
}

func (g *Generator) diff(cur snapshot) ([]runtime.CallStats, StoreDay) {
	out := make([]runtime.CallStats, 0, len(cur.calls))
	for k, c := range cur.calls {
		b := g.base.calls[k]
		out = append(out, c.Sub(b))
	}
	st := StoreDay{
		Degraded:     cur.store.Mode == store.ModeDegraded,
		Degradations: int64(since(uint64(max(cur.store.Degradations, 0)), uint64(max(g.base.store.Degradations, 0)))),
		Replayed:     int64(since(uint64(max(cur.store.Replayed, 0)), uint64(max(g.base.store.Replayed, 0)))),
		Conflicts:    int64(since(uint64(max(cur.store.Conflicts, 0)), uint64(max(g.base.store.Conflicts, 0)))),
	}
	return out, st
}

// reading is what the runtime says at one moment.
type reading struct {
	at       time.Time
	snap     snapshot
	breakers []BreakerDay // state only
	enabled  bool
	dryRun   bool
	degraded bool
	dlq      *DLQDay
}

// read asks the runtime (and the DLQ hook) for everything a report needs.
func (g *Generator) read(ctx context.Context, now time.Time) reading {
	rs := g.rt.Snapshot()
	rd := reading{at: now, snap: g.snapshotOf(rs), enabled: rs.Enabled, dryRun: rs.DryRun, degraded: rs.Store.Degraded}
	for _, b := range rs.Breakers {
		rd.breakers = append(rd.breakers, BreakerDay{Service: b.Name, State: b.State.String()})
	}
	if src := g.opts.DLQ; src != nil {
		if d, err := dlqDay(ctx, src); err == nil {
			rd.dlq = &d
		}
	}
	return rd
}

// buildLocked makes the report of the period being counted, up to rd.at.
// With genMu held.
func (g *Generator) buildLocked(rd reading, final bool) Report {
	calls, st := g.diff(rd.snap)
	st.Degraded = st.Degraded || rd.degraded
	in := Input{
		Date: g.day, Node: g.opts.Node, From: g.from, To: rd.at, Final: final, GeneratedAt: rd.at,
		Calls: calls, Store: st, KillSwitch: rd.enabled, DLQ: rd.dlq,
		DryRun: DryRunDay{On: rd.dryRun, ByPolicy: map[string]int{}},
	}
	for p, n := range rd.snap.dry {
		if d := int(since(n, g.base.dry[p])); d > 0 {
			in.DryRun.Decisions += d
			in.DryRun.ByPolicy[p] = d
		}
	}
	g.mu.Lock()
	for _, bd := range rd.breakers {
		if tl := g.trans[bd.Service]; tl != nil {
			bd.Opened, bd.Transitions, bd.LastChange = tl.opened, tl.transitions, tl.last
		}
		in.Breakers = append(in.Breakers, bd)
	}
	g.mu.Unlock()
	if rd.dlq == nil {
		in.Partial = append(in.Partial, "dlq")
	}
	return Build(in)
}

func dlqDay(ctx context.Context, src dlq.DepthSource) (DLQDay, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	depth, err := src.DLQDepth(ctx)
	if err != nil {
		return DLQDay{}, err
	}
	var d DLQDay
	for _, e := range depth {
		switch e.State {
		case "pending":
			d.Pending += max(e.Entries, 0)
		case "replaying":
			d.Replaying += max(e.Entries, 0)
		case "needs_review":
			d.NeedsReview += max(e.Entries, 0)
		}
	}
	return d, nil
}

// rollLocked closes the counted day when rd was read on a later one: its
// final report is returned (to be stored) and counting starts afresh from
// rd. With genMu held.
func (g *Generator) rollLocked(rd reading) (Report, bool) {
	if g.date(rd.at) == g.day {
		return Report{}, false
	}
	end := midnightAfter(g.from, g.opts.Location)
	closing := rd
	if rd.at.After(end) {
		closing.at = end // counted up to now, but the day ended at midnight
	}
	r := g.buildLocked(closing, true)
	r.GeneratedAt = rd.at
	g.day, g.from, g.base = g.date(rd.at), rd.at, rd.snap
	g.mu.Lock()
	clear(g.trans)
	g.mu.Unlock()
	return r, true
}

func midnightAfter(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
}

// Generate builds this process's report of today so far and stores it (a
// later call, or the midnight run, replaces it). A day that ended without a
// midnight run is closed and stored first. Load gives the fleet's.
func (g *Generator) Generate(ctx context.Context) (Report, error) {
	g.genMu.Lock()
	rd := g.read(ctx, g.opts.Clock.Now())
	prev, rolled := g.rollLocked(rd)
	r := g.buildLocked(rd, false)
	g.genMu.Unlock()
	var errs []error
	if rolled {
		errs = append(errs, g.save(ctx, prev))
	}
	errs = append(errs, g.save(ctx, r))
	return r, errors.Join(errs...)
}

func (g *Generator) save(ctx context.Context, r Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report %s: encoding: %w", r.Date, err)
	}
	if err := g.opts.Store.Set(ctx, NodeKey(r.Date, r.Node), b, g.opts.Retention); err != nil {
		g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "report.store_failed",
			slog.String("date", r.Date), slog.String("error", err.Error()))
		return fmt.Errorf("report %s: storing: %w", r.Date, err)
	}
	return nil
}

// Load returns the report of date (YYYY-MM-DD) merged over every process
// that stored one (see Merge), or ErrNoReport. A node's report that does not
// decode is logged and left out, and the merged report lists it in Partial.
func (g *Generator) Load(ctx context.Context, date string) (Report, error) {
	got, err := g.loadDays(ctx, []string{date})
	if err != nil {
		return Report{}, err
	}
	return got[date].report, got[date].err
}

type loaded struct {
	report Report
	err    error
}

// loadDays loads the merged reports of dates with one listing of the stored
// reports and one read of those of dates.
func (g *Generator) loadDays(ctx context.Context, dates []string) (map[string]loaded, error) {
	all, err := g.opts.Store.Keys(ctx, "report:")
	if err != nil {
		return nil, fmt.Errorf("report: listing the stored reports: %w", err)
	}
	want := map[string]bool{}
	for _, d := range dates {
		want[d] = true
	}
	var keys []string
	for _, k := range all {
		if date, _, ok := strings.Cut(strings.TrimPrefix(k, "report:"), ":node:"); ok && want[date] {
			keys = append(keys, k)
		}
	}
	raws, err := g.opts.Store.GetMany(ctx, keys...)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	reports := map[string][]Report{}
	unreadable := map[string][]string{}
	for i, raw := range raws {
		if raw == nil {
			continue // expired since Keys
		}
		date, node, _ := strings.Cut(strings.TrimPrefix(keys[i], "report:"), ":node:")
		var r Report
		if err := json.Unmarshal(raw, &r); err != nil {
			g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "report.unreadable",
				slog.String("date", date), slog.String("node", node), slog.String("key", keys[i]), slog.String("error", err.Error()))
			unreadable[date] = append(unreadable[date], "node "+node+": stored report unreadable")
			continue
		}
		reports[date] = append(reports[date], r)
	}
	out := make(map[string]loaded, len(dates))
	for _, d := range dates {
		rs, bad := reports[d], unreadable[d]
		switch {
		case len(rs) > 0:
			rs[0].Partial = append(rs[0].Partial, bad...)
			out[d] = loaded{report: Merge(rs...)}
		case len(bad) > 0:
			out[d] = loaded{err: fmt.Errorf("report %s: %s", d, strings.Join(bad, "; "))}
		default:
			out[d] = loaded{err: fmt.Errorf("report %s: %w", d, ErrNoReport)}
		}
	}
	return out, nil
}

// Day is one entry of Days: the report, or why there is none.
type Day struct {
	Date   string  `json:"date"`
	Report *Report `json:"report,omitempty"`
	Text   string  `json:"text"`
	// Missing says why Report is nil: no report stored (the process was not
	// running that day, or the report expired), or the store's error.
	Missing string `json:"missing,omitempty"`
}

// Days returns the fleet's reports of days days ending at date ("today" or
// YYYY-MM-DD), newest first. This process's report of today is generated
// (and stored) fresh first; then the stored reports are listed once and the
// days' read in one round trip. A day without a report is an entry with
// Missing set, not an error.
func (g *Generator) Days(ctx context.Context, date string, days int) ([]Day, error) {
	end, err := g.ParseDate(date)
	if err != nil {
		return nil, err
	}
	if days < 1 || days > MaxDays {
		return nil, fmt.Errorf("%w: days=%d, want 1 to %d", ErrBadDate, days, MaxDays)
	}
	t, _ := time.ParseInLocation(time.DateOnly, end, g.opts.Location)
	today := g.Today()
	dates := make([]string, days)
	for i := range dates {
		dates[i] = time.Date(t.Year(), t.Month(), t.Day()-i, 0, 0, 0, 0, g.opts.Location).Format(time.DateOnly)
	}
	var own Report
	var genErr error
	if dates[0] == today {
		own, genErr = g.Generate(ctx)
	}
	got, loadErr := g.loadDays(ctx, dates)
	out := make([]Day, 0, days)
	for _, d := range dates {
		l := got[d]
		if loadErr != nil {
			l.err = loadErr
		}
		if d == today && (l.err != nil || genErr != nil) {
			// This process's own report (a failed save still leaves one to
			// show) when the fleet's cannot be read, or lacks its latest.
			if own.Date == "" {
				out = append(out, Day{Date: d, Missing: genErr.Error(), Text: d + ": " + genErr.Error()})
				continue
			}
			l = loaded{report: own}
		}
		if l.err != nil {
			why := "no report stored (the process was not running that day, or the report expired)"
			if !errors.Is(l.err, ErrNoReport) {
				why = l.err.Error()
			}
			out = append(out, Day{Date: d, Missing: why, Text: d + ": " + why})
			continue
		}
		r := l.report
		out = append(out, Day{Date: d, Report: &r, Text: Text(r)})
	}
	return out, nil
}

// Start arms the midnight run: at every midnight (in Options.Location) the
// day's final report is built, stored and passed to Options.OnStored. It
// returns at once; Stop ends it.
func (g *Generator) Start() {
	g.timerMu.Lock()
	defer g.timerMu.Unlock()
	if g.running {
		return
	}
	g.running = true
	g.armLocked()
}

func (g *Generator) armLocked() {
	now := g.opts.Clock.Now()
	g.timer = g.opts.Clock.AfterFunc(midnightAfter(now, g.opts.Location).Sub(now), g.midnight)
}

// Stop ends the midnight run and waits for one in progress.
func (g *Generator) Stop() {
	g.timerMu.Lock()
	g.running = false
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.timerMu.Unlock()
	g.busy.Wait()
}

func (g *Generator) midnight() {
	g.timerMu.Lock()
	if !g.running {
		g.timerMu.Unlock()
		return
	}
	g.busy.Add(1)
	g.timerMu.Unlock()
	defer g.busy.Done()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.genMu.Lock()
	r, rolled := g.rollLocked(g.read(ctx, g.opts.Clock.Now()))
	g.genMu.Unlock()
	if rolled {
		if err := g.save(ctx, r); err == nil {
			g.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "report.daily_stored",
				slog.String("date", r.Date), slog.String("severity", string(r.Severity)), slog.String("summary", r.Summary))
		}
		if g.opts.OnStored != nil {
			g.opts.OnStored(r)
		}
	}
	g.timerMu.Lock()
	if g.running {
		g.armLocked()
	}
	g.timerMu.Unlock()
}
