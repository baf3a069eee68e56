package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/runtime/watchdog"
)

// The fleet coordination's series: read from the elector, the scheduler and
// the watchdog at scrape time, never from the store.
var (
	descLeader = prometheus.NewDesc(name("leader"),
		"1 while this process leads the fleet (holds an unexpired term), else 0.", nil, nil)
	descLeaderToken = prometheus.NewDesc(name("leader_token"),
		"The fencing token of this process's current term (0 when it does not lead).", nil, nil)
	descScheduleRuns = prometheus.NewDesc(name("schedule_runs_total"),
		"Runs of a scheduled task that ended, by task.", []string{"task"}, nil)
	descScheduleFailures = prometheus.NewDesc(name("schedule_failures_total"),
		"Runs of a scheduled task that failed or panicked, by task.", []string{"task"}, nil)
	descScheduleSkips = prometheus.NewDesc(name("schedule_skips_total"),
		"Runs of a scheduled task skipped (not the leader, or the previous run still running), by task.", []string{"task"}, nil)
	descScheduleLast = prometheus.NewDesc(name("schedule_last_run_timestamp_seconds"),
		"When a scheduled task last started, by task (absent before its first run).", []string{"task"}, nil)
	descWatchdogStalled = prometheus.NewDesc(name("watchdog_loop_stalled"),
		"1 while a background loop of the runtime is stalled or failed (silent past its limit), by loop.", []string{"loop"}, nil)
	descWatchdogRestarts = prometheus.NewDesc(name("watchdog_restarts_total"),
		"Restarts of a stalled background loop by the watchdog, by loop.", []string{"loop"}, nil)

	fleetDescs = []*prometheus.Desc{descLeader, descLeaderToken, descScheduleRuns, descScheduleFailures,
		descScheduleSkips, descScheduleLast, descWatchdogStalled, descWatchdogRestarts}
)

func (c *Collector) collectFleet(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	s := c.rt.Leader().Status()
	gauge(descLeader, b2f(s.Leader))
	gauge(descLeaderToken, float64(s.Token))
	for _, t := range c.rt.Scheduler().Status() {
		counter(descScheduleRuns, t.Runs, t.Name)
		counter(descScheduleFailures, t.Failures, t.Name)
		counter(descScheduleSkips, t.Skips, t.Name)
		if !t.LastRun.IsZero() {
			gauge(descScheduleLast, float64(t.LastRun.UnixNano())/1e9, t.Name)
		}
	}
	for _, l := range c.rt.Watchdog().Status() {
		gauge(descWatchdogStalled, b2f(l.State != watchdog.StateOK), l.Name)
		counter(descWatchdogRestarts, int64(l.Restarts), l.Name)
	}
}
