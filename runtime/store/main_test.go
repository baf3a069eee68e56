package store

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quietRedis drops go-redis's own log lines: the chaos tests refuse its
// connections on purpose, and what matters is asserted, not printed.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// TestMain doubles as the entry point of the child processes that the crash
// and permission tests start by re-executing this test binary.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	if dir := os.Getenv(permChildEnv); dir != "" {
		os.Exit(permChild(dir))
	}
	if os.Getenv("BALDUR_TEST_REDIS_LOGS") == "" {
		redis.SetLogger(quietRedis{})
	}
	goleak.VerifyTestMain(m)
}
