package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A change the server could not publish to the fleet (Redis unreachable)
// says so, in the change's answer and in the status.
func TestPendingFleetIsSaid(t *testing.T) {
	var b bytes.Buffer
	typed(printControlChange)(&b, map[string]any{"pending_fleet": true,
		"control": map[string]any{"kill_switch": "DISABLED", "mode": "LIVE", "pending_fleet": true}})
	assert.Contains(t, b.String(), "kill switch DISABLED, mode LIVE\nPENDING: in force on this server")

	b.Reset()
	typed(printControl)(&b, map[string]any{"control": map[string]any{"kill_switch": "DISABLED", "mode": "LIVE", "pending_fleet": true}})
	assert.Contains(t, b.String(), "PENDING: in force on this server")

	b.Reset()
	typed(printControl)(&b, map[string]any{"control": map[string]any{"kill_switch": "DISABLED", "mode": "LIVE", "pending_fleet": false}})
	assert.NotContains(t, b.String(), "PENDING")
}
