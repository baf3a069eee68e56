package admin

import (
	"github.com/baldur-go/baldur/runtime/schedule"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

// The fleet routes: who leads, the scheduled tasks, the watchdog over the
// runtime's own loops. Read-only (viewer).

// ScheduleView is the answer of schedule/.
type ScheduleView struct {
	Tasks []schedule.TaskStatus `json:"tasks"`
}

// WatchdogView is the answer of watchdog/.
type WatchdogView struct {
	Healthy bool                  `json:"healthy"`
	Detail  string                `json:"detail"`
	Loops   []watchdog.LoopStatus `json:"loops"`
}

func (c *call) leaderStatus() {
	c.ok(c.h.rt.Leader().Status())
}

func (c *call) scheduleStatus() {
	c.ok(ScheduleView{Tasks: c.h.rt.Scheduler().Status()})
}

func watchdogView(w *watchdog.Watchdog) WatchdogView {
	ok, detail := w.Health()
	return WatchdogView{Healthy: ok, Detail: detail, Loops: w.Status()}
}

func (c *call) watchdogStatus() { c.ok(watchdogView(c.h.rt.Watchdog())) }

// watchdogCheck is the "watchdog" health check: degraded while a loop of the
// runtime is stalled or failed.
func (h *Handler) watchdogCheck() checkResult {
	v := watchdogView(h.rt.Watchdog())
	if v.Healthy {
		return checkResult{Status: Healthy}
	}
	return checkResult{Status: Degraded, Error: "background loops silent: " + v.Detail, Detail: v.Loops}
}
