package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Fault injection (README, Fault injection). The service label takes the
// services of this process's zones, a bounded set.
var (
	descChaosInjected = prometheus.NewDesc(name("chaos_injected_total"),
		"Calls a fault-injection experiment failed (kind=error) or delayed (kind=latency) in this process.",
		[]string{"service", "kind"}, nil)
	descChaosActive = prometheus.NewDesc(name("chaos_active"),
		"1 while a fault-injection experiment is applied to the service in this process.", []string{"service"}, nil)
)

var chaosDescs = []*prometheus.Desc{descChaosInjected, descChaosActive}

func (c *Collector) collectChaos(ch chan<- prometheus.Metric, known map[string]struct{}) {
	x := c.rt.Chaos()
	if x == nil {
		return
	}
	for svc := range known {
		errs, delays := x.Injected(svc)
		active := 0.0
		if x.Active(svc) {
			active = 1
		}
		ch <- prometheus.MustNewConstMetric(descChaosInjected, prometheus.CounterValue, float64(errs), svc, "error")
		ch <- prometheus.MustNewConstMetric(descChaosInjected, prometheus.CounterValue, float64(delays), svc, "latency")
		ch <- prometheus.MustNewConstMetric(descChaosActive, prometheus.GaugeValue, active, svc)
	}
}
