package report

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/baldur-go/baldur/runtime/notify"
)

// DefaultDeliverAt is Options.DeliverAt's default: 08:00.
const DefaultDeliverAt = 8 * time.Hour

// deliveredTTL keeps a day's delivery claim long after any process could
// still try to deliver that day.
const deliveredTTL = 7 * 24 * time.Hour

// DeliveredKey is the claim that makes one process of the fleet deliver
// date's report. It lies outside "report:", which Load lists.
func DeliveredKey(date string) string { return "report_delivered:" + date }

// Deliver raises the fleet's report of date through Options.Notifier, once
// per fleet: the process that claims DeliveredKey(date) in the store loads
// the merged report (Load) and raises it; the others do nothing. It
// reports whether this process delivered. A day without a stored report
// gives its claim back (ErrNoReport), so that a process that has one may
// deliver it.
//
// The alert: key daily_report:<date>, priority LOW on a calm or info day,
// MEDIUM on a warning day (both Slack only by default), HIGH on a critical
// one (every channel); the text is Message(r).
func (g *Generator) Deliver(ctx context.Context, date string) (bool, error) {
	n := g.opts.Notifier
	if n == nil {
		return false, nil
	}
	won, err := g.opts.Store.SetNX(ctx, DeliveredKey(date), []byte(g.opts.Node), deliveredTTL)
	if err != nil {
		return false, err
	}
	if !won {
		return false, nil
	}
	r, err := g.Load(ctx, date)
	if err != nil {
		if errors.Is(err, ErrNoReport) {
			_, _ = g.opts.Store.Delete(context.WithoutCancel(ctx), DeliveredKey(date))
		}
		return false, err
	}
	n.Notify(ctx, notify.Alert{Key: "daily_report:" + date, Priority: deliveryPriority(r.Severity),
		Title: "Daily report " + date + ": " + headline(r), Text: Message(r),
		Labels: map[string]string{"severity": string(r.Severity)}})
	g.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "report.daily_delivered", slog.String("date", date),
		slog.String("severity", string(r.Severity)), slog.Int("nodes", len(r.Nodes)))
	return true, nil
}

func deliveryPriority(s Severity) notify.Priority {
	switch s {
	case SeverityCritical:
		return notify.High
	case SeverityWarning:
		return notify.Medium
	}
	return notify.Low
}

// armMorningLocked arms the next delivery, at DeliverAt after a midnight.
// With timerMu held.
func (g *Generator) armMorningLocked() {
	if g.opts.Notifier == nil {
		return
	}
	now := g.opts.Clock.Now()
	at := midnightAfter(now, g.opts.Location).Add(-24 * time.Hour).Add(g.opts.DeliverAt)
	if !at.After(now) {
		at = midnightAfter(now, g.opts.Location).Add(g.opts.DeliverAt)
	}
	g.morning = g.opts.Clock.AfterFunc(at.Sub(now), g.deliverYesterday)
}

func (g *Generator) deliverYesterday() { g.timed(g.deliverDayBefore, g.armMorningLocked) }

func (g *Generator) deliverDayBefore(ctx context.Context) {
	now := g.opts.Clock.Now().In(g.opts.Location)
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, g.opts.Location).Format(time.DateOnly)
	if _, err := g.Deliver(ctx, yesterday); err != nil {
		g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "report.delivery_failed", slog.String("date", yesterday),
			slog.String("error", err.Error()))
	}
}
