package store_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
	"github.com/baldur-go/baldur/runtime/store/storetest"
)

func TestMemory_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clock := clock.NewFake(storetest.Epoch)
		s := store.NewMemoryWith(store.MemoryOptions{Clock: clock})
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Harness{Store: s, Advance: clock.Advance}
	})
}

func TestEmbedded_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clock := clock.NewFake(storetest.Epoch)
		s, err := store.OpenEmbedded(t.TempDir(), store.EmbeddedOptions{Clock: clock})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Harness{Store: s, Advance: clock.Advance}
	})
}

// Compaction every few records: the suite must not notice snapshots.
func TestEmbedded_ConformanceWithConstantCompaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		clock := clock.NewFake(storetest.Epoch)
		s, err := store.OpenEmbedded(t.TempDir(), store.EmbeddedOptions{Clock: clock, SegmentSize: 256})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Harness{Store: s, Advance: clock.Advance}
	})
}
