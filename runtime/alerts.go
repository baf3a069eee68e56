package runtime

import (
	"context"
	"fmt"

	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/notify"
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
