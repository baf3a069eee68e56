package emergency

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
)

// Sample is what the runtime tells about its calls, cumulatively since it
// started; the Emergency turns two samples into an error rate.
type Sample struct {
	Breakers      int       // breakers in this process
	BreakersOpen  int       // of them OPEN or forced open
	Calls         uint64    // attempts that succeeded or failed, across every zone
	Failures      uint64    // of them failures
	DegradedSince time.Time // when the store went DEGRADED; zero when it is not
}

// Source reads the runtime's Sample; *runtime.Runtime provides one.
type Source interface {
	Sample(ctx context.Context) (Sample, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (Sample, error)

// Sample calls f.
func (f SourceFunc) Sample(ctx context.Context) (Sample, error) { return f(ctx) }

// HostReading is the host's load: the share of CPU time spent busy since the
// previous reading (0..1) and the one-minute load average per CPU.
type HostReading struct {
	CPU  float64
	Load float64
}

// Host reads the machine's CPU and load. ProcHost reads Linux's /proc.
type Host interface {
	Read() (HostReading, error)
}

// ProcHost reads /proc/stat and /proc/loadavg under Root (default "/proc").
// The CPU share is measured between two readings, so the first Read fails
// with ErrFirstReading; it is not safe for concurrent use (the Emergency
// reads it from one goroutine).
type ProcHost struct {
	Root string
	// CPUs divides the load average; default runtime.NumCPU().
	CPUs int

	prevBusy, prevTotal uint64
	primed              bool
}

// ErrFirstReading: a CPU share needs two readings of the counters.
var ErrFirstReading = errors.New("cpu: first reading, no interval to measure yet")

// Read returns the CPU share busy since the previous Read and the load per CPU.
func (p *ProcHost) Read() (HostReading, error) {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	cpus := p.CPUs
	if cpus <= 0 {
		cpus = goruntime.NumCPU()
	}
	busy, total, err := readProcStat(filepath.Join(root, "stat"))
	if err != nil {
		return HostReading{}, err
	}
	load, err := readLoadAvg(filepath.Join(root, "loadavg"))
	if err != nil {
		return HostReading{}, err
	}
	prevBusy, prevTotal, primed := p.prevBusy, p.prevTotal, p.primed
	p.prevBusy, p.prevTotal, p.primed = busy, total, true
	if !primed {
		return HostReading{}, ErrFirstReading
	}
	if total <= prevTotal || busy < prevBusy {
		return HostReading{}, fmt.Errorf("cpu: counters in %s did not move forward", filepath.Join(root, "stat"))
	}
	return HostReading{
		CPU:  float64(busy-prevBusy) / float64(total-prevTotal),
		Load: load / float64(cpus),
	}, nil
}

// readProcStat returns the busy and total jiffies of the "cpu" line: busy is
// everything but idle and iowait.
func readProcStat(path string) (busy, total uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("cpu: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("cpu: %s does not start with a cpu line", path)
	}
	for i, f := range fields[1:] {
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		v, perr := strconv.ParseUint(f, 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("cpu: %s: field %d %q is not a number", path, i+1, f)
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

func readLoadAvg(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, fmt.Errorf("load: %s is empty", path)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("load: %s: %q is not a load average", path, fields[0])
	}
	return v, nil
}

// Reading is one evaluation of the signals. A signal that could not be read
// has its error set and its value meaningless.
type Reading struct {
	At time.Time `json:"at"`
	// BreakersOpen is the share of breakers open (0..1), of Breakers.
	BreakersOpen float64 `json:"breakers_open"`
	Breakers     int     `json:"breakers"`
	// ErrorRate is failures / calls since the previous reading, over Calls calls.
	ErrorRate float64       `json:"error_rate"`
	Calls     uint64        `json:"calls"`
	Degraded  time.Duration `json:"degraded"` // how long the store has been DEGRADED
	CPU       float64       `json:"cpu"`      // share busy since the previous reading
	Load      float64       `json:"load"`     // one-minute load average per CPU
	// CallsError is why the runtime's sample (breakers, error rate,
	// DEGRADED) could not be read, RateError why no error rate could be
	// measured from it (a first sample), HostError why CPU and load could not
	// be read.
	CallsError string `json:"calls_error,omitempty"`
	RateError  string `json:"rate_error,omitempty"`
	HostError  string `json:"host_error,omitempty"`
}

// callsKnown, rateKnown and hostKnown report which parts of the reading are usable.
func (r Reading) callsKnown() bool { return r.CallsError == "" }
func (r Reading) rateKnown() bool  { return r.CallsError == "" && r.RateError == "" }
func (r Reading) hostKnown() bool  { return r.HostError == "" }

// rateProblem says why the error rate is unknown.
func (r Reading) rateProblem() string { return cmpOr(r.CallsError, r.RateError) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Thresholds are what raises the level automatically: each signal has one
// bound per level (ELEVATED, HIGH, CRITICAL, in that order); a bound of 0
// never fires. A signal reaching a bound demands that level; the level in
// force is raised to the highest level any signal demands.
type Thresholds struct {
	// BreakersOpen: share of this process's breakers open. Default 25 %, 50 %, 75 %.
	BreakersOpen [3]float64
	// MinBreakers: fewer breakers than this never demand a level (one open
	// breaker out of one is a dependency down, not an emergency). Default 4.
	MinBreakers int
	// ErrorRate: failures / calls across every zone over the last
	// evaluation interval. Default 10 %, 25 %, 50 %.
	ErrorRate [3]float64
	// MinCalls: an interval with fewer calls never demands a level. Default 20.
	MinCalls uint64
	// Degraded: time the store has spent DEGRADED. Default 1m, 5m, 15m.
	Degraded [3]time.Duration
	// CPU: share of CPU busy. Default 90 %, 97 %, off.
	CPU [3]float64
	// Load: one-minute load average per CPU. Default 2, 4, off.
	Load [3]float64
}

// DefaultThresholds returns the documented defaults (README, "Emergency mode").
func DefaultThresholds() Thresholds {
	return Thresholds{
		BreakersOpen: [3]float64{0.25, 0.50, 0.75}, MinBreakers: 4,
		ErrorRate: [3]float64{0.10, 0.25, 0.50}, MinCalls: 20,
		Degraded: [3]time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute},
		CPU:      [3]float64{0.90, 0.97, 0},
		Load:     [3]float64{2, 4, 0},
	}
}

// Safe are the bounds recovery checks before any level drops: the live
// error rate, CPU share and load per CPU must all be read and below them.
type Safe struct {
	ErrorRate float64 // default 5 %
	CPU       float64 // default 70 %
	Load      float64 // default 1.5 per CPU
}

// DefaultSafe returns the documented defaults.
func DefaultSafe() Safe { return Safe{ErrorRate: 0.05, CPU: 0.70, Load: 1.5} }

// Demand returns the highest level r's signals reach and, for each signal
// reaching it, why ("error rate 31% ≥ 25% (HIGH)"). Signals that were not
// read demand nothing.
func (t Thresholds) Demand(r Reading) (Level, []string) {
	level := Normal
	var why []string
	note := func(l Level, s string) {
		switch {
		case l > level:
			level, why = l, []string{s}
		case l == level && l > Normal:
			why = append(why, s)
		}
	}
	reach := func(v float64, bounds [3]float64) Level {
		got := Normal
		for i, b := range bounds {
			if b > 0 && v >= b {
				got = Level(i + 1)
			}
		}
		return got
	}
	pct := func(v float64) string { return strconv.FormatFloat(v*100, 'f', -1, 64) + "%" }
	if r.callsKnown() {
		if r.Breakers >= t.MinBreakers && r.Breakers > 0 {
			if l := reach(r.BreakersOpen, t.BreakersOpen); l > Normal {
				note(l, fmt.Sprintf("breakers open %s ≥ %s (%s)", pct1(r.BreakersOpen), pct(t.BreakersOpen[l-1]), l))
			}
		}
		if r.rateKnown() && r.Calls >= t.MinCalls && r.Calls > 0 {
			if l := reach(r.ErrorRate, t.ErrorRate); l > Normal {
				note(l, fmt.Sprintf("error rate %s ≥ %s over %d calls (%s)", pct1(r.ErrorRate), pct(t.ErrorRate[l-1]), r.Calls, l))
			}
		}
		var d [3]float64
		for i, b := range t.Degraded {
			d[i] = b.Seconds()
		}
		if l := reach(r.Degraded.Seconds(), d); l > Normal {
			note(l, fmt.Sprintf("store DEGRADED for %s ≥ %s (%s)", r.Degraded.Round(time.Second), t.Degraded[l-1], l))
		}
	}
	if r.hostKnown() {
		if l := reach(r.CPU, t.CPU); l > Normal {
			note(l, fmt.Sprintf("cpu %s ≥ %s (%s)", pct1(r.CPU), pct(t.CPU[l-1]), l))
		}
		if l := reach(r.Load, t.Load); l > Normal {
			note(l, fmt.Sprintf("load %.2f per cpu ≥ %g (%s)", r.Load, t.Load[l-1], l))
		}
	}
	return level, why
}

// Check returns nil when r shows a fleet safe enough to drop a level, or
// why not. Unread signals are not safe: recovery fails closed.
func (s Safe) Check(r Reading) error {
	var why []string
	if !r.rateKnown() {
		why = append(why, "error rate unreadable: "+r.rateProblem())
	} else if r.ErrorRate >= s.ErrorRate && r.Calls > 0 {
		why = append(why, fmt.Sprintf("error rate %s ≥ safe %s", pct1(r.ErrorRate), pct1(s.ErrorRate)))
	}
	if !r.hostKnown() {
		why = append(why, "cpu and load unreadable: "+r.HostError)
	} else {
		if r.CPU >= s.CPU {
			why = append(why, fmt.Sprintf("cpu %s ≥ safe %s", pct1(r.CPU), pct1(s.CPU)))
		}
		if r.Load >= s.Load {
			why = append(why, fmt.Sprintf("load %.2f per cpu ≥ safe %g", r.Load, s.Load))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}

func pct1(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }
