package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/runtime/governance"
)

// Emergency mode and the governance gate. The check label takes the
// governance checks' names (a fixed list), so it needs no cardinality cap.
var (
	descEmergencyLevel = prometheus.NewDesc(name("emergency_level"),
		"Emergency level in force in this process: 0 NORMAL, 1 ELEVATED, 2 HIGH, 3 CRITICAL.", nil, nil)
	descEmergencyShed = prometheus.NewDesc(name("emergency_shed_total"),
		"Calls failed fast because the emergency level sheds their zone.", nil, nil)
	descGovDecisions = prometheus.NewDesc(name("governance_decisions_total"),
		"Decisions of the governance gate on automated actions, by outcome (allowed, blocked, break_glass).", []string{"outcome"}, nil)
	descGovBlocked = prometheus.NewDesc(name("governance_blocked_total"),
		"Automated actions the governance gate refused, by the check that refused.", []string{"check"}, nil)
	descGovFailsafe = prometheus.NewDesc(name("governance_failsafe_total"),
		"Governance checks that could not be evaluated and allowed the action (FAILSAFE), by check.", []string{"check"}, nil)
)

var emergencyDescs = []*prometheus.Desc{descEmergencyLevel, descEmergencyShed, descGovDecisions, descGovBlocked, descGovFailsafe}

func (c *Collector) collectEmergency(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descEmergencyLevel, prometheus.GaugeValue, float64(c.rt.EmergencyLevel()))
	ch <- prometheus.MustNewConstMetric(descEmergencyShed, prometheus.CounterValue, float64(c.rt.ShedCalls()))
	g := c.rt.GovernanceCounts()
	var blocked uint64
	for _, check := range governance.Order {
		n := g.Blocked[string(check)]
		blocked += n
		ch <- prometheus.MustNewConstMetric(descGovBlocked, prometheus.CounterValue, float64(n), string(check))
		ch <- prometheus.MustNewConstMetric(descGovFailsafe, prometheus.CounterValue, float64(g.Failsafe[string(check)]), string(check))
	}
	for outcome, n := range map[string]uint64{"allowed": g.Allowed, "blocked": blocked, "break_glass": g.BreakGlass} {
		ch <- prometheus.MustNewConstMetric(descGovDecisions, prometheus.CounterValue, float64(n), outcome)
	}
}
