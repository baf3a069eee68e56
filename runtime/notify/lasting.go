package notify

import (
	"context"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// DefaultRemindAfter is Config.RemindAfter's default.
const DefaultRemindAfter = 15 * time.Minute

// ongoing is a condition between Begin and End.
type ongoing struct {
	alert     Alert
	timer     clock.Timer
	reminders int
}

// Begin raises a for a condition that lasts (a breaker open, the store
// DEGRADED) and, while End has not been called for a.Key, raises it again
// every Config.RemindAfter, its title saying for how long it has lasted
// ("… — still, for 15m"). A Begin for a key already begun does nothing, so
// callers may call it on every sign of the condition. Like Notify it never
// blocks.
func (n *Notifier) Begin(ctx context.Context, a Alert) {
	if n == nil {
		return
	}
	a = a.normalise(n.cfg.Clock.Now())
	n.lastMu.Lock()
	if _, on := n.lasting[a.Key]; on || n.closed.Load() {
		n.lastMu.Unlock()
		if !on {
			n.Notify(ctx, a) // counted as dropped (closed)
		}
		return
	}
	o := &ongoing{alert: a}
	n.lasting[a.Key] = o
	n.armLocked(o)
	n.lastMu.Unlock()
	n.Notify(ctx, a)
}

func (n *Notifier) armLocked(o *ongoing) {
	if n.cfg.RemindAfter > 0 {
		o.timer = n.cfg.Clock.AfterFunc(n.cfg.RemindAfter, func() { n.remind(o) })
	}
}

// remind raises o's alert again and arms the next reminder.
func (n *Notifier) remind(o *ongoing) {
	now := n.cfg.Clock.Now()
	n.lastMu.Lock()
	if n.lasting[o.alert.Key] != o || n.closed.Load() {
		n.lastMu.Unlock()
		return
	}
	o.reminders++
	a := o.alert
	n.armLocked(o)
	n.lastMu.Unlock()
	a.Title += " — still, for " + now.Sub(a.At).Round(time.Second).String()
	a.At = now
	n.Notify(context.Background(), a)
}

// End ends the condition a.Key names: its reminders stop and an alert
// marked Resolved is raised, so that it reaches the channels the condition
// reached (and resolves it in Alertmanager). The resolved alert is the
// begun one (priority, title, service, labels) with a's Text, or a itself
// when this process did not begin it (another process of the fleet may
// have: an operator's action is logged where it was taken). An empty Text
// raises nothing. End reports whether this process had begun a.Key.
func (n *Notifier) End(ctx context.Context, a Alert) bool {
	if n == nil {
		return false
	}
	n.lastMu.Lock()
	o, on := n.lasting[a.Key]
	if on {
		delete(n.lasting, a.Key)
		if o.timer != nil {
			o.timer.Stop()
		}
	}
	n.lastMu.Unlock()
	if a.Text == "" {
		return on
	}
	r := a
	if on {
		r = o.alert
		r.Text, r.At = a.Text, time.Time{}
	}
	r.Resolved = true
	n.Notify(ctx, r)
	return on
}

// Ongoing returns the keys begun and not ended.
func (n *Notifier) Ongoing() []string {
	if n == nil {
		return nil
	}
	n.lastMu.Lock()
	defer n.lastMu.Unlock()
	keys := make([]string, 0, len(n.lasting))
	for k := range n.lasting {
		keys = append(keys, k)
	}
	return keys
}

// stopReminders disarms every reminder (Close).
func (n *Notifier) stopReminders() {
	n.lastMu.Lock()
	defer n.lastMu.Unlock()
	for k, o := range n.lasting {
		if o.timer != nil {
			o.timer.Stop()
		}
		delete(n.lasting, k)
	}
}
