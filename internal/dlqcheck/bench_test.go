package dlqcheck

import (
	"context"
	"testing"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

type failingV2 struct{}

func (failingV2) Place(context.Context, Customer, []Address, time.Time, *string, int) (string, error) {
	return "", errDown
}

// BenchmarkCaptureThroughTheWrapper is the failure path of a dlq method end
// to end: the attempt fails, the wrapper builds and encodes the argument
// record and the queue parks it (on the embedded store: one fsynced write,
// shared among concurrent callers).
func BenchmarkCaptureThroughTheWrapper(b *testing.B) {
	for _, k := range storeKinds {
		b.Run(k.name, func(b *testing.B) {
			clk := clock.Real()
			var st store.Store
			if k.name == "memory" {
				st = store.NewMemory()
			} else {
				emb, err := store.OpenEmbedded(b.TempDir(), store.EmbeddedOptions{Logger: quiet()})
				if err != nil {
					b.Fatal(err)
				}
				st = emb
			}
			defer st.Close()
			rt, err := runtime.New(context.Background(), runtime.Config{Store: st, Clock: clk, Logger: quiet(),
				Breaker: runtime.BreakerConfig{FailureThreshold: 1 << 30},
				DLQ:     dlq.Options{MaxSize: 1 << 30}})
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close()
			p := ProtectOrdersV2(failingV2{}, rt) // no retry: the capture alone
			in := sample()
			b.SetParallelism(16) // callers wait on the embedded store's group commit
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := p.Place(ctx, in.C, in.Items, in.At, in.Note, 1); err == nil {
						b.Error("Place succeeded")
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
