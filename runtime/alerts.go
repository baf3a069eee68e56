package runtime

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/schedule"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

// watchdogAlert turns the watchdog's events into alerts (README, Alerts): a
// stalled loop begins loop_stalled:<loop> (CRITICAL, reminded while it
// lasts), its recovery ends it (resolved). Called by the watchdog outside
// its lock; Begin and End only queue.
func (rt *Runtime) watchdogAlert(e watchdog.Event) {
	key := "loop_stalled:" + e.Loop
	title := "Background loop " + e.Loop + " stalled"
	switch e.Kind {
	case watchdog.KindStalled:
		rt.notifier.Begin(context.Background(), notify.Alert{Key: key, Priority: notify.Critical, Title: title,
			Text: fmt.Sprintf("The loop has not beaten for %s; the watchdog restarts it (%d restarts so far).", e.Silent.Round(1e6), e.Restarts)})
	case watchdog.KindRecovered:
		rt.notifier.End(context.Background(), notify.Alert{Key: key, Priority: notify.Critical, Title: title,
			Text: fmt.Sprintf("The loop beats again (%d restarts).", e.Restarts)})
	}
}

// governanceFailsafe is the gate's OnFailsafe: counted, raised as
// governance_failsafe:<check> (HIGH) and handed to Config.OnFailsafe when
// set. A failsafe allows the action: the alert says a guard was blind.
func (rt *Runtime) governanceFailsafe(f governance.Failure) {
	rt.countFailsafe(f)
	rt.notifier.Notify(context.Background(), notify.Alert{Key: "governance_failsafe:" + string(f.Check), Priority: notify.High,
		Title: "Governance check " + string(f.Check) + " could not be evaluated",
		Text:  "The action " + f.Action + " was allowed without this check (FAILSAFE): " + f.Err})
	if h := rt.cfg.OnFailsafe; h != nil {
		h(f)
	}
}

// emergencyAlert raises emergency_level:<LEVEL> when the level in force
// changes: HIGH priority at HIGH and above, MEDIUM at ELEVATED, INFO back
// to NORMAL. Notify only queues, so it may be called where the level is set.
func (rt *Runtime) emergencyAlert(prev, l emergency.Level) {
	p := notify.Info
	switch {
	case l >= emergency.High:
		p = notify.High
	case l == emergency.Elevated:
		p = notify.Medium
	}
	rt.notifier.Notify(context.Background(), notify.Alert{Key: "emergency_level:" + l.String(), Priority: p,
		Title: "Emergency level " + l.String() + " (was " + prev.String() + ")",
		Text:  "Retries, bulkheads and shedding follow the new level (README, Emergency mode)."})
}

// Names and period of the audit trail's alert check, a task of the
// runtime's scheduler on every process (each has its own backlog).
const (
	TaskAuditAlerts  = "audit_alerts"
	auditAlertsEvery = "30s"
	// TaskAuditVerify verifies the whole chain hourly on the fleet's leader,
	// so that a broken chain is found (and alerted) without an operator.
	TaskAuditVerify    = "audit_verify"
	auditVerifyEvery   = "@every 1h"
	auditVerifyTimeout = 10 * time.Minute
	// TaskAuditDrain drains the chain to PostgreSQL on the fleet's leader
	// (with BALDUR_SQL_DSN), besides the drain each seal kicks: its runs,
	// outcome and last error show in the schedule.
	TaskAuditDrain    = "audit_drain"
	auditDrainEvery   = "10s"
	auditDrainTimeout = time.Minute
)

// auditAlertState is what the audit check remembers between runs.
type auditAlertState struct {
	mu      sync.Mutex
	backlog int64
}

// scheduleAuditAlerts puts the audit check (every process), the chain's
// verification and, with PostgreSQL, the drain (leader only) on the
// scheduler when the trail is on.
func (rt *Runtime) scheduleAuditAlerts() error {
	if rt.audit == nil {
		return nil
	}
	err := rt.Schedule(TaskAuditAlerts, auditAlertsEvery, func(ctx context.Context) error {
		rt.auditAlert(ctx, rt.audit.Stats())
		return nil
	}, schedule.TaskOptions{Scope: schedule.EveryNode})
	if err != nil {
		return err
	}
	err = rt.Schedule(TaskAuditVerify, auditVerifyEvery, func(ctx context.Context) error {
		_, err := rt.audit.Verify(ctx) // sets Stats.ChainBroken, which the alert check reads
		return err
	}, schedule.TaskOptions{Timeout: auditVerifyTimeout})
	if err != nil || !rt.audit.Drains() {
		return err
	}
	return rt.Schedule(TaskAuditDrain, auditDrainEvery, rt.audit.Drain, schedule.TaskOptions{Timeout: auditDrainTimeout})
}

// auditAlert raises the audit trail's alerts from its figures:
// audit_chain_broken (CRITICAL, lasting until a verification finds the chain
// whole) and audit_backlog (HIGH) when the backlog grew since the last
// check, while it stays above zero.
func (rt *Runtime) auditAlert(ctx context.Context, st audit.Stats) {
	broken := notify.Alert{Key: "audit_chain_broken", Priority: notify.Critical, Title: "Audit chain broken"}
	if st.ChainBroken {
		broken.Text = "Verification or a drain found the hash chain broken: a record was altered or lost. Run baldur audit verify."
		rt.notifier.Begin(ctx, broken)
	} else {
		broken.Text = "The audit chain verifies again."
		rt.notifier.End(ctx, broken)
	}
	rt.auditAlerts.mu.Lock()
	prev := rt.auditAlerts.backlog
	rt.auditAlerts.backlog = st.Backlog
	rt.auditAlerts.mu.Unlock()
	if st.Backlog > prev && prev > 0 {
		text := fmt.Sprintf("%d audit records wait to be sealed or drained (%d at the last check).", st.Backlog, prev)
		if st.DrainError != "" {
			text += " Last drain error: " + st.DrainError
		}
		rt.notifier.Notify(ctx, notify.Alert{Key: "audit_backlog", Priority: notify.High, Title: "Audit backlog growing", Text: text})
	}
}
