package metrics

import "github.com/prometheus/client_golang/prometheus"

// descNotifications counts alerts by what became of them; its labels come
// from a fixed list (notify.Count), never from the alerts themselves, and
// no webhook URL is ever a label.
var descNotifications = prometheus.NewDesc(name("notifications_total"),
	"Alerts by outcome (delivered, failed, retried, suppressed, dropped, escalated) and reason "+
		"(the channel, or disabled, rate_limited, cooldown, log_only, queue_full, closed, burst).",
	[]string{"outcome", "reason"}, nil)

// collectNotifications sends the runtime's notifier counters, zeros
// included, so that a rate over them exists before the first alert.
func (c *Collector) collectNotifications(ch chan<- prometheus.Metric) {
	for _, n := range c.rt.Notifier().Counts() {
		ch <- prometheus.MustNewConstMetric(descNotifications, prometheus.CounterValue, float64(n.N), n.Outcome, n.Reason)
	}
}
