package canary

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// The variables Config reads (README, variables table).
const (
	EnvStages        = "BALDUR_CANARY_STAGES"
	EnvHold          = "BALDUR_CANARY_HOLD"
	EnvStageDeadline = "BALDUR_CANARY_STAGE_DEADLINE"
	EnvMinCalls      = "BALDUR_CANARY_MIN_CALLS"
	EnvMaxErrorRise  = "BALDUR_CANARY_MAX_ERROR_RISE"
	EnvMaxP99Ratio   = "BALDUR_CANARY_MAX_P99_RATIO"
	EnvMaxEmergency  = "BALDUR_CANARY_MAX_EMERGENCY"
)

// Defaults.
const (
	DefaultHold          = 5 * time.Minute
	DefaultStageDeadline = 30 * time.Minute
	DefaultMinCalls      = 100
	DefaultMinSamples    = 20
	DefaultMaxErrorRise  = 1.0 // percentage points
	DefaultMaxP99Ratio   = 1.5
	DefaultInterval      = 10 * time.Second
)

// Thresholds decide a stage. The canary passes when, with at least MinCalls
// canary calls, its error rate is at most the baseline's plus MaxErrorRise
// percentage points and, when both cohorts hold at least MinSamples latency
// samples, its p99 is at most the baseline's p99 times MaxP99Ratio.
type Thresholds struct {
	MinCalls     uint64
	MinSamples   uint64
	MaxErrorRise float64
	MaxP99Ratio  float64
}

// DefaultThresholds: 100 calls, 20 samples, +1 point, p99 × 1.5.
func DefaultThresholds() Thresholds {
	return Thresholds{MinCalls: DefaultMinCalls, MinSamples: DefaultMinSamples,
		MaxErrorRise: DefaultMaxErrorRise, MaxP99Ratio: DefaultMaxP99Ratio}
}

// Config is what the environment sets.
type Config struct {
	Stages        []float64
	Hold          time.Duration
	StageDeadline time.Duration
	Thresholds    Thresholds
	// MaxEmergency: a start or promotion is refused at this emergency level or
	// above (default ELEVATED); EmergencyOff skips the gate.
	MaxEmergency emergency.Level
	EmergencyOff bool
}

// DefaultConfig is the configuration without variables.
func DefaultConfig() Config {
	return Config{Stages: DefaultStages, Hold: DefaultHold, StageDeadline: DefaultStageDeadline,
		Thresholds: DefaultThresholds(), MaxEmergency: emergency.Elevated}
}

var errWantLevel = errors.New("want ELEVATED, HIGH, CRITICAL or off")

// FromEnv reads the BALDUR_CANARY_* variables through r, which collects bad
// values as errors naming the variable.
func FromEnv(r *env.Reader) Config {
	c := DefaultConfig()
	var s string
	if r.String(EnvStages, func(v string) error { _, err := ParseStages(v); return err }, &s) {
		c.Stages, _ = ParseStages(s)
	}
	r.Duration(EnvHold, &c.Hold)
	r.Duration(EnvStageDeadline, &c.StageDeadline)
	n := int(c.Thresholds.MinCalls)
	if r.Int(EnvMinCalls, 1, &n) {
		c.Thresholds.MinCalls = uint64(n)
	}
	positive := func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
		if err != nil || f < 0 {
			return errors.New("want a number ≥ 0")
		}
		return nil
	}
	if r.String(EnvMaxErrorRise, positive, &s) {
		c.Thresholds.MaxErrorRise, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	}
	if r.String(EnvMaxP99Ratio, func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 1 {
			return errors.New("want a ratio ≥ 1")
		}
		return nil
	}, &s) {
		c.Thresholds.MaxP99Ratio, _ = strconv.ParseFloat(strings.TrimSpace(s), 64)
	}
	if r.String(EnvMaxEmergency, func(v string) error {
		if strings.EqualFold(strings.TrimSpace(v), "off") {
			return nil
		}
		if l, err := emergency.ParseLevel(v); err != nil || l == emergency.Normal {
			return errWantLevel
		}
		return nil
	}, &s) {
		if strings.EqualFold(strings.TrimSpace(s), "off") {
			c.EmergencyOff = true
		} else {
			c.MaxEmergency, _ = emergency.ParseLevel(s)
		}
	}
	return c
}
