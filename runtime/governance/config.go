package governance

import (
	"errors"
	"strings"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// EnvEmergencyLevel sets the emergency level from which automation is
// blocked: ELEVATED, HIGH (the default), CRITICAL, or off.
const EnvEmergencyLevel = "BALDUR_GOVERNANCE_EMERGENCY_LEVEL"

// Config is what the environment sets; Apply copies it into Options.
type Config struct {
	BlockAt      emergency.Level
	EmergencyOff bool
	Objectives   Objectives
}

// FromEnv reads BALDUR_GOVERNANCE_EMERGENCY_LEVEL and every
// BALDUR_SLO_<SERVICE> of environ through r, which collects bad values as
// errors naming the variable and the value.
func FromEnv(r *env.Reader, environ []string) Config {
	c := Config{BlockAt: emergency.High}
	var v string
	if r.String(EnvEmergencyLevel, func(s string) error {
		if strings.EqualFold(strings.TrimSpace(s), "off") {
			return nil
		}
		if l, err := emergency.ParseLevel(s); err != nil || l == emergency.Normal {
			return errWantLevel
		}
		return nil
	}, &v) {
		if strings.EqualFold(strings.TrimSpace(v), "off") {
			c.EmergencyOff = true
		} else {
			c.BlockAt, _ = emergency.ParseLevel(v)
		}
	}
	c.Objectives = ObjectivesFromEnv(r, environ)
	return c
}

var errWantLevel = errors.New("want ELEVATED, HIGH, CRITICAL or off")

// Apply sets o's fields from c.
func (c Config) Apply(o *Options) {
	o.BlockAt, o.EmergencyOff, o.Objectives = c.BlockAt, c.EmergencyOff, c.Objectives
}
