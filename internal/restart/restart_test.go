package restart

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A restart cancels the run and starts a fresh one only once the stuck run
// returned: never two runs at once. Close ends the last run.
func TestRestartWaitsForTheStuckRunThenStartsOne(t *testing.T) {
	t.Parallel()
	var running, maxRunning, runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	l := Start(context.Background(), "test", slog.New(slog.DiscardHandler), func(ctx context.Context) {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		first := runs.Add(1) == 1
		started <- struct{}{}
		<-ctx.Done()
		if first {
			<-release // the first run is stuck past its cancellation
		}
	})
	wait := func(what string) {
		t.Helper()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no run started within 5s", what)
		}
	}
	wait("the first run")
	l.Restart()
	l.Restart() // a second restart while the first waits changes nothing
	select {
	case <-started:
		t.Fatal("a fresh run started beside the stuck one")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	wait("the fresh run once the stuck one returned")
	l.Close()
	if got := runs.Load(); got != 2 {
		t.Errorf("runs = %d, want 2", got)
	}
	if got := maxRunning.Load(); got != 1 {
		t.Errorf("at most %d runs at once, want 1", got)
	}
	l.Restart() // after Close: nothing starts
	l.Close()
}
