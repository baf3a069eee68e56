package notify

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain doubles as the entry point of the child processes that
// TestTwoProcessesRaisingOneAlert100TimesDeliverItOnce starts by
// re-executing this test binary.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(raiseChild())
	}
	goleak.VerifyTestMain(m)
}
