// Package canary rolls a runtime policy override out in stages: the override
// is staged for a fraction of calls (1 % → 10 % → 50 % → 100 % by default),
// each stage is held for a window, and the canary cohort (the calls that took
// the override) is judged against the baseline cohort (the calls that did
// not) on the runtime's own counters: error rate and sampled latency
// percentiles. Within the thresholds the rollout is promoted to the next
// stage; outside them it is rolled back at once. At 100 % and passing the
// override is committed as a plain override.
//
// Fleet-wide: the rollouts are one record in the store (StateKey, changed by
// compare-and-set and announced on ChangedChannel). Every process follows it
// (Controller.Sync: stages or clears the canary in its own override engine)
// and publishes its cohort counters for the current stage to the store; the
// leader sums them (Controller.Step) and decides. Rolling back (a bad cohort,
// the watchdog, an abort, the panic button) is one write any process may make;
// every process clears its canary when it reads it.
//
// Gates fail closed: a start and every promotion are refused while the kill
// switch is engaged, while the emergency level is at or above MaxEmergency,
// while the governance gate refuses or cannot run, and while a fault-injection
// experiment targets the service (the chaos guard). The refusal names the
// gate. A bypass (a written reason) lets a rollout through every gate but the
// kill switch and is flagged for review.
//
// The package reaches the runtime through small interfaces (Overrides, Chaos,
// the functions of Gates), so it is tested on a fake override engine and a
// fake clock.
package canary
