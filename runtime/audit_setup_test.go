package runtime

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestAMalformedAuditDSNFailsNamingTheVariableWithoutItsPassword(t *testing.T) {
	t.Parallel()
	_, err := configFromLookup(vars("BALDUR_SQL_DSN", "postgres://app:s3cret-pw@db:port/audit"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `BALDUR_SQL_DSN="postgres://app:xxxxx@db:port/audit"`)
	assert.NotContains(t, err.Error(), "s3cret")

	_, err = New(context.Background(), Config{Store: store.NewMemory(), Logger: slog.New(slog.DiscardHandler),
		Audit: AuditConfig{SQLDSN: "host=db password=s3cret-pw port=x"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.Audit.SQLDSN")
	assert.NotContains(t, err.Error(), "s3cret")

	cfg, err := configFromLookup(vars("BALDUR_AUDIT_ENABLED", "false", "BALDUR_SQL_DSN", "not parsed while off"))
	require.NoError(t, err)
	assert.True(t, cfg.Audit.Disabled)
}

// The trail is on by default: a breaker forced open by code (no admin
// route) is still an automated action on record, in the runtime's store.
func TestTheAuditTrailIsOnByDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, err := New(ctx, Config{Store: store.NewMemory(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer rt.Close()
	require.NotNil(t, rt.Audit())
	rt.Zone(ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	b, _ := rt.Breaker("payments")
	b.ForceOpen("maintenance")
	require.NoError(t, rt.Audit().Sync(ctx))
	page, err := rt.Audit().List(ctx, audit.Query{Action: "breaker.state_changed"})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	r := page.Records[0]
	assert.Equal(t, "payments", r.Target)
	assert.Equal(t, audit.OperatorRuntime, r.Operator)
	assert.Contains(t, r.Detail, "FORCED_OPEN")

	off, err := New(ctx, Config{Store: store.NewMemory(), Logger: slog.New(slog.DiscardHandler), Audit: AuditConfig{Disabled: true}})
	require.NoError(t, err)
	defer off.Close()
	assert.Nil(t, off.Audit())
}
