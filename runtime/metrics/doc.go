// Package metrics exposes a baldur runtime to Prometheus: a Collector that
// reads the runtime's counters at scrape time, so the hot path pays nothing
// for Prometheus, and a Registry helper for the admin server.
//
// Register the Collector in your own registry, or serve Registry(rt):
//
//	prometheus.MustRegister(metrics.NewCollector(rt, metrics.Options{}))
//	// or: admin.Options{Gatherer: metrics.Registry(rt)} (the admin server's default)
//
// # Series
//
// Counters count since the runtime (transitions, dry-run decisions: since
// the Collector) was built; every label value of service, method and
// compartment comes from the generated method list (rt.Zones()). With
// runtime.Config.CallStats off (the zero Config, or BALDUR_CALL_STATS=off) the per-method series
// (calls, duration, retries, timeouts) are absent.
//
//	baldur_calls_total{service,method,outcome}            counter
//	    outcome: success, failure, ignored (attempts, as the breaker counts them: a
//	    retried call counts each attempt), rejected_breaker, rejected_bulkhead,
//	    fallback (calls); duplicate once idempotency reports (see IdempotencySource)
//	baldur_call_duration_seconds{service,method}          histogram
//	    SAMPLED attempt durations (about one attempt in 64 is timed): _count is the
//	    number of samples, not of calls; use baldur_calls_total for rates
//	baldur_retries_total{service,method}                  counter  retries scheduled
//	baldur_timeouts_total{service,method}                 counter  attempts past timeout=
//	baldur_breaker_state{service,state}                   gauge    1 for the current state, 0 for the others
//	    state: closed, half_open, open, forced_open, forced_closed (one series per state)
//	baldur_breaker_transitions_total{service,from,to}     counter  from/to: the states above
//	baldur_bulkhead_active{compartment}                   gauge    calls holding a slot (never below 0)
//	baldur_bulkhead_capacity{compartment}                 gauge    slots
//	baldur_store_degraded                                 gauge    1 while Redis is unreachable (DEGRADED mode)
//	baldur_store_degradations_total                       counter  switches to DEGRADED (Redis only)
//	baldur_store_replayed_total                           counter  writes replayed to Redis after DEGRADED (Redis only)
//	baldur_store_reconcile_conflicts_total                counter  replayed writes Redis refused (0 without Redis)
//	baldur_dryrun_decisions_total{policy}                 counter  would-have decisions (breaker, bulkhead, retry, fallback)
//	baldur_dryrun_enabled                                 gauge    1 while dry-run is on
//	baldur_kill_switch_enabled                            gauge    1 while policies run, 0 when the kill switch is off
//	baldur_idempotency_outcomes_total{service,method,outcome}  counter  (claimed, duplicate, replayed, key_reuse, unavailable, fail_open, no_key, canceled)
//	baldur_audit_records_total                            counter  audit records this process wrote (NewRegistry, trail on)
//	baldur_audit_records_lost_total                       counter  audit records the store could not take
//	baldur_audit_backlog                                  gauge    records not yet sealed, or not yet in PostgreSQL
//	baldur_audit_chain_broken                             gauge    1 when the last verify or drain found the chain broken
//	baldur_dlq_entries{domain,state}                      gauge    (only with Options.DLQ)
//	baldur_dlq_evicted_total                              counter  (only with Options.DLQ)
//	baldur_dlq_replays_resolved_total{domain}             counter  (only with Options.DLQ)
//	baldur_metrics_source_errors_total{source}            counter  a hook that failed during a scrape
//	baldur_notifications_total{outcome,reason}            counter  alerts (runtime/notify): delivered, failed and
//	    retried by channel (slack, webhook, alertmanager); suppressed by reason (disabled, rate_limited,
//	    cooldown, log_only); dropped (queue_full, closed); escalated (burst). Every pair, zeros included.
//	baldur_emergency_level                                gauge    0 NORMAL, 1 ELEVATED, 2 HIGH, 3 CRITICAL
//	baldur_emergency_shed_total                           counter  calls failed fast by the emergency level
//	baldur_governance_decisions_total{outcome}            counter  allowed, blocked, break_glass
//	baldur_governance_blocked_total{check}                counter  kill_switch, emergency, error_budget, strict
//	baldur_governance_failsafe_total{check}               counter  checks that could not be evaluated (allowed)
//	baldur_canary_events_total{event}                     counter  canary rollouts: started, promoted, completed,
//	    rolled_back, aborted, blocked, watchdog, panic (this process's controller)
//	baldur_chaos_injected_total{service,kind}             counter  calls a fault-injection experiment failed (error) or delayed (latency)
//	baldur_chaos_active{service}                          gauge    1 while an experiment is applied to the service here
//
// # Cardinality
//
// Label values that do not come from the method list (a breaker transition of
// a service no local method declares, DLQ domains, idempotency services) are
// free-form: at most Options.MaxDomains (default 50) distinct values per label
// are kept, first come first kept, and the rest are summed into the value
// "__other__". Gauges are clamped at 0.
//
// # Alerts
//
// A breaker open for two minutes, and the store in DEGRADED mode:
//
//   - alert: BaldurBreakerOpen
//     expr: max by (service) (baldur_breaker_state{state=~"open|forced_open"}) == 1
//     for: 2m
//     annotations:
//     summary: "baldur breaker {{ $labels.service }} is open: calls are rejected or served by fallbacks"
//   - alert: BaldurStoreDegraded
//     expr: max(baldur_store_degraded) == 1
//     for: 1m
//     annotations:
//     summary: "Redis unreachable: baldur serves shared state from the local store (DEGRADED)"
//   - alert: BaldurFailureRatioHigh
//     expr: sum by (service) (rate(baldur_calls_total{outcome="failure"}[5m]))
//     / sum by (service) (rate(baldur_calls_total{outcome=~"success|failure"}[5m])) > 0.2
//     for: 5m
//
// Idempotency outcomes and DLQ depth are hooks (IdempotencySource,
// dlq.DepthSource; dlq.QueueDepth adapts a *dlq.Queue): the runtime does not hand them
// to the Collector by itself yet.
package metrics
