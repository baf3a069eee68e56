package runtime

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/breaker"
)

// One read gives every exporter the same picture: breakers sorted by name with
// their state, compartments, call counters, the store's mode and the switches.
func TestSnapshotIsTheReadModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, err := New(ctx, Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir(), CallStats: true})
	require.NoError(t, err)
	defer rt.Close()
	z := rt.Zone(ZoneSpec{Service: "zeta", Method: "Get", Breaker: true, Bulkhead: 2})
	rt.Zone(ZoneSpec{Service: "alpha", Method: "Put", Breaker: true})
	b, ok := rt.Breaker("alpha")
	require.True(t, ok)
	b.ForceOpen("maintenance")
	p, err := z.Enter(ctx)
	require.NoError(t, err)
	z.Done(ctx, p, nil, 1)

	s := rt.Snapshot()
	require.Len(t, s.Breakers, 2)
	assert.Equal(t, "alpha", s.Breakers[0].Name, "sorted by name")
	assert.Equal(t, breaker.ForcedOpen, s.Breakers[0].State)
	got, ok := s.Breaker("zeta")
	require.True(t, ok)
	assert.Equal(t, breaker.Closed, got.State)
	_, ok = s.Breaker("nobody")
	assert.False(t, ok)
	assert.Equal(t, []CompartmentSnapshot{{Name: "zeta", Active: 0, Max: 2}}, s.Compartments)
	assert.NotEmpty(t, s.Calls)
	assert.False(t, s.Store.Degraded)
	assert.Equal(t, "LIVE", s.Mode())

	_, err = rt.Control().StartDryRun(ctx, "test", "rehearsal")
	require.NoError(t, err)
	assert.Equal(t, "DRY_RUN", rt.Snapshot().Mode())
	_, err = rt.Control().Disable(ctx, "test", "incident")
	require.NoError(t, err)
	assert.Equal(t, "DISABLED", rt.Snapshot().Mode())
}
