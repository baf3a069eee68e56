package adminapi

import "time"

// ActionRequest is what every POST route accepts. The server refuses unknown
// fields, so a typo such as "confrim" is an error instead of a silently
// missing confirmation.
type ActionRequest struct {
	Reason   string `json:"reason,omitempty"`
	Confirm  string `json:"confirm,omitempty"`
	Override bool   `json:"override,omitempty"`
	Who      string `json:"who,omitempty"`
}

// DLQFilter is what dlq/replay/ and dlq/purge/ accept besides ActionRequest.
type DLQFilter struct {
	Domain      string `json:"domain,omitempty"`
	Operation   string `json:"operation,omitempty"`
	FailureType string `json:"failure_type,omitempty"`
	State       string `json:"state,omitempty"`
	Limit       int    `json:"limit,omitempty"`
}

// DLQBatchRequest is the body of dlq/replay/ and dlq/purge/.
type DLQBatchRequest struct {
	ActionRequest
	DLQFilter
}

// Endpoint is one method on one route in the index (the "" route).
type Endpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Role        string `json:"role"` // viewer, operator, admin, or "open" for probes
	Destructive bool   `json:"destructive,omitempty"`
	// Unlock: the action needs the server unlocked (BALDUR_ADMIN_UNLOCK=1) but no CONFIRM.
	Unlock bool   `json:"unlock,omitempty"`
	Doc    string `json:"doc"`
}

// Index is the answer of the "" route.
type Index struct {
	Endpoints []Endpoint `json:"endpoints"`
}

// Whoami is the answer of whoami/.
type Whoami struct {
	Role           string `json:"role"`
	KeysConfigured bool   `json:"keys_configured"`
	Unlocked       bool   `json:"unlocked"`
	Confirmation   string `json:"confirmation"`
}

// Breaker is the JSON form of a breaker.
type Breaker struct {
	Name              string      `json:"name"`
	State             string      `json:"state"`
	Forced            bool        `json:"forced"`
	Failures          int         `json:"failures"`
	Calls             int         `json:"calls,omitempty"`
	HalfOpenAdmitted  int         `json:"half_open_admitted,omitempty"`
	HalfOpenSucceeded int         `json:"half_open_succeeded,omitempty"`
	OpenedAt          time.Time   `json:"opened_at,omitzero"`
	LastTransition    *Transition `json:"last_transition,omitempty"`
	Limits            Limits      `json:"limits"`
	Methods           []string    `json:"methods"`
	// Chaos: a fault-injection experiment is applied to the service here
	// (README, Fault injection): its failures are a rehearsal's.
	Chaos bool `json:"chaos,omitempty"`
}

// Transition is the JSON form of a breaker transition.
type Transition struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// Limits is the JSON form of a breaker's settings.
type Limits struct {
	FailureThreshold   int     `json:"failure_threshold"`
	MinimumCalls       int     `json:"minimum_calls"`
	WindowSeconds      float64 `json:"window_seconds"`
	RecoverySeconds    float64 `json:"recovery_timeout_seconds"`
	HalfOpenMaxCalls   int     `json:"half_open_max_calls"`
	HalfOpenMaxSeconds float64 `json:"half_open_max_wait_seconds"`
}

// BreakerList is the answer of breakers/.
type BreakerList struct {
	Breakers []Breaker `json:"breakers"`
}

// BreakerAnswer is the answer of breakers/{name}/.
type BreakerAnswer struct {
	Breaker Breaker `json:"breaker"`
}

// BreakerActionAnswer is the answer of the breakers/{name}/ actions.
type BreakerActionAnswer struct {
	Action        string  `json:"action"`
	By            string  `json:"by"`
	PreviousState string  `json:"previous_state"`
	Breaker       Breaker `json:"breaker"`
}

// Compartment is the JSON form of one bulkhead compartment.
type Compartment struct {
	Name   string `json:"name"`
	Active int64  `json:"active"`
	Max    int64  `json:"max"`
	// Waiting and MaxWaiting: a named compartment's waiting queue (callers
	// waiting for a slot, and how many may); left out without one.
	Waiting    int64 `json:"waiting,omitempty"`
	MaxWaiting int64 `json:"max_waiting,omitempty"`
}

// Pool is the answer of health/pool/: the store's connection pool and the
// bulkhead compartments. The server answers 503 unless Status is healthy.
// Reason and Redis are the viewer's (a probe without the key gets the rest).
type Pool struct {
	// Status is healthy, degraded (Redis unreachable and the runtime on its
	// local store, or the pool nearly exhausted) or unhealthy (Redis does not
	// answer a ping).
	Status       string        `json:"status"`
	Reason       string        `json:"reason,omitempty"`
	Store        string        `json:"store"` // redis, embedded or custom
	Degraded     bool          `json:"degraded"`
	Redis        *RedisPool    `json:"redis,omitempty"`
	Compartments []Compartment `json:"compartments"`
}

// RedisPool is the Redis client's connection pool.
type RedisPool struct {
	PoolSize   int     `json:"pool_size"`
	InUse      uint32  `json:"in_use"`
	TotalConns uint32  `json:"total_conns"`
	IdleConns  uint32  `json:"idle_conns"`
	StaleConns uint32  `json:"stale_conns"`
	Hits       uint32  `json:"hits"`
	Misses     uint32  `json:"misses"`
	Timeouts   uint32  `json:"timeouts"`
	WaitCount  uint32  `json:"wait_count"`
	PingMillis float64 `json:"ping_ms"`
}
