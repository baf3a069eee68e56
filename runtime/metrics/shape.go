package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The load-shaping series (rate=, throttle=adaptive, concurrency=adaptive,
// retry_budget=), from Runtime.Shaping.
var (
	descRateLimited = prometheus.NewDesc(name("rate_limited_total"),
		"Calls refused by rate= (ErrRateLimited); a bucket shared by several methods is counted on each.",
		[]string{"service", "method"}, nil)
	descRateWaited = prometheus.NewDesc(name("rate_waited_total"),
		"Calls that waited for a rate token (rate_wait=).", []string{"service", "method"}, nil)
	descRateLeases = prometheus.NewDesc(name("rate_fleet_leases_total"),
		"Batches of tokens leased from the store by a fleet-wide rate limit (rate_scope=fleet), by outcome: ok or error.",
		[]string{"service", "method", "outcome"}, nil)
	descThrottleProbability = prometheus.NewDesc(name("throttle_reject_probability"),
		"Probability that throttle=adaptive sheds the next call.", []string{"service", "method"}, nil)
	descThrottled = prometheus.NewDesc(name("throttled_total"),
		"Calls shed by throttle=adaptive (ErrThrottled).", []string{"service", "method"}, nil)
	descConcurrencyLimit = prometheus.NewDesc(name("concurrency_limit"),
		"The adaptive concurrency limit (concurrency=adaptive) now.", []string{"service", "method"}, nil)
	descConcurrencyInFlight = prometheus.NewDesc(name("concurrency_in_flight"),
		"Calls holding an adaptive concurrency slot.", []string{"service", "method"}, nil)
	descConcurrencyLimited = prometheus.NewDesc(name("concurrency_limited_total"),
		"Calls refused by concurrency=adaptive (ErrConcurrencyLimited).", []string{"service", "method"}, nil)
	descBudgetRetries = prometheus.NewDesc(name("retry_budget_total"),
		"Retries asked of retry_budget=, by outcome: granted, or exhausted (not attempted; the caller got the last error).",
		[]string{"service", "method", "outcome"}, nil)

	descCacheCalls = prometheus.NewDesc(name("cache_calls_total"),
		"Calls of a cached method (cache=), by outcome: hit (answered from the cache), miss (no fresh entry), shared (a miss that waited for the call of its key in flight) or stale (a failed call answered with a stale result, stale_if_error=).",
		[]string{"service", "method", "outcome"}, nil)
	descCacheSize = prometheus.NewDesc(name("cache_entries"),
		"Entries a cached method holds now (bounded by BALDUR_CACHE_MAX_ENTRIES).", []string{"service", "method"}, nil)

	descHedges = prometheus.NewDesc(name("hedges_total"),
		"Hedged attempts (hedge=), by outcome: started, won (answered first), or refused by the retry budget.",
		[]string{"service", "method", "outcome"}, nil)
	descHedgeDelay = prometheus.NewDesc(name("hedge_delay_seconds"),
		"The delay after which hedge= starts another attempt (hedge_delay=, a percentile's value now).",
		[]string{"service", "method"}, nil)

	shapeDescs = []*prometheus.Desc{descCacheCalls, descCacheSize, descRateLimited, descRateWaited, descRateLeases, descThrottleProbability, descThrottled,
		descConcurrencyLimit, descConcurrencyInFlight, descConcurrencyLimited, descBudgetRetries, descHedges, descHedgeDelay}
)

// collectShaping sends the load-shaping series of the methods that use it.
func (c *Collector) collectShaping(ch chan<- prometheus.Metric, known map[string]struct{}) {
	for _, s := range c.rt.Snapshot().Shaping {
		svc := c.services.label(s.Service, known)
		counter := func(d *prometheus.Desc, v uint64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{svc, s.Method}, extra...)...)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, svc, s.Method)
		}
		for _, p := range s.Policies {
			switch p {
			case "cache":
				counter(descCacheCalls, s.CacheHits, "hit")
				counter(descCacheCalls, s.CacheMisses, "miss")
				counter(descCacheCalls, s.CacheShared, "shared")
				counter(descCacheCalls, s.CacheStale, "stale")
				gauge(descCacheSize, float64(s.CacheSize))
			case "rate":
				counter(descRateLimited, s.RateLimited)
				counter(descRateWaited, s.RateWaited)
				if s.RateFleet {
					counter(descRateLeases, s.RateLeases, "ok")
					counter(descRateLeases, s.RateErrors, "error")
				}
			case "throttle":
				gauge(descThrottleProbability, s.ThrottleProbability)
				counter(descThrottled, s.Throttled)
			case "concurrency":
				gauge(descConcurrencyLimit, float64(s.ConcurrencyLimit))
				gauge(descConcurrencyInFlight, float64(s.ConcurrencyInFlight))
				counter(descConcurrencyLimited, s.ConcurrencyLimited)
			case "retry_budget":
				counter(descBudgetRetries, s.BudgetGranted, "granted")
				counter(descBudgetRetries, s.BudgetExhausted, "exhausted")
			case "hedge":
				counter(descHedges, s.HedgesStarted, "started")
				counter(descHedges, s.HedgesWon, "won")
				counter(descHedges, s.HedgesRefused, "refused")
				gauge(descHedgeDelay, s.HedgeDelay.Seconds())
			}
		}
	}
}
