package admin

import (
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// The load-shaping route (adminapi.PathShaping): Runtime.Snapshot().Shaping
// in the contract's types.

func (c *call) shaping() {
	snap := c.h.rt.Snapshot()
	c.ok(shapingAnswer(snap.At, c.h.rt.EmergencyLevel().String(), snap.Shaping))
}

func shapingAnswer(at time.Time, level string, stats []runtime.ShapeStats) adminapi.Shaping {
	out := adminapi.Shaping{At: at, Level: level, Methods: make([]adminapi.ShapingMethod, 0, len(stats))}
	for _, s := range stats {
		m := adminapi.ShapingMethod{Service: s.Service, Method: s.Method, Policies: s.Policies}
		if m.Policies == nil {
			m.Policies = []string{}
		}
		if s.Rate != "" {
			m.Rate = &adminapi.ShapingRate{Limit: s.Rate, Burst: s.RateBurst, Bucket: s.RateBucket, Fleet: s.RateFleet,
				Tokens: s.RateTokens, Halved: s.RateHalved, Limited: s.RateLimited, Waited: s.RateWaited,
				Leases: s.RateLeases, Errors: s.RateErrors}
		}
		for _, p := range s.Policies {
			switch p {
			case "throttle":
				m.Throttle = &adminapi.ShapingThrottle{Probability: s.ThrottleProbability, Shed: s.Throttled}
			case "cache":
				m.Cache = &adminapi.ShapingCache{Hits: s.CacheHits, Misses: s.CacheMisses, Shared: s.CacheShared,
					Stale: s.CacheStale, Entries: s.CacheSize, Max: s.CacheMax}
			case "hedge":
				m.Hedge = &adminapi.ShapingHedge{Started: s.HedgesStarted, Won: s.HedgesWon, Refused: s.HedgesRefused,
					DelayMs: float64(s.HedgeDelay) / float64(time.Millisecond)}
			case "concurrency":
				m.Concurrency = &adminapi.ShapingConcurrency{Limit: s.ConcurrencyLimit, InFlight: s.ConcurrencyInFlight,
					Limited: s.ConcurrencyLimited, Halved: s.ConcurrencyHalved}
			}
		}
		if s.RetryBudget != "" {
			m.Budget = &adminapi.ShapingBudget{Budget: s.RetryBudget, Fleet: s.BudgetFleet, Processes: s.BudgetProcesses,
				Retries: s.BudgetRetries, Allowed: s.BudgetAllowed, Granted: s.BudgetGranted, Exhausted: s.BudgetExhausted,
				Shrunk: s.BudgetShrunk, SyncErrors: s.BudgetSyncErrs}
		}
		out.Methods = append(out.Methods, m)
	}
	return out
}
