package emergency_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/emergency"
)

func TestFromEnvDefaults(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(nil))
	c := emergency.FromEnv(r)
	require.NoError(t, r.Err())
	assert.True(t, c.Auto, "the environment's default is automatic")
	var zero emergency.Options
	emergency.Config{}.Apply(&zero)
	assert.True(t, zero.Manual, "the zero Config is manual")
	assert.Nil(t, zero.Thresholds, "and keeps the default thresholds")
	assert.Equal(t, emergency.DefaultStabilisation, c.Stabilisation)
	assert.Equal(t, emergency.DefaultThresholds(), c.Thresholds)
	assert.Equal(t, emergency.DefaultSafe(), c.Safe)
}

func TestFromEnvReadsEveryVariable(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(map[string]string{
		emergency.EnvAuto: "off", emergency.EnvStabilisation: "2m", emergency.EnvEvalInterval: "3",
		emergency.EnvBreakersOpen: "20%, 40%, off", emergency.EnvErrorRate: "0.05,0.2,0.6",
		emergency.EnvDegraded: "30s,2m,10m", emergency.EnvCPU: "off,off,99%", emergency.EnvLoad: "1.5,3,6",
		emergency.EnvSafeErrorRate: "1%", emergency.EnvSafeCPU: "50%", emergency.EnvSafeLoad: "0.8",
	}))
	c := emergency.FromEnv(r)
	require.NoError(t, r.Err())
	assert.False(t, c.Auto)
	assert.Equal(t, 2*time.Minute, c.Stabilisation)
	assert.Equal(t, 3*time.Second, c.EvalInterval)
	assert.Equal(t, [3]float64{0.2, 0.4, 0}, c.Thresholds.BreakersOpen)
	assert.Equal(t, [3]float64{0.05, 0.2, 0.6}, c.Thresholds.ErrorRate)
	assert.Equal(t, [3]time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute}, c.Thresholds.Degraded)
	assert.Equal(t, [3]float64{0, 0, 0.99}, c.Thresholds.CPU)
	assert.Equal(t, [3]float64{1.5, 3, 6}, c.Thresholds.Load)
	assert.Equal(t, emergency.Safe{ErrorRate: 0.01, CPU: 0.5, Load: 0.8}, c.Safe)
	var o emergency.Options
	c.Apply(&o)
	assert.True(t, o.Manual)
	assert.Equal(t, c.Thresholds, *o.Thresholds)
}

func TestFromEnvNamesEveryBadVariable(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(map[string]string{
		emergency.EnvAuto: "maybe", emergency.EnvBreakersOpen: "50%,25%,75%", emergency.EnvErrorRate: "10%,20%",
		emergency.EnvCPU: "90%,97%,150%", emergency.EnvSafeLoad: "-1", emergency.EnvDegraded: "1m,x,15m",
	}))
	emergency.FromEnv(r)
	err := r.Err()
	require.Error(t, err)
	for _, want := range []string{
		`BALDUR_EMERGENCY_AUTO="maybe"`,
		`BALDUR_EMERGENCY_BREAKERS_OPEN="50%,25%,75%": want three shares for ELEVATED,HIGH,CRITICAL, each rising or off`,
		`BALDUR_EMERGENCY_ERROR_RATE="10%,20%"`,
		`BALDUR_EMERGENCY_CPU="90%,97%,150%"`,
		`BALDUR_EMERGENCY_SAFE_LOAD="-1": want a positive value such as "1.5"`,
		`BALDUR_EMERGENCY_DEGRADED="1m,x,15m": want three durations`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}
