package runtime

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// The store's connection pool, as the admin server's health/pool/ reports it.

// Pool statuses: Healthy answers 200; Degraded and Unhealthy 503.
const (
	PoolHealthy   = "healthy"
	PoolDegraded  = "degraded"
	PoolUnhealthy = "unhealthy"
)

// PoolSaturation is the share of a Redis pool's connections in use at
// which the pool reads as degraded: new calls are about to wait for one.
const PoolSaturation = 0.9

// PoolReport is the state of the store's connections at one moment.
type PoolReport struct {
	// Store is "redis" (Redis configured, with the embedded store behind it
	// for DEGRADED mode), "embedded" or "custom" (Config.Store).
	Store string
	// Status is PoolHealthy, PoolDegraded (Redis unreachable and the runtime
	// serving from the local store, or the pool nearly exhausted) or
	// PoolUnhealthy (Redis does not answer a ping and the runtime has not
	// switched to DEGRADED yet).
	Status string
	// Reason says why Status is not healthy; "" when it is.
	Reason string
	// Degraded reports the runtime's DEGRADED mode (Runtime.Degraded).
	Degraded bool
	// Redis holds the client's pool counters; nil without Redis.
	Redis *RedisPool
}

// RedisPool is go-redis's pool statistics, plus the pool's size and the
// connections in use (TotalConns - IdleConns).
type RedisPool struct {
	PoolSize   int    // connections the pool may open (per node on a cluster)
	InUse      uint32 // connections checked out now
	TotalConns uint32 // connections open now
	IdleConns  uint32 // connections open and free
	StaleConns uint32 // connections closed as stale since the start
	Hits       uint32 // checkouts that found a free connection
	Misses     uint32 // checkouts that had to open one
	Timeouts   uint32 // checkouts that gave up waiting for one
	WaitCount  uint32 // checkouts that waited
	Ping       time.Duration
}

// Pool reports the store's connection pool. With Redis it pings the server
// (bounded by ctx), so call it off the hot path.
func (rt *Runtime) Pool(ctx context.Context) PoolReport {
	switch {
	case rt.redis == nil && rt.cfg.Store != nil:
		return PoolReport{Store: "custom", Status: PoolHealthy}
	case rt.redis == nil:
		return PoolReport{Store: "embedded", Status: PoolHealthy}
	}
	rep := PoolReport{Store: "redis", Status: PoolHealthy, Degraded: rt.Degraded()}
	client := rt.redis.Client()
	st := client.PoolStats()
	p := &RedisPool{
		TotalConns: st.TotalConns, IdleConns: st.IdleConns, StaleConns: st.StaleConns,
		Hits: st.Hits, Misses: st.Misses, Timeouts: st.Timeouts, WaitCount: st.WaitCount,
	}
	if st.TotalConns > st.IdleConns {
		p.InUse = st.TotalConns - st.IdleConns
	}
	switch c := client.(type) {
	case *redis.Client:
		p.PoolSize = c.Options().PoolSize
	case *redis.ClusterClient:
		p.PoolSize = c.Options().PoolSize
	}
	rep.Redis = p
	start := time.Now()
	err := rt.redis.Ping(ctx)
	p.Ping = time.Since(start)
	switch {
	case rep.Degraded:
		rep.Status, rep.Reason = PoolDegraded, "Redis is unreachable: DEGRADED, serving from the local store"
	case err != nil:
		rep.Status, rep.Reason = PoolUnhealthy, "Redis did not answer a ping: "+err.Error()
	case p.PoolSize > 0 && float64(p.InUse) >= PoolSaturation*float64(p.PoolSize):
		rep.Status, rep.Reason = PoolDegraded, "the Redis connection pool is nearly exhausted"
	}
	return rep
}
