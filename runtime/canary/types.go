package canary

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/annotations"
)

// Scope kinds: one method, every method of a service, or every zone.
const (
	ScopeMethod  = "method"
	ScopeService = "service"
	ScopeAll     = "all"
)

// Scope says which zones an override applies to.
type Scope struct {
	Kind    string `json:"kind"`
	Service string `json:"service,omitempty"`
	Method  string `json:"method,omitempty"`
}

// String is "all", "service payments" or "method payments.Charge".
func (s Scope) String() string {
	switch s.Kind {
	case ScopeAll:
		return ScopeAll
	case ScopeService:
		return ScopeService + " " + s.Service
	}
	return s.Kind + " " + s.Service + "." + s.Method
}

// Validate checks that the scope's fields fit its kind.
func (s Scope) Validate() error {
	switch s.Kind {
	case ScopeAll:
		if s.Service != "" || s.Method != "" {
			return &InputError{Field: "scope", Reason: "scope all takes no service or method"}
		}
	case ScopeService:
		if s.Service == "" || s.Method != "" {
			return &InputError{Field: "scope", Reason: "scope service takes a service and no method"}
		}
	case ScopeMethod:
		if s.Service == "" || s.Method == "" {
			return &InputError{Field: "scope", Reason: "scope method takes a service and a method"}
		}
	default:
		return &InputError{Field: "scope", Reason: fmt.Sprintf("kind %q: want method, service or all", s.Kind)}
	}
	return nil
}

// Config types: the policy families a rollout changes, as the key table
// names them (annotations.Key.Rollout). One rollout at a time per config
// type and scope.
const (
	TypeRetry    = annotations.RolloutRetry
	TypeTimeout  = annotations.RolloutTimeout
	TypeBreaker  = annotations.RolloutBreaker
	TypeBulkhead = annotations.RolloutBulkhead
)

// States of a rollout.
const (
	StateRunning    = "running"
	StateCompleted  = "completed"   // at 100 % and passing: now a plain override
	StateRolledBack = "rolled_back" // a bad cohort, the watchdog or the panic button
	StateAborted    = "aborted"     // an operator's abort
)

// Verdict outcomes.
const (
	VerdictWait = "wait" // not enough calls yet, or the stage's hold not over
	VerdictPass = "pass"
	VerdictFail = "fail"
)

// Gate names, in the order they are checked.
const (
	GateKillSwitch = "kill_switch"
	GateEmergency  = "emergency"
	GateGovernance = "governance"
	GateChaos      = "chaos"
)

// Gates is the fixed order of the gates.
var GateOrder = []string{GateKillSwitch, GateEmergency, GateGovernance, GateChaos}

// DefaultStages are the fractions of calls, in percent, of each stage.
var DefaultStages = []float64{1, 10, 50, 100}

// Figures are one cohort's counters summed over the fleet for the stage.
type Figures struct {
	Calls     uint64  `json:"calls"`
	Failures  uint64  `json:"failures"`
	ErrorRate float64 `json:"error_rate_pct"` // failures / calls, in percent
	Samples   uint64  `json:"latency_samples"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
}

// Verdict is the last judgement of the current stage.
type Verdict struct {
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// StageRecord is one finished stage.
type StageRecord struct {
	Percent  float64   `json:"percent"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Outcome  string    `json:"outcome"` // promoted, rolled_back, aborted, completed
	Canary   Figures   `json:"canary"`
	Baseline Figures   `json:"baseline"`
	Reason   string    `json:"reason,omitempty"`
}

