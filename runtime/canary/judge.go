package canary

import "fmt"

// Judge decides a stage from the cohorts' figures. baseline is the reference
// when the stage has no baseline cohort (100 %). It returns VerdictWait while
// the canary has fewer than MinCalls calls.
func Judge(th Thresholds, canary, baseline Figures) (outcome, reason string) {
	if canary.Calls < th.MinCalls {
		return VerdictWait, fmt.Sprintf("%d of %d canary calls needed before judging", canary.Calls, th.MinCalls)
	}
	if baseline.Calls < th.MinCalls {
		return VerdictWait, fmt.Sprintf("%d of %d baseline calls needed before judging", baseline.Calls, th.MinCalls)
	}
	if canary.ErrorRate > baseline.ErrorRate+th.MaxErrorRise {
		return VerdictFail, fmt.Sprintf("canary error rate %.2f %% above baseline %.2f %% + %.2f points",
			canary.ErrorRate, baseline.ErrorRate, th.MaxErrorRise)
	}
	latency := fmt.Sprintf("latency not judged (%d and %d samples, %d needed)", canary.Samples, baseline.Samples, th.MinSamples)
	if canary.Samples >= th.MinSamples && baseline.Samples >= th.MinSamples {
		if canary.P99 > baseline.P99*th.MaxP99Ratio {
			return VerdictFail, fmt.Sprintf("canary p99 %.3g ms above baseline p99 %.3g ms × %g",
				canary.P99, baseline.P99, th.MaxP99Ratio)
		}
		latency = fmt.Sprintf("p99 %.3g ms within %.3g ms × %g", canary.P99, baseline.P99, th.MaxP99Ratio)
	}
	return VerdictPass, fmt.Sprintf("error rate %.2f %% within %.2f %% + %.2f points; %s",
		canary.ErrorRate, baseline.ErrorRate, th.MaxErrorRise, latency)
}
