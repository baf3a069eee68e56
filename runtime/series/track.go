package series

import "time"

// TrackPoint is one interval of the whole process (merged: the fleet), on
// the same time axis as the services' points.
type TrackPoint struct {
	Start time.Time
	Step  time.Duration
	// Replays counts the dead-letter replays run to an outcome in the
	// interval, Resolved those that resolved their entry.
	Replays, Resolved uint64
	// Level is the emergency level at the end of the interval (0 NORMAL ..
	// 3 CRITICAL), Worst the highest level in force during it.
	Level, Worst int
}

// TrackView is the track's last hour and last day, oldest first (the hour
// in progress last).
type TrackView struct {
	Minutes []TrackPoint
	Hours   []TrackPoint
}

// track is the process-wide ring: replays and the emergency level.
type track struct {
	prevReplays, prevResolved uint64
	level, curWorst           int

	minutes  circ[TrackPoint]
	hours    circ[TrackPoint]
	hour     TrackPoint
	hourOpen bool
}

// circ is a fixed-size ring of the newest values.
type circ[T any] struct {
	buf  []T
	n, i int
}

func (c *circ[T]) push(size int, v T) {
	if c.buf == nil {
		c.buf = make([]T, size)
	}
	c.buf[c.i] = v
	c.i = (c.i + 1) % size
	c.n = min(c.n+1, size)
}

// list returns the values, oldest first.
func (c *circ[T]) list() []T {
	out := make([]T, c.n)
	for k := range c.n {
		out[k] = c.buf[(c.i-c.n+k+len(c.buf))%len(c.buf)]
	}
	return out
}

// record closes the minute starting at start.
func (t *track) record(start time.Time, rd Reading) {
	p := TrackPoint{Start: start, Step: time.Minute, Level: rd.Level, Worst: max(t.curWorst, rd.Level)}
	p.Replays, t.prevReplays = delta(rd.Replays, t.prevReplays), rd.Replays
	p.Resolved, t.prevResolved = delta(rd.Resolved, t.prevResolved), rd.Resolved
	t.level, t.curWorst = rd.Level, rd.Level
	t.minutes.push(Minutes, p)

	hourStart := start.Truncate(time.Hour)
	if t.hourOpen && !t.hour.Start.Equal(hourStart) {
		t.flushHour()
	}
	if !t.hourOpen {
		t.hour = TrackPoint{Start: hourStart, Step: time.Hour}
		t.hourOpen = true
	}
	t.hour = combineTrack(t.hour, p)
	t.hour.Start, t.hour.Step, t.hour.Level = hourStart, time.Hour, p.Level
	if start.Add(time.Minute).Equal(hourStart.Add(time.Hour)) {
		t.flushHour()
	}
}

func (t *track) flushHour() {
	t.hours.push(Hours, t.hour)
	t.hourOpen = false
}

func (t *track) view() TrackView {
	v := TrackView{Minutes: t.minutes.list(), Hours: t.hours.list()}
	if t.hourOpen {
		v.Hours = append(v.Hours, t.hour)
		if len(v.Hours) > Hours {
			v.Hours = v.Hours[1:]
		}
	}
	return v
}

// combineTrack adds q to p: replays summed, the higher level kept.
func combineTrack(p, q TrackPoint) TrackPoint {
	p.Replays += q.Replays
	p.Resolved += q.Resolved
	p.Level, p.Worst = max(p.Level, q.Level), max(p.Worst, q.Worst)
	return p
}

// Track returns the process-wide track: dead-letter replays per interval
// and the emergency level.
func (r *Recorder) Track() TrackView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.track.view()
}
