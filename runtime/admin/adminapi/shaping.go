package adminapi

import "time"

// PathShaping is the load-shaping route: each protected method's rate limit,
// adaptive throttle, adaptive concurrency limit and retry budget, as this
// process sees them. Read-only.
const PathShaping = "shaping"

// Shaping is the answer of shaping/.
type Shaping struct {
	At time.Time `json:"at"`
	// Level is the emergency level in force (NORMAL, ELEVATED, HIGH,
	// CRITICAL): from ELEVATED the retry budgets are halved, from HIGH the
	// rate limits and the adaptive concurrency limits.
	Level   string          `json:"level"`
	Methods []ShapingMethod `json:"methods"`
}

// ShapingMethod is one protected method's load shaping. Fields of a policy
// the method does not use are absent; Policies lists those it uses (cache,
// rate, throttle, concurrency, retry_budget, hedge).
type ShapingMethod struct {
	Service  string   `json:"service"`
	Method   string   `json:"method"`
	Policies []string `json:"policies"`

	Rate *ShapingRate `json:"rate,omitempty"`
	// Throttle and Concurrency are present with throttle=adaptive and
	// concurrency=adaptive.
	Throttle    *ShapingThrottle    `json:"throttle,omitempty"`
	Concurrency *ShapingConcurrency `json:"concurrency,omitempty"`
	Budget      *ShapingBudget      `json:"retry_budget,omitempty"`
	Hedge       *ShapingHedge       `json:"hedge,omitempty"`
	Cache       *ShapingCache       `json:"cache,omitempty"`
}

// ShapingHedge is hedge=: the hedges started, won (answered first) and
// refused by the retry budget, and the delay in force (hedge_delay=, a
// percentile's value now).
type ShapingHedge struct {
	Started uint64  `json:"started"`
	Won     uint64  `json:"won"`
	Refused uint64  `json:"refused"`
	DelayMs float64 `json:"delay_ms"`
}

// ShapingCache is cache=: calls answered from the cache (hits), calls that
// found no fresh entry (misses; shared: of those, the ones that waited for
// the call of their key in flight), failed calls answered with a stale
// result (stale_if_error=), and the entries held and their bound.
type ShapingCache struct {
	Hits    uint64 `json:"hits"`
	Misses  uint64 `json:"misses"`
	Shared  uint64 `json:"shared"`
	Stale   uint64 `json:"stale"`
	Entries int    `json:"entries"`
	Max     int    `json:"max_entries"`
}

// ShapingRate is rate=: the limit as written, its bucket, the tokens the
// process could spend at once now, and what it counted (a bucket's counts,
// shown on each method sharing it).
type ShapingRate struct {
	Limit  string `json:"limit"`
	Burst  int64  `json:"burst"`
	Bucket string `json:"bucket"`
	Fleet  bool   `json:"fleet"`
	// Tokens: the calls it would admit at once now (a fleet limit: the batch
	// this process leased and has not spent).
	Tokens int64 `json:"tokens"`
	// Halved: the emergency level halves the rate and the burst.
	Halved  bool   `json:"halved"`
	Limited uint64 `json:"limited"`
	Waited  uint64 `json:"waited"`
	Leases  uint64 `json:"leases"`
	Errors  uint64 `json:"lease_errors"`
}

// ShapingThrottle is throttle=adaptive: the probability of shedding a call
// locally now (0..1), and the calls shed.
type ShapingThrottle struct {
	Probability float64 `json:"probability"`
	Shed        uint64  `json:"shed"`
}

// ShapingConcurrency is concurrency=adaptive: the limit now, calls in
// flight, calls refused; Halved while the emergency level halves it.
type ShapingConcurrency struct {
	Limit    int64  `json:"limit"`
	InFlight int64  `json:"in_flight"`
	Limited  uint64 `json:"limited"`
	Halved   bool   `json:"halved"`
}

// ShapingBudget is retry_budget=: over the trailing 10 s, the retries spent
// and allowed (the fleet's, as of its last sync, when Fleet); since start,
// the retries granted and refused.
type ShapingBudget struct {
	Budget    string  `json:"budget"`
	Fleet     bool    `json:"fleet"`
	Processes int64   `json:"processes,omitempty"`
	Retries   int64   `json:"retries"`
	Allowed   float64 `json:"allowed"`
	Granted   uint64  `json:"granted"`
	Exhausted uint64  `json:"exhausted"`
	// Shrunk: the emergency level halves the ratio and the floor.
	Shrunk     bool   `json:"shrunk"`
	SyncErrors uint64 `json:"sync_errors,omitempty"`
}
