package series

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkTick is one minute tick (read excluded) over n services: the cost
// the recorder adds once a minute, off the call path.
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{10, 100, 10_000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			f := newFeed()
			for i := range n {
				f.add(fmt.Sprintf("svc-%05d", i), 1, 0, 0, 1)
			}
			rd := f.read(context.Background())
			r := &Recorder{bounds: bounds, max: DefaultMaxServices, rings: map[string]*ring{}}
			at := t0
			b.ReportAllocs()
			for b.Loop() {
				at = at.Add(time.Minute)
				r.mu.Lock()
				r.recordLocked(at, rd)
				r.mu.Unlock()
			}
		})
	}
}
