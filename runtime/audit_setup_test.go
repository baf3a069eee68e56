package runtime

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/pgtest"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/schedule"
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

// With PostgreSQL the drain is a task of the scheduler: run now, its run
// shows in the schedule and the records are in PostgreSQL.
func TestTheAuditDrainIsAScheduledTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Shared(t)
	st := store.NewMemory()
	rt, err := New(ctx, Config{Store: st, Logger: slog.New(slog.DiscardHandler), Audit: AuditConfig{SQLDSN: dsn}})
	require.NoError(t, err)
	defer rt.Close()
	require.NoError(t, rt.Audit().Record(ctx, audit.Record{Action: "test.action", Target: "x"}))
	// The drain moves sealed records: wait for the sealing loop to take the
	// record out of the pending stream (on a loaded machine it may not have
	// run yet), then drain by hand.
	waitFor(t, "the record is sealed", func() bool {
		n, err := st.Len(ctx, "audit:{audit}:pending")
		return err == nil && n == 0
	})
	run, err := rt.Scheduler().RunNow(ctx, TaskAuditDrain)
	require.NoError(t, err)
	assert.Equal(t, schedule.OutcomeOK, run.Outcome, "%v", run.Err)
	var task schedule.TaskStatus
	for _, s := range rt.Scheduler().Status() {
		if s.Name == TaskAuditDrain {
			task = s
		}
	}
	assert.Equal(t, int64(1), task.Runs)
	assert.Equal(t, "leader", task.Scope)
	var n int
	require.NoError(t, pgtest.Conn(t, dsn).QueryRow(ctx, `SELECT count(*) FROM baldur_audit_records WHERE action = 'test.action'`).Scan(&n))
	assert.Equal(t, 1, n, "the record reached PostgreSQL")
	var loops []string
	for _, l := range rt.Watchdog().Status() {
		loops = append(loops, l.Name)
	}
	assert.Contains(t, loops, LoopAuditDrain, "the drain loop is watched")
	assert.Contains(t, loops, LoopAuditSeal)

	plain, err := New(ctx, Config{Store: store.NewMemory(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer plain.Close()
	_, err = plain.Scheduler().RunNow(ctx, TaskAuditDrain)
	assert.ErrorIs(t, err, schedule.ErrUnknownTask, "no PostgreSQL, no drain task")
}
