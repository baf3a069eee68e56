// Package chaos is fault injection for rehearsals: an operator injects errors
// and/or added latency into a fraction of one service's calls, for a bounded
// time, to watch the breaker, retries and fallbacks act (the README's "Fault
// injection").
//
// Experiments live in a store.Store (Redis: the fleet; embedded: this host),
// reach other processes through the change feed, with a poll behind it, and
// end by themselves at their deadline (at most MaxDuration after the start).
// Nothing injects unless an operator started an experiment: there is no
// default experiment and no variable that starts one.
//
// The hot path reads one atomic pointer per zone (Slot.Load): nil when the
// service has no experiment. Only then does a call pay for a random draw.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"
)

// ErrInjected matches every failure an experiment injects (errors.Is). The
// runtime counts it as a failure whatever the Classifier says: the breaker,
// retries and fallbacks see it as they would see the service failing.
var ErrInjected = errors.New("chaos: failure injected by a fault-injection experiment")

// InjectedError is the failure an experiment injects in place of a call: the
// real method did not run.
type InjectedError struct {
	Service string
}

func (e *InjectedError) Error() string {
	return e.Service + ": failure injected by a fault-injection experiment (baldur chaos); the call did not run"
}

// Is makes errors.Is(err, ErrInjected) true.
func (e *InjectedError) Is(target error) bool { return target == ErrInjected }

// MaxDuration caps an experiment's duration: one that would run longer is
// refused. An experiment nobody stops ends at its deadline anyway.
const MaxDuration = time.Hour

// Errors of Start and Stop; the admin API turns them into 400 (invalid),
// 404 (not found) and 409 (refused) answers.
var (
	// ErrInvalid is a bad experiment: the message names the field and why.
	ErrInvalid = errors.New("invalid experiment")
	// ErrUnknownService is a service no zone of this process declares.
	ErrUnknownService = errors.New("unknown service")
	// ErrRefused is an experiment refused by the state of the fleet: the
	// emergency level is HIGH or above, or chaos is disabled in this process.
	ErrRefused = errors.New("fault injection refused")
	// ErrNotFound is a Stop of a service without an experiment.
	ErrNotFound = errors.New("no experiment on this service")
	// ErrUnavailable is a store that could not be read or written.
	ErrUnavailable = errors.New("the chaos store is unavailable")
)

// Experiment is one service's fault injection, as stored and listed.
type Experiment struct {
	Service string `json:"service"`
	// ErrorPercent is the share of calls failed with ErrInjected, 0 to 100.
	ErrorPercent float64 `json:"error_percent"`
	// Latency is added before the calls it is applied to; 0 adds none.
	Latency time.Duration `json:"latency_ns"`
	// LatencyPercent is the share of calls delayed, 0 to 100 (100 when
	// Latency is set and this is 0).
	LatencyPercent float64   `json:"latency_percent"`
	StartedAt      time.Time `json:"started_at"`
	Until          time.Time `json:"until"`
	By             string    `json:"by"`
	Reason         string    `json:"reason,omitempty"`
	Node           string    `json:"node,omitempty"`
}

// Active reports whether e is in force at now.
func (e Experiment) Active(now time.Time) bool { return now.Before(e.Until) }

// Spec is what an operator asks for: Start turns it into an Experiment.
type Spec struct {
	Service        string
	ErrorPercent   float64
	Latency        time.Duration
	LatencyPercent float64
	Duration       time.Duration
	By, Reason     string
}

// Validate checks every field against max (the duration cap) and returns
// one error naming each bad field and why (errors.Is ErrInvalid).
func (s Spec) Validate(max time.Duration) error {
	var bad []string
	if strings.TrimSpace(s.Service) == "" {
		bad = append(bad, "service: a service name is required")
	}
	pct := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 100 {
			bad = append(bad, fmt.Sprintf("%s: %v%% is outside 0–100%%", name, v))
		}
	}
	pct("errors", s.ErrorPercent)
	pct("latency_percent", s.LatencyPercent)
	if s.Latency < 0 {
		bad = append(bad, fmt.Sprintf("latency: %v is negative", s.Latency))
	} else if s.Latency > max {
		bad = append(bad, fmt.Sprintf("latency: %v is longer than the experiment cap %v", s.Latency, max))
	}
	if s.LatencyPercent > 0 && s.Latency == 0 {
		bad = append(bad, "latency_percent: set without a latency to add")
	}
	if s.ErrorPercent == 0 && s.Latency == 0 {
		bad = append(bad, "no fault: set errors (a percentage above 0) and/or latency (a duration above 0)")
	}
	switch {
	case s.Duration <= 0:
		bad = append(bad, fmt.Sprintf("for: %v must be above 0 (an experiment always ends by itself)", s.Duration))
	case s.Duration > max:
		bad = append(bad, fmt.Sprintf("for: %v is longer than the cap %v", s.Duration, max))
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
}

// Fault is an experiment as the hot path reads it: thresholds precomputed,
// the injected error built once.
type Fault struct {
	Experiment
	errBelow uint64 // a draw below it fails the call (53-bit scale)
	latBelow uint64 // a draw below it delays the call
	err      error
}

const drawScale = 1 << 53

func threshold(pct float64) uint64 { return uint64(pct / 100 * drawScale) }

func newFault(e Experiment) *Fault {
	lp := e.LatencyPercent
	if e.Latency > 0 && lp == 0 {
		lp = 100
	}
	return &Fault{Experiment: e, errBelow: threshold(e.ErrorPercent), latBelow: threshold(lp), err: &InjectedError{Service: e.Service}}
}

// Slot is one service's experiment as the zones of that service read it.
type Slot struct {
	p       atomic.Pointer[Fault]
	errors  atomic.Uint64
	delays  atomic.Uint64
	service string
	c       *Chaos
}

// Load returns the fault in force, nil without an experiment: the one atomic
// load a call makes when nothing is injected.
func (s *Slot) Load() *Fault { return s.p.Load() }

// Injected returns how many calls this process failed and delayed for the service.
func (s *Slot) Injected() (errs, delays uint64) { return s.errors.Load(), s.delays.Load() }

// Inject applies f to one call: it may wait f.Latency (ending early, with
// ctx's error, when ctx is done first) and may return f's injected error.
// It injects nothing while the emergency level is HIGH or above. It reads
// no clock: the experiment's timer empties the slot at its deadline.
func (s *Slot) Inject(ctx context.Context, f *Fault) error {
	c := s.c
	if !c.allowed() {
		return nil
	}
	if f.latBelow != 0 && rand.Uint64()>>11 < f.latBelow {
		n := s.delays.Add(1)
		c.sampled(s.service, "latency", n)
		if err := c.sleep(ctx, f.Latency); err != nil {
			return err
		}
	}
	if f.errBelow != 0 && rand.Uint64()>>11 < f.errBelow {
		n := s.errors.Add(1)
		c.sampled(s.service, "error", n)
		return f.err
	}
	return nil
}
