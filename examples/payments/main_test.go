package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/baldur-go/baldur/runtime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestScenarioShowsEveryPolicy(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, scenario(context.Background(), &out, runtime.Config{StateDir: t.TempDir()}), out.String())
	for _, want := range []string{
		"charge order-1: receipt r-1 after 3 processor calls",
		">> retry: Charge attempt 1 failed; next attempt in",
		`breaker "payments": CLOSED → OPEN`,
		"circuit breaker \"payments\" is open",
		"from cachedBalance",
		`breaker "payments": OPEN → HALF_OPEN`,
		`breaker "payments": HALF_OPEN → CLOSED`,
		`bulkhead "ledger" is full (2/2 active)`,
		"Every policy acted as directed.",
	} {
		assert.Contains(t, out.String(), want)
	}
}
