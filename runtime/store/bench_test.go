package store

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkEmbedded_DurableAppend measures acknowledged (fsynced) appends per
// second from parallel writers, with group commit and with one fsync per
// record. Target: >= 50 000 appends/s with group commit on 2 cores.
//
// A writer waits for the fsync in flight and then for the one carrying its
// record, so throughput is about writers / (2 x fsync latency): records/fsync
// shows how many writers shared each one.
//
//	go test -run '^$' -bench DurableAppend ./runtime/store/
func BenchmarkEmbedded_DurableAppend(b *testing.B) {
	for _, bc := range []struct {
		mode     string
		syncEach bool
		writers  int
	}{
		{"GroupCommit", false, 128},
		{"GroupCommit", false, 512},
		{"FsyncPerRecord", true, 128},
	} {
		b.Run(fmt.Sprintf("%s/writers=%d", bc.mode, bc.writers), func(b *testing.B) {
			s, err := OpenEmbedded(b.TempDir(), EmbeddedOptions{SyncEach: bc.syncEach})
			require.NoError(b, err)
			defer s.Close()
			value := []byte(`{"domain":"payments","operation":"charge","error":"timeout","attempts":3}`)
			ctx := context.Background()
			b.SetParallelism(max(bc.writers/runtime.GOMAXPROCS(0), 1))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Append(ctx, "dlq", value); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			st := s.log.Stats()
			b.ReportMetric(float64(st.Records)/float64(max(st.Syncs, 1)), "records/fsync")
		})
	}
}