// Rollout is one staged rollout of an override.
type Rollout struct {
	ID        string        `json:"id"`
	Scope     Scope         `json:"scope"`
	Directive string        `json:"directive"`
	Types     []string      `json:"types"`
	Stages    []float64     `json:"stages"` // percent of calls, rising, the last 100
	Stage     int           `json:"stage"`  // index into Stages
	Hold      time.Duration `json:"hold_ns"`
	State     string        `json:"state"`
	Who       string        `json:"who"`
	Reason    string        `json:"reason"`
	Started   time.Time     `json:"started"`
	// StageStarted is when the current stage began; Deadline is when the
	// watchdog rolls it back if it has not been promoted.
	StageStarted time.Time `json:"stage_started"`
	Deadline     time.Time `json:"deadline"`
	Ended        time.Time `json:"ended,omitzero"`
	EndReason    string    `json:"end_reason,omitempty"`
	// Canary and Baseline are the current stage's cohort figures, as the
	// leader last summed them.
	Canary   Figures `json:"canary"`
	Baseline Figures `json:"baseline"`
	// Reference is the baseline of the last stage that had one: the 100 %
	// stage has no baseline cohort and is judged against it.
	Reference *Figures `json:"reference,omitempty"`
	Verdict   Verdict  `json:"verdict"`
	// Blocked names the gate that refused the last promotion ("" when none).
	Blocked string `json:"blocked,omitempty"`
	// Bypass is the written reason of an audited gate bypass; Review flags it.
	Bypass  string        `json:"bypass,omitempty"`
	Review  bool          `json:"review,omitempty"`
	History []StageRecord `json:"history,omitempty"`
}

// Percent is the current stage's share of calls.
func (r Rollout) Percent() float64 {
	if r.Stage < 0 || r.Stage >= len(r.Stages) {
		return 0
	}
	return r.Stages[r.Stage]
}

// Active reports whether the rollout is still running.
func (r Rollout) Active() bool { return r.State == StateRunning }

// overlaps reports whether r and o change one config type on one scope.
func (r Rollout) overlaps(scope Scope, types []string) (string, bool) {
	if r.Scope != scope {
		return "", false
	}
	for _, t := range types {
		if slices.Contains(r.Types, t) {
			return t, true
		}
	}
	return "", false
}

// Request is what an operator asks to start.
type Request struct {
	Scope     Scope
	Directive string
	// Stages in percent (0 < p ≤ 100, rising, the last 100); nil: Config.Stages.
	Stages []float64
	// Hold per stage; 0: Config.Hold.
	Hold   time.Duration
	Who    string
	Reason string
	// Bypass, when set, is the written reason for letting this rollout through
	// every gate but the kill switch, at its start and every promotion; the
	// rollout is flagged for review.
	Bypass string
}

// InputError is bad input: which field, and why. Nothing was changed.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return "canary: " + e.Field + ": " + e.Reason }

// BlockedError is a start or a promotion a gate refused.
type BlockedError struct {
	Gate   string
	Reason string
}

func (e *BlockedError) Error() string { return "canary: blocked by " + e.Gate + ": " + e.Reason }

// Sentinel errors.
var (
	// ErrNotFound: no rollout of that ID.
	ErrNotFound = errors.New("canary: no such rollout")
	// ErrNotActive: the rollout has ended.
	ErrNotActive = errors.New("canary: rollout is not running")
	// ErrContention: the state changed under every retry of a write.
	ErrContention = errors.New("canary: state kept changing; try again")
	// ErrCorrupt: the stored state does not decode.
	ErrCorrupt = errors.New("canary: stored state is corrupt")
)

// CheckStages validates percentages: each in (0, 100], rising, the last 100.
func CheckStages(stages []float64) error {
	if len(stages) == 0 {
		return &InputError{Field: "stages", Reason: "at least one stage (the last 100 %)"}
	}
	prev := 0.0
	for i, p := range stages {
		if !(p > 0 && p <= 100) {
			return &InputError{Field: "stages", Reason: fmt.Sprintf("stage %d is %g %%: a fraction must be above 0 %% and at most 100 %%", i+1, p)}
		}
		if p <= prev {
			return &InputError{Field: "stages", Reason: fmt.Sprintf("stage %d (%g %%) does not rise above stage %d (%g %%)", i+1, p, i, prev)}
		}
		prev = p
	}
	if prev != 100 {
		return &InputError{Field: "stages", Reason: fmt.Sprintf("the last stage is %g %%: it must be 100 %%", prev)}
	}
	return nil
}

// ParseStages reads "1,10,50,100" (a % sign after a figure is allowed).
func ParseStages(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "%")
		p, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, &InputError{Field: "stages", Reason: fmt.Sprintf("%q is not a percentage", f)}
		}
		out = append(out, p)
	}
	return out, CheckStages(out)
}
