package store_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

// BenchmarkRedis measures store operations against the shared Redis: one
// round trip per call from parallel callers, and the pipelined batch
// (AtomicBatch, 100 txns per round trip) that Failover replays its journal
// with. Compare ns per txn between Atomic and AtomicBatch/100 (ns/op there
// is per batch; txns/s is the comparable number).
//
//	go test -run '^$' -bench Redis ./runtime/store/
func BenchmarkRedis(b *testing.B) {
	url := redistest.Shared(b)
	ctx := context.Background()
	open := func(b *testing.B) *store.Redis {
		s, err := store.OpenRedis(ctx, url, store.RedisOptions{Prefix: redistest.Prefix(b, url)})
		require.NoError(b, err)
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	value := []byte(`{"domain":"payments","operation":"charge","error":"timeout"}`)

	b.Run("Set", func(b *testing.B) {
		s := open(b)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := s.Set(ctx, "k"+strconv.Itoa(i%1000), value, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("SetNX", func(b *testing.B) {
		s := open(b)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.SetNX(ctx, "claim"+strconv.Itoa(i%1000), value, 60e9); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Append", func(b *testing.B) {
		s := open(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Append(ctx, "dlq", value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	claimTxn := func(i int) store.Txn {
		k := "{idem}:" + strconv.Itoa(i)
		return store.Txn{Conds: []store.Cond{store.IfAbsent(k)},
			Ops: []store.Op{store.SetOp(k, value, 60e9), store.AppendOp("{idem}:log", []byte(k))}}
	}
	b.Run("Atomic", func(b *testing.B) {
		s := open(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Atomic(ctx, claimTxn(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txns/s")
	})
	b.Run("AtomicBatch/100", func(b *testing.B) {
		s := open(b)
		txns := make([]store.Txn, 100)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := range txns {
				txns[j] = claimTxn(i*100 + j)
			}
			_, errs := s.AtomicBatch(ctx, txns)
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "txns/s")
	})
}
