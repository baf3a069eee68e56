package notify

import (
	"context"
	"testing"
)

// BenchmarkNotify measures what raising an alert costs the caller: the
// queue push (the guards and channels run elsewhere). The queue is kept
// from overflowing by a notifier with no channel, whose guard goroutine
// drains it (log only, to a discarding logger).
func BenchmarkNotify(b *testing.B) {
	n, err := New(Config{BurstThreshold: -1, Cooldown: -1, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	ctx := context.Background()
	a := Alert{Key: "breaker_open:payments", Priority: Critical, Title: "Breaker payments is OPEN", Service: "payments"}
	b.ReportAllocs()
	for b.Loop() {
		n.Notify(ctx, a)
	}
}
