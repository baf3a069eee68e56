package runtime

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/store"
)

func TestIdempotencyDegradedFromEnv(t *testing.T) {
	cfg, err := configFromLookup(vars())
	require.NoError(t, err)
	assert.Empty(t, cfg.IdempotencyDegraded, "unset: New makes it serve, the AP default")
	cfg, err = configFromLookup(vars(EnvIdempotencyDegraded, "Refuse"))
	require.NoError(t, err)
	assert.Equal(t, IdemDegradedRefuse, cfg.IdempotencyDegraded)
	_, err = configFromLookup(vars(EnvIdempotencyDegraded, "deny"))
	require.ErrorContains(t, err, `BALDUR_IDEMPOTENCY_DEGRADED="deny": want serve or refuse`)
	_, err = New(context.Background(), Config{IdempotencyDegraded: "deny", Store: store.NewMemory()})
	require.ErrorContains(t, err, `IdempotencyDegraded "deny": want serve or refuse`)
}

// The method's idempotency_degraded wins; unset, the runtime default
// applies, except to methods that fail open.
func TestIdempotencyDegradedPosture(t *testing.T) {
	for _, tc := range []struct {
		runtimeDefault string
		spec           ZoneSpec
		refuse         bool
	}{
		{"", ZoneSpec{}, false},
		{IdemDegradedRefuse, ZoneSpec{}, true},
		{IdemDegradedRefuse, ZoneSpec{IdemFailOpen: true}, false},
		{IdemDegradedRefuse, ZoneSpec{IdemDegraded: IdemDegradedServe}, false},
		{IdemDegradedServe, ZoneSpec{IdemDegraded: IdemDegradedRefuse}, true},
		{"", ZoneSpec{IdemDegraded: "refuze"}, true}, // a hand-written typo refuses, the side that cannot duplicate
	} {
		st := store.NewMemory()
		rt, err := New(context.Background(), Config{Store: st, IdempotencyDegraded: tc.runtimeDefault,
			Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		tc.spec.Service, tc.spec.Method, tc.spec.Idempotency = "payments", "Charge", "orderID"
		z := rt.Zone(tc.spec)
		assert.Equal(t, tc.refuse, z.request("k", 1).RefuseDegraded, "default %q, spec %+v", tc.runtimeDefault, tc.spec)
		require.NoError(t, rt.Close())
		require.NoError(t, st.Close())
	}
}
