package shape

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain doubles as the entry point of the child processes that the fleet
// test starts by re-executing this test binary.
func TestMain(m *testing.M) {
	if os.Getenv(fleetChildEnv) != "" {
		os.Exit(fleetChild())
	}
	if os.Getenv(budgetChildEnv) != "" {
		os.Exit(budgetChild())
	}
	goleak.VerifyTestMain(m)
}
