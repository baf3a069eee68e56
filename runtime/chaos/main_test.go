package chaos_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain doubles as the entry point of the child process of the fleet test.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(fleetChild())
	}
	goleak.VerifyTestMain(m)
}
