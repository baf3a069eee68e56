package shape

import (
	"runtime"
	"testing"
	"time"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// armed waits until the fake clock holds n pending timers: a goroutine has
// started its wait and Advance will reach it.
func armed(t *testing.T, c *clock.Fake, n int, what string) {
	t.Helper()
	end := time.Now().Add(await.Deadline)
	for c.Pending() < n {
		if time.Now().After(end) {
			t.Fatalf("%s: %d timers armed, want %d, after %s", what, c.Pending(), n, await.Deadline)
		}
		runtime.Gosched()
	}
}

// quiet reports whether nothing has arrived on ch yet (no wait).
func quiet[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}
