package runtime

import (
	"cmp"
	"slices"
	"time"
)

// ShapeStats is one protected method's load shaping at one moment: what
// /metrics, the admin API and the console read. Fields of a policy the method
// does not use are zero; Policies lists those it uses.
type ShapeStats struct {
	Service, Method string
	Policies        []string // of cache, rate, throttle, concurrency, retry_budget, hedge

	// cache=: calls answered from the cache, calls that found no fresh
	// entry (Shared of them waited for the one call of their key), failed
	// calls answered with a stale result (stale_if_error=), the entries
	// held now and their bound.
	CacheHits, CacheMisses, CacheShared, CacheStale uint64
	CacheSize, CacheMax                             int

	// rate=: the limit as written, its bucket (shared by name), whether it is
	// fleet-wide, and what it counted (a bucket's counts are the bucket's,
	// shown on each method sharing it).
	Rate        string
	RateBucket  string
	RateFleet   bool
	RateLimited uint64 // calls refused with ErrRateLimited
	RateWaited  uint64 // calls that waited for a token (rate_wait=)
	RateLeases  uint64 // fleet: batches leased from the store
	RateErrors  uint64 // fleet: leases that failed (the process then limits alone)
	RateBurst   int64  // the bucket's size
	RateTokens  int64  // calls it would admit at once now (fleet: this process's leased pool)
	RateHalved  bool   // the emergency level (HIGH and above) halves the rate and the burst

	// throttle=adaptive: the local rejection probability now, and the calls shed.
	ThrottleProbability float64
	Throttled           uint64

	// concurrency=adaptive: the limit now, calls in flight, calls refused.
	ConcurrencyLimit    int64
	ConcurrencyInFlight int64
	ConcurrencyLimited  uint64
	ConcurrencyHalved   bool // the emergency level (HIGH and above) halves the limit and its ceiling

	// retry_budget=: the budget as written, retries granted and refused (the
	// caller got the last error) since start, and over the trailing window
	// the retries spent against those allowed (the fleet's, when shared).
	RetryBudget     string
	BudgetFleet     bool  // retry_budget_scope=fleet
	BudgetProcesses int64 // fleet: processes sharing it at the last sync
	BudgetSyncErrs  uint64
	BudgetGranted   uint64
	BudgetExhausted uint64

	// hedge=: extra attempts started, won (a hedge answered first), refused
	// by the retry budget, and the delay in force (hedge_delay=).
	HedgesStarted uint64
	HedgesWon     uint64
	HedgesRefused uint64
	HedgeDelay    time.Duration
	BudgetRetries int64
	BudgetAllowed float64
	BudgetShrunk  bool // the emergency level (ELEVATED and above) halves the ratio and the floor
}

// Shaping returns the load shaping of every method that uses it, sorted by
// service and method.
func (rt *Runtime) Shaping() []ShapeStats {
	rt.mu.Lock()
	zones := make([]*Zone, 0, len(rt.zones))
	for _, z := range rt.zones {
		if z.shape != nil || z.cache != nil {
			zones = append(zones, z)
		}
	}
	rt.mu.Unlock()
	out := make([]ShapeStats, 0, len(zones))
	for _, z := range zones {
		s, sh := ShapeStats{Service: z.spec.Service, Method: z.spec.Method}, z.shape
		if z.cache != nil {
			z.fillCache(&s)
		}
		if sh == nil {
			out = append(out, s)
			continue
		}
		if l := sh.rate; l != nil {
			st := l.Stats()
			s.Policies = append(s.Policies, "rate")
			s.Rate, s.RateBucket, s.RateFleet = l.Limit(), z.rateBucket(), z.spec.RateScope == RateScopeFleet
			s.RateLimited, s.RateWaited, s.RateLeases, s.RateErrors = st.Limited, st.Waited, st.Leases, st.LeaseErrors
			s.RateBurst, s.RateTokens, s.RateHalved = l.Burst(), l.Tokens(), l.Halved()
		}
		if t := sh.throttle; t != nil {
			s.Policies = append(s.Policies, "throttle")
			s.ThrottleProbability, s.Throttled = t.Probability(), t.Rejected()
		}
		if c := sh.conc; c != nil {
			s.Policies = append(s.Policies, "concurrency")
			s.ConcurrencyLimit, s.ConcurrencyInFlight, s.ConcurrencyLimited = c.Limit(), c.InFlight(), c.Limited()
			s.ConcurrencyHalved = c.Halved()
		}
		if b := sh.budget; b != nil {
			st := b.Stats()
			s.Policies = append(s.Policies, "retry_budget")
			s.RetryBudget, s.BudgetGranted, s.BudgetExhausted = b.String(), st.Granted, st.Exhausted
			s.BudgetRetries, s.BudgetAllowed = b.Use()
			s.BudgetShrunk, s.BudgetFleet, s.BudgetProcesses, s.BudgetSyncErrs = b.Shrunk(), b.Fleet(), st.Processes, st.SyncErrs
		}
		if h := sh.hedge; h != nil {
			s.Policies = append(s.Policies, "hedge")
			s.HedgesStarted, s.HedgesWon, s.HedgesRefused = h.started.Load(), h.won.Load(), h.refused.Load()
			s.HedgeDelay = h.delay.Delay()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ShapeStats) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// rateBucket is the name the zone's limiter is shared under.
func (z *Zone) rateBucket() string {
	if z.spec.RateBucket != "" {
		return z.spec.RateBucket
	}
	return z.spec.Service
}
