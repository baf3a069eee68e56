package admin

import (
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

// The fleet routes (adminapi.PathLeader, PathSchedule, PathWatchdog): who
// leads, the scheduled tasks, the watchdog over the runtime's own loops.

func leaderAnswer(s leader.Status) adminapi.Leader {
	return adminapi.Leader{Group: s.Group, Mode: s.Mode, ID: s.ID, Leader: s.Leader, Token: uint64(s.Token),
		Since: s.Since, Expires: s.Expires, Holder: s.Holder, HolderToken: uint64(s.HolderToken),
		Lease: s.Lease, Renew: s.Renew, LastError: s.LastError}
}

func (c *call) leaderStatus() { c.ok(leaderAnswer(c.h.rt.Leader().Status())) }

func (c *call) scheduleStatus() {
	tasks := c.h.rt.Scheduler().Status()
	out := adminapi.Schedule{Tasks: make([]adminapi.Task, 0, len(tasks))}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, taskAnswer(t))
	}
	c.ok(out)
}

func watchdogAnswer(w *watchdog.Watchdog) adminapi.Watchdog {
	ok, detail := w.Health()
	loops := w.Status()
	out := adminapi.Watchdog{Healthy: ok, Detail: detail, Loops: make([]adminapi.Loop, 0, len(loops))}
	for _, l := range loops {
		out.Loops = append(out.Loops, adminapi.Loop{Name: l.Name, Period: int64(l.Period), State: l.State,
			LastBeat: l.LastBeat, Silent: int64(l.Silent), Restarts: l.Restarts})
	}
	return out
}

func (c *call) watchdogStatus() { c.ok(watchdogAnswer(c.h.rt.Watchdog())) }

// watchdogCheck is the "watchdog" health check: degraded while a loop of the
// runtime is stalled or failed.
func (h *Handler) watchdogCheck() checkResult {
	v := watchdogAnswer(h.rt.Watchdog())
	if v.Healthy {
		return checkResult{Status: Healthy}
	}
	return checkResult{Status: Degraded, Error: "background loops silent: " + v.Detail, Detail: v.Loops}
}
