package runtime

import (
	"cmp"
	"slices"
	"time"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

// Snapshot is the runtime's read model at one moment: what the admin API,
// the health report, the metrics collector and the daily report read,
// instead of walking the breakers, compartments and counters each on its own.
// It is a copy: holding it holds no lock and pins nothing the runtime uses.
type Snapshot struct {
	At time.Time
	// Breakers, sorted by name.
	Breakers []breaker.Snapshot
	// Compartments (bulkheads), sorted by name.
	Compartments []CompartmentSnapshot
	// Calls are the per-method call counters since the runtime started.
	Calls []CallStats
	// Shaping is the load shaping of the methods that use it (Runtime.Shaping).
	Shaping []ShapeStats
	// Store is the runtime store's mode.
	Store StoreSnapshot
	// Enabled is the kill switch (false: DISABLED); DryRun the dry-run flag.
	Enabled bool
	DryRun  bool
}

// CompartmentSnapshot is one bulkhead at the moment of the snapshot.
type CompartmentSnapshot struct {
	Name   string
	Active int64
	Max    int64
	// Waiting callers and the bound of the waiting queue of a named
	// compartment (compartment=); both 0 for one without a bounded queue.
	Waiting, MaxWaiting int64
	// Limit is the size in force: Max, or half of it while the emergency
	// level is HIGH or above.
	Limit int64
}

// StoreSnapshot is the store's mode at the moment of the snapshot.
type StoreSnapshot struct {
	// Degraded: Redis is unreachable and shared state is served from the
	// local write-ahead-logged store (the runtime's flag, or the failover
	// store's own mode).
	Degraded bool
	// Failover holds the failover store's counters; Failover is false when
	// the store is not a failover store (embedded, or one of your own).
	Failover      bool
	FailoverStats store.FailoverStats
}

// Mode is the control mode the snapshot saw: DISABLED, DRY_RUN or LIVE.
func (s Snapshot) Mode() string {
	switch {
	case !s.Enabled:
		return "DISABLED"
	case s.DryRun:
		return "DRY_RUN"
	}
	return "LIVE"
}

// Breaker returns the named breaker's snapshot.
func (s Snapshot) Breaker(name string) (breaker.Snapshot, bool) {
	i, ok := slices.BinarySearchFunc(s.Breakers, name, func(b breaker.Snapshot, n string) int { return cmp.Compare(b.Name, n) })
	if !ok {
		return breaker.Snapshot{}, false
	}
	return s.Breakers[i], true
}

// Snapshot reads the runtime once for every exporter: breakers (state and
// counts), compartments, call counters, store mode and the control mode. The
// runtime's mutex is held only to copy the lists; each breaker and
// compartment is read after it is released.
func (rt *Runtime) Snapshot() Snapshot {
	rt.mu.Lock()
	bs := make([]*breaker.Breaker, 0, len(rt.breakers))
	for _, b := range rt.breakers {
		bs = append(bs, b)
	}
	comps := make([]*Bulkhead, 0, len(rt.compartments))
	for _, c := range rt.compartments {
		comps = append(comps, c)
	}
	rt.mu.Unlock()

	s := Snapshot{At: rt.clock.Now(), Enabled: rt.Enabled(), DryRun: rt.DryRun(), Calls: rt.CallStats(), Shaping: rt.Shaping()}
	s.Breakers = make([]breaker.Snapshot, 0, len(bs))
	for _, b := range bs {
		s.Breakers = append(s.Breakers, b.Snapshot())
	}
	slices.SortFunc(s.Breakers, func(a, b breaker.Snapshot) int { return cmp.Compare(a.Name, b.Name) })
	s.Compartments = make([]CompartmentSnapshot, 0, len(comps))
	for _, c := range comps {
		cs := CompartmentSnapshot{Name: c.Name(), Active: c.Active(), Max: c.Max(), Limit: c.Limit()}
		if q := c.MaxWaiting(); q > 0 {
			cs.Waiting, cs.MaxWaiting = min(c.Waiting(), q), q
		}
		s.Compartments = append(s.Compartments, cs)
	}
	slices.SortFunc(s.Compartments, func(a, b CompartmentSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	s.Store.Degraded = rt.Degraded()
	if fo, ok := rt.store.(interface{ Stats() store.FailoverStats }); ok {
		s.Store.Failover, s.Store.FailoverStats = true, fo.Stats()
		s.Store.Degraded = s.Store.Degraded || s.Store.FailoverStats.Mode == store.ModeDegraded
	}
	return s
}
