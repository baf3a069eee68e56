package runtime

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/store"
)

// alertRuntime builds a runtime whose every alert reaches a loopback webhook.
func alertRuntime(t *testing.T, cfg Config) (*Runtime, <-chan notify.WebhookPayload) {
	t.Helper()
	url, got := webhook(t)
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	cfg.Store, cfg.Logger = st, slog.New(slog.DiscardHandler)
	cfg.Notify = notify.Config{WebhookURL: url, BurstThreshold: -1,
		Routes: map[notify.Priority][]notify.Channel{notify.Info: {notify.Webhook}}}
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt, got
}

// recvKey waits for the alert of key, skipping others.
func recvKey(t *testing.T, got <-chan notify.WebhookPayload, key string, resolved bool) notify.WebhookPayload {
	t.Helper()
	for {
		p := await.Recv(t, got, "alert "+key)
		if p.Key == key && p.Resolved == resolved {
			return p
		}
	}
}

func TestAStalledLoopRaisesACriticalAlertResolvedOnRecovery(t *testing.T) {
	t.Parallel()
	rt, got := alertRuntime(t, Config{DLQ: dlq.Options{SweepInterval: 50 * time.Millisecond}})
	release := rt.Watchdog().Freeze(LoopDLQ) // the loop hangs at its next tick
	defer release()
	p := recvKey(t, got, "loop_stalled:"+LoopDLQ, false)
	assert.Equal(t, "CRITICAL", p.Priority)
	assert.Contains(t, p.Title, LoopDLQ)
	p = recvKey(t, got, "loop_stalled:"+LoopDLQ, true)
	assert.Contains(t, p.Text, "beats again")
}

func TestAGovernanceFailsafeRaisesAHighAlertAndCallsOnFailsafe(t *testing.T) {
	t.Parallel()
	called := make(chan governance.Failure, 1)
	rt, got := alertRuntime(t, Config{OnFailsafe: func(f governance.Failure) { called <- f }})
	rt.governanceFailsafe(governance.Failure{Action: "dlq.auto_replay", Check: "error_budget", Err: "ledger unreadable"})
	p := recvKey(t, got, "governance_failsafe:error_budget", false)
	assert.Equal(t, "HIGH", p.Priority)
	assert.Contains(t, p.Text, "dlq.auto_replay")
	f := await.Recv(t, called, "Config.OnFailsafe")
	assert.Equal(t, "ledger unreadable", f.Err)
}

func TestEmergencyLevelChangesRaiseAlerts(t *testing.T) {
	t.Parallel()
	rt, got := alertRuntime(t, Config{})
	ctx := context.Background()
	_, err := rt.Emergency().Declare(ctx, "alice", emergency.High, "drill")
	require.NoError(t, err)
	p := recvKey(t, got, "emergency_level:"+emergency.High.String(), false)
	assert.Equal(t, "HIGH", p.Priority)
	_, err = rt.Emergency().ForceRelease(ctx, "alice", emergency.Normal, emergency.Confirmation, "drill over")
	require.NoError(t, err)
	p = recvKey(t, got, "emergency_level:"+emergency.Normal.String(), false)
	assert.Equal(t, "INFO", p.Priority)
}

func TestTheAuditTrailsFiguresRaiseAlerts(t *testing.T) {
	t.Parallel()
	rt, got := alertRuntime(t, Config{})
	assert.Contains(t, rt.Scheduler().Names(), TaskAuditAlerts, "the check runs on the scheduler")
	assert.Contains(t, rt.Scheduler().Names(), TaskAuditVerify, "the verification runs on the scheduler")
	ctx := context.Background()
	rt.auditAlert(ctx, audit.Stats{ChainBroken: true})
	p := recvKey(t, got, "audit_chain_broken", false)
	assert.Equal(t, "CRITICAL", p.Priority)
	rt.auditAlert(ctx, audit.Stats{Backlog: 5})
	p = recvKey(t, got, "audit_chain_broken", true)
	assert.Contains(t, p.Text, "verifies again")
	rt.auditAlert(ctx, audit.Stats{Backlog: 9, DrainError: "connection refused"})
	p = recvKey(t, got, "audit_backlog", false)
	assert.Equal(t, "HIGH", p.Priority)
	assert.Contains(t, p.Text, "9 audit records")
	assert.Contains(t, p.Text, "connection refused")
}
