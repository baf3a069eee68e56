package governance_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]governance.Config{
		"":         {BlockAt: emergency.High},
		"elevated": {BlockAt: emergency.Elevated},
		"CRITICAL": {BlockAt: emergency.Critical},
		"off":      {BlockAt: emergency.High, EmergencyOff: true},
	} {
		vars := map[string]string{}
		if in != "" {
			vars[governance.EnvEmergencyLevel] = in
		}
		r := env.New(env.Map(vars))
		c := governance.FromEnv(r, nil)
		require.NoError(t, r.Err(), in)
		assert.Equal(t, want.BlockAt, c.BlockAt, in)
		assert.Equal(t, want.EmergencyOff, c.EmergencyOff, in)
	}
	for _, bad := range []string{"NORMAL", "severe", ""} {
		r := env.New(env.Map(map[string]string{governance.EnvEmergencyLevel: bad}))
		governance.FromEnv(r, nil)
		assert.ErrorContains(t, r.Err(), `BALDUR_GOVERNANCE_EMERGENCY_LEVEL="`+bad+`": want ELEVATED, HIGH, CRITICAL or off`)
	}
	var o governance.Options
	governance.Config{BlockAt: emergency.Critical}.Apply(&o)
	assert.Equal(t, emergency.Critical, o.BlockAt)
}
