package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Canary rollouts: what this process's controller did since it started. The
// event label is a fixed list.
var descCanaryEvents = prometheus.NewDesc(name("canary_events_total"),
	"Canary rollout events in this process, by event (started, promoted, completed, rolled_back, aborted, blocked, watchdog, panic).",
	[]string{"event"}, nil)

func (c *Collector) collectCanary(ch chan<- prometheus.Metric) {
	ctl := c.rt.Canary()
	if ctl == nil {
		return
	}
	s := ctl.Stats()
	for event, n := range map[string]uint64{"started": s.Started, "promoted": s.Promoted, "completed": s.Completed,
		"rolled_back": s.RolledBack, "aborted": s.Aborted, "blocked": s.Blocked, "watchdog": s.Watchdog, "panic": s.Panics} {
		ch <- prometheus.MustNewConstMetric(descCanaryEvents, prometheus.CounterValue, float64(n), event)
	}
}
