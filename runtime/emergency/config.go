package emergency

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
)

// Environment variables read by FromEnv (the README's env table lists them
// with their defaults).
const (
	EnvAuto          = "BALDUR_EMERGENCY_AUTO"            // on/off: the signals raise and recover
	EnvStabilisation = "BALDUR_EMERGENCY_STABILISATION"   // least time between a change and a step down
	EnvEvalInterval  = "BALDUR_EMERGENCY_EVAL_INTERVAL"   // how often the signals are read
	EnvBreakersOpen  = "BALDUR_EMERGENCY_BREAKERS_OPEN"   // three shares: ELEVATED,HIGH,CRITICAL
	EnvErrorRate     = "BALDUR_EMERGENCY_ERROR_RATE"      // three shares
	EnvDegraded      = "BALDUR_EMERGENCY_DEGRADED"        // three durations
	EnvCPU           = "BALDUR_EMERGENCY_CPU"             // three shares
	EnvLoad          = "BALDUR_EMERGENCY_LOAD"            // three loads per CPU
	EnvSafeErrorRate = "BALDUR_EMERGENCY_SAFE_ERROR_RATE" // recovery gate bounds
	EnvSafeCPU       = "BALDUR_EMERGENCY_SAFE_CPU"
	EnvSafeLoad      = "BALDUR_EMERGENCY_SAFE_LOAD"
)

// Config is what the environment sets; Apply copies it into Options. Its
// zero value is manual mode (only operators move the level) with the
// default windows and bounds; FromEnv turns Auto on unless
// BALDUR_EMERGENCY_AUTO=off.
type Config struct {
	Auto          bool
	Stabilisation time.Duration
	EvalInterval  time.Duration
	Thresholds    Thresholds
	Safe          Safe
}

// FromEnv reads the BALDUR_EMERGENCY_* variables through r, which collects
// every bad value as an error naming the variable and the value; unset
// variables keep the defaults.
func FromEnv(r *env.Reader) Config {
	c := Config{Stabilisation: DefaultStabilisation, EvalInterval: DefaultEvalInterval,
		Thresholds: DefaultThresholds(), Safe: DefaultSafe()}
	c.Auto = true
	r.Bool(EnvAuto, &c.Auto)
	r.Duration(EnvStabilisation, &c.Stabilisation)
	r.Duration(EnvEvalInterval, &c.EvalInterval)
	triple(r, EnvBreakersOpen, &c.Thresholds.BreakersOpen, parseShare, "shares")
	triple(r, EnvErrorRate, &c.Thresholds.ErrorRate, parseShare, "shares")
	triple(r, EnvCPU, &c.Thresholds.CPU, parseShare, "shares")
	triple(r, EnvLoad, &c.Thresholds.Load, parseLoad, "loads per CPU")
	var secs [3]float64
	for i, d := range c.Thresholds.Degraded {
		secs[i] = d.Seconds()
	}
	if triple(r, EnvDegraded, &secs, func(s string) (float64, error) {
		d, err := env.ParseDuration(s, false)
		return d.Seconds(), err
	}, "durations") {
		for i, s := range secs {
			c.Thresholds.Degraded[i] = time.Duration(s * float64(time.Second))
		}
	}
	single(r, EnvSafeErrorRate, &c.Safe.ErrorRate, parseShare)
	single(r, EnvSafeCPU, &c.Safe.CPU, parseShare)
	single(r, EnvSafeLoad, &c.Safe.Load, parseLoad)
	return c
}

// Apply sets o's fields from c; zero fields leave o's defaults.
func (c Config) Apply(o *Options) {
	o.Manual = !c.Auto
	if c.Stabilisation > 0 {
		o.Stabilisation = c.Stabilisation
	}
	if c.EvalInterval != 0 {
		o.EvalInterval = c.EvalInterval
	}
	if c.Thresholds != (Thresholds{}) {
		thr := c.Thresholds
		o.Thresholds = &thr
	}
	if c.Safe != (Safe{}) {
		safe := c.Safe
		o.Safe = &safe
	}
}

// triple reads "a,b,c": one bound per level, each "off" or a value parse
// accepts, rising from ELEVATED to CRITICAL.
func triple(r *env.Reader, name string, dst *[3]float64, parse func(string) (float64, error), what string) bool {
	v, ok := r.Lookup(name)
	if !ok {
		return false
	}
	parts := strings.Split(v, ",")
	want := fmt.Sprintf("three %s for ELEVATED,HIGH,CRITICAL, each rising or off, such as %q", what, example(name))
	if len(parts) != 3 {
		r.Bad(name, v, want)
		return false
	}
	var out [3]float64
	last := 0.0
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if strings.EqualFold(p, "off") {
			continue
		}
		f, err := parse(p)
		if err != nil || f <= last {
			r.Bad(name, v, want)
			return false
		}
		out[i], last = f, f
	}
	*dst = out
	return true
}

func single(r *env.Reader, name string, dst *float64, parse func(string) (float64, error)) {
	v, ok := r.Lookup(name)
	if !ok {
		return
	}
	f, err := parse(strings.TrimSpace(v))
	if err != nil || f <= 0 {
		r.Bad(name, v, "a positive value such as "+strconv.Quote(example(name)))
		return
	}
	*dst = f
}

func example(name string) string {
	switch name {
	case EnvDegraded:
		return "1m,5m,15m"
	case EnvLoad:
		return "2,4,off"
	case EnvSafeLoad:
		return "1.5"
	case EnvSafeErrorRate:
		return "5%"
	case EnvSafeCPU:
		return "70%"
	}
	return "25%,50%,75%"
}

// parseShare reads "25%" or "0.25" as 0.25; at most 100 %.
func parseShare(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(f) {
		return 0, errors.New("not a share")
	}
	if pct {
		f /= 100
	}
	if f <= 0 || f > 1 {
		return 0, errors.New("a share is above 0 and at most 100%")
	}
	return f, nil
}

func parseLoad(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return 0, errors.New("not a load")
	}
	return f, nil
}
