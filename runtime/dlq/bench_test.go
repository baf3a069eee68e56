package dlq

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/baldur-go/baldur/runtime/store"
)

// benchCapture parks b.N entries from 64 goroutines per CPU, like the
// failure path of a busy service, and reports entries per second.
func benchCapture(b *testing.B, st store.Store, maxSize int) {
	q, err := New(st, Options{Logger: quietLogger(), MaxSize: maxSize})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	args := mustJSON(b, chargeArgs{OrderID: "order-0000000001", Cents: 12345})
	var n atomic.Int64
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			i := n.Add(1)
			_, err := q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
				Args: args, Err: errDeclined, Attempts: 3, FailureType: []string{"timeout", "declined"}[i%2]})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkCaptureEmbedded(b *testing.B) {
	st, err := store.OpenEmbedded(b.TempDir(), store.EmbeddedOptions{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchCapture(b, st, 1<<30)
}

// BenchmarkCaptureEmbeddedAtCap parks into a full queue: every park also
// evicts the oldest entry (drop_oldest).
func BenchmarkCaptureEmbeddedAtCap(b *testing.B) {
	st, err := store.OpenEmbedded(b.TempDir(), store.EmbeddedOptions{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchCapture(b, st, 1000)
}

func BenchmarkCaptureMemory(b *testing.B) {
	st := store.NewMemory()
	defer st.Close()
	benchCapture(b, st, 1<<30)
}

func BenchmarkCaptureRedis(b *testing.B) {
	st, _ := sharedRedis(b)
	benchCapture(b, st, 1<<30)
}

// BenchmarkReplayBatch replays b.N parked entries in one batch with a no-op
// replayer, no rate cap and the default concurrency.
func BenchmarkReplayBatch(b *testing.B) {
	for _, kind := range []string{"memory", "embedded", "redis"} {
		b.Run(kind, func(b *testing.B) {
			var st store.Store
			switch kind {
			case "memory":
				st = store.NewMemory()
			case "embedded":
				e, err := store.OpenEmbedded(b.TempDir(), store.EmbeddedOptions{Logger: quietLogger()})
				if err != nil {
					b.Fatal(err)
				}
				st = e
			case "redis":
				st, _ = sharedRedis(b)
			}
			if kind != "redis" {
				defer st.Close()
			}
			q, err := New(st, Options{Logger: quietLogger(), MaxSize: 1 << 30, ReplayRate: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			q.Register("payments", "Charge", "sig1", func(context.Context, []byte) error { return nil })
			ctx := context.Background()
			for i := range b.N {
				if _, err := q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
					Args: mustJSON(b, chargeArgs{OrderID: strconv.Itoa(i)}), Err: errDeclined}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			rep, err := q.ReplayBatch(ctx, BatchFilter{Domain: "payments"})
			if err != nil {
				b.Fatal(err)
			}
			if rep.Outcomes[OutcomeResolved] != b.N {
				b.Fatalf("resolved %d of %d", rep.Outcomes[OutcomeResolved], b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkList100k lists pages from a queue at its default cap of 100 000
// entries (memory store; the embedded store reads the same in-memory state).
func BenchmarkList100k(b *testing.B) {
	st := store.NewMemory()
	defer st.Close()
	q, err := New(st, Options{Logger: quietLogger(), ReplayBudget: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	domains := []string{"payments", "ledger", "mail", "shipping"}
	var last string
	for i := range DefaultMaxSize {
		ft := "timeout"
		if i%1000 == 0 {
			ft = "rare"
		}
		last, err = q.Park(ctx, Capture{Domain: domains[i%len(domains)], Method: "Charge", Signature: "sig1",
			Args: mustJSON(b, chargeArgs{OrderID: strconv.Itoa(i), Cents: int64(i)}), Err: errDeclined, FailureType: ft})
		if err != nil {
			b.Fatal(err)
		}
	}
	// A handful need review, as after an outage.
	q.Register("payments", "Charge", "other-sig", func(context.Context, []byte) error { return nil })
	if _, err := q.ReplayBatch(ctx, BatchFilter{Domain: "payments", Limit: 50}); err != nil {
		b.Fatal(err)
	}
	for name, tc := range map[string]struct {
		f Filter
		p Page
	}{
		"first-page":          {Filter{}, Page{}},
		"domain-page":         {Filter{Domain: "mail"}, Page{}},
		"deep-cursor":         {Filter{Domain: "shipping"}, Page{Cursor: cursorNear(b, q, "shipping", 24000)}},
		"needs-review-index":  {Filter{State: StateNeedsReview}, Page{}},
		"rare-type-full-scan": {Filter{FailureType: "rare"}, Page{}},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l, err := q.List(ctx, tc.f, tc.p)
				if err != nil || len(l.Entries) == 0 {
					b.Fatal(err, len(l.Entries))
				}
			}
		})
	}
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := q.Get(ctx, last); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cursorNear returns a List cursor about n entries into domain.
func cursorNear(b *testing.B, q *Queue, domain string, n int) string {
	p := Page{Limit: MaxPageSize}
	for seen := 0; seen < n; seen += MaxPageSize {
		l, err := q.List(context.Background(), Filter{Domain: domain}, p)
		if err != nil {
			b.Fatal(err)
		}
		p.Cursor = l.Next
	}
	return p.Cursor
}

// BenchmarkListRedis lists the first page (default and largest size) of a
// queue of 2 000 entries on the shared Redis: what one console page costs in
// round trips.
func BenchmarkListRedis(b *testing.B) {
	st, _ := sharedRedis(b)
	q, err := New(st, Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	for i := range 2000 {
		if _, err := q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
			Args: mustJSON(b, chargeArgs{OrderID: strconv.Itoa(i), Cents: int64(i)}), Err: errDeclined}); err != nil {
			b.Fatal(err)
		}
	}
	for _, limit := range []int{DefaultPageSize, MaxPageSize} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			for b.Loop() {
				l, err := q.List(ctx, Filter{}, Page{Limit: limit})
				if err != nil || len(l.Entries) != limit {
					b.Fatal(err, len(l.Entries))
				}
			}
		})
	}
}
