package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/runtime/audit"
)

// auditCollector exposes the audit trail's Stats at scrape time.
type auditCollector struct {
	trail                   *audit.Trail
	records, backlog, broke *prometheus.Desc
	lost                    *prometheus.Desc
}

// AuditCollector returns a collector of the trail's series (see the package
// doc); NewRegistry adds it when the runtime's trail is on.
func AuditCollector(tr *audit.Trail) prometheus.Collector {
	return &auditCollector{
		trail: tr,
		records: prometheus.NewDesc(name("audit_records_total"),
			"Audit records this process wrote to the store (operator actions, refused attempts, automated actions).", nil, nil),
		lost: prometheus.NewDesc(name("audit_records_lost_total"),
			"Audit records this process could not write to the store.", nil, nil),
		backlog: prometheus.NewDesc(name("audit_backlog"),
			"Audit records not yet sealed into the chain or, with BALDUR_SQL_DSN, not yet in PostgreSQL.", nil, nil),
		broke: prometheus.NewDesc(name("audit_chain_broken"),
			"1 when the last verification or drain found the audit chain broken.", nil, nil),
	}
}

func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.records
	ch <- c.lost
	ch <- c.backlog
	ch <- c.broke
}

func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.trail.Stats()
	ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(s.Recorded))
	ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(s.Lost))
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(s.Backlog))
	ch <- prometheus.MustNewConstMetric(c.broke, prometheus.GaugeValue, b2f(s.ChainBroken))
}
