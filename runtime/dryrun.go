package runtime

import "time"

// What dry-run and the kill switch do to the policies that act outside a
// call: the timeout's bound and the dead-letter queue's automatic sweep.
// The README's table "Policies in each mode" is the contract.

// noBound is the attempt bound Timeout returns in dry-run: about 146 years,
// so that it never cuts an attempt (the caller's own deadline still applies)
// and a deadline computed from it does not overflow.
const noBound = time.Duration(1 << 62)

// dryTimed records a would-have timeout for a dry-run attempt that ran longer
// than its timeout= (the variant's it started with); start is when Enter
// admitted it, on the runtime's clock, since the runtime's epoch.
func (z *Zone) dryTimed(start int64, timeout time.Duration, err error) {
	took := z.rt.clock.Now().Sub(z.rt.epoch) - time.Duration(start)
	if took <= timeout {
		return
	}
	reason := "attempt took " + took.Round(time.Microsecond).String() + ", over timeout=" + timeout.String()
	if err != nil {
		reason += "; it returned: " + err.Error()
	}
	z.rt.wouldHave(z, "timeout", "timeout", reason)
}

// sweepHold says why the dead-letter queue's automatic sweeps must not
// replay now, or "" when they may: in dry-run a sweep is recorded as a
// would-have decision and replays nothing; while the kill switch is DISABLED
// sweeps stop. An operator's replay is not held here (the admin API refuses
// it while DISABLED unless overridden).
func (rt *Runtime) sweepHold() string {
	switch m := rt.mode.Load(); {
	case m&modeDisabled != 0:
		return "the kill switch is DISABLED"
	case m&modeDryRun != 0:
		return "dry-run is on"
	}
	return ""
}
