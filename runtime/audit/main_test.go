package audit

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain doubles as the entry point of the child processes that the
// two-process test starts by re-executing this test binary.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(appendChild())
	}
	goleak.VerifyTestMain(m)
}
