package runtime

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname

	"github.com/maypok86/otter/v2"

	"github.com/baldur-go/baldur/runtime/backoff"
)

// The result cache (cache=, cache_key=, stale_if_error=; the README's "Load
// shaping"). A call meets it first, before every other policy:
//
//	cache → breaker → rate → throttle → concurrency → bulkhead → attempt (timeout) → retry → stale_if_error → fallback
//
// A fresh hit answers without touching the dependency, so it must not spend
// a rate token, a bulkhead slot or a breaker probe, and an open breaker
// must not hide a fresh answer. N concurrent misses of
// one key make one call (the others wait for it, each up to its own
// context); stale_if_error= answers a failed call with the last good result
// up to that age, before the fallback: real data beats a default. A
// fallback's answer is never cached, nor shared with the waiting calls.
//
// The entries live in an otter cache per method (W-TinyLFU eviction, bounded
// by Config.CacheMaxEntries), kept ttl+stale after they were written.

// DefaultCacheMaxEntries bounds each cached method's entries when
// Config.CacheMaxEntries is 0 (BALDUR_CACHE_MAX_ENTRIES).
const DefaultCacheMaxEntries = 10_000

// EnvCacheMaxEntries is the variable of Config.CacheMaxEntries.
const EnvCacheMaxEntries = "BALDUR_CACHE_MAX_ENTRIES"

// cacheStats are a cached method's counters, on its zone: hits on one cell
// per P (the hot path), the rest with atomic adds.
type cacheStats struct {
	hits   []statCell // successes field reused as the hit count
	misses atomic.Uint64
	shared atomic.Uint64                // calls that waited for another call of the same key
	stale  atomic.Uint64                // failed calls answered with a stale result
	sizes  atomic.Pointer[[]func() int] // one per Cache on the zone (a generic interface's instantiations)
	max    int
}

func (rt *Runtime) newCacheStats() *cacheStats {
	n := rt.cfg.CacheMaxEntries
	if n <= 0 {
		n = DefaultCacheMaxEntries
	}
	return &cacheStats{hits: newCallStats().cells, max: n}
}

func (s *cacheStats) hit() {
	p := procPin()
	if p < len(s.hits) {
		c := &s.hits[p].successes
		c.Store(c.Load() + 1)
		procUnpin()
		return
	}
	procUnpin()
	s.hits[0].rejectedOpen.Add(1) // a P beyond the cells
}

func (s *cacheStats) hitCount() uint64 {
	var n uint64
	for i := range s.hits {
		n += s.hits[i].successes.Load() + s.hits[i].rejectedOpen.Load()
	}
	return n
}

// Cache is part of the generated-code surface: the result cache of one
// cached method, keyed by K (the cache_key= value or the parameters), its
// results but the error held in V. Generated code calls Get, and on a miss
// runs the method's other policies, then Done; Release is deferred.
type Cache[K comparable, V any] struct {
	z          *Zone
	st         *cacheStats
	c          *otter.Cache[K, cacheEntry[V]]
	ttl, stale int64
	now        func() int64

	mu      sync.Mutex
	flights map[K]*cacheFlight[V]
}

type cacheEntry[V any] struct {
	v  V
	at int64 // when it was stored, on Cache.now
}

// cacheFlight is one miss in progress; the calls of the same key wait for
// done, made (under Cache.mu) by the first of them: a miss nobody waits for
// allocates the flight alone.
type cacheFlight[V any] struct {
	done chan struct{}
	v    V
	err  error
	ok   bool // the outcome is for everyone: false after a panic or the leader's own context ended
}

// CacheMiss is what Get hands to a call that must run: the key to store
// under and, for the one call of a key in flight, the flight the others
// wait for. Keep it on the stack.
type CacheMiss[K comparable, V any] struct {
	key   K
	f     *cacheFlight[V]
	keyed bool // Done stores the result under key
	run   bool
}

// Run reports whether the call must run the method (a miss, or a call that
// cannot use the cache); false: Get answered it.
func (m *CacheMiss[K, V]) Run() bool { return m.run }

// tickless is otter's clock without ticks, so that a cache starts no
// periodic clean-up goroutine, and without time: with no expiry and no
// refresh otter has nothing to time, and a clock read is the larger part
// of a hit (Get reads the runtime's once).
type tickless struct{}

func (tickless) NowNano() int64                      { return 0 }
func (tickless) Tick(time.Duration) <-chan time.Time { return nil }

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// NewCache returns the result cache of z's method: one per zone and
// instantiation (a generic interface's instantiations each have their own
// entries, counted together), shared by every wrapper built on the zone.
func NewCache[K comparable, V any](z *Zone) *Cache[K, V] {
	rt := z.rt
	st := z.cache
	if st == nil || z.spec.Cache <= 0 {
		panic("baldur/runtime: zone " + z.spec.Service + "." + z.spec.Method + " has no cache= (ZoneSpec.Cache)")
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	typ := any((*Cache[K, V])(nil)) // one entry per instantiation
	if c, ok := z.caches[typ].(*Cache[K, V]); ok {
		return c
	}
	// The real clock: the monotonic clock alone (time.Now reads the wall
	// clock too, and a clock read is the larger part of a hit).
	now := nanotime
	if !rt.cfg.realClock {
		clk, base := rt.clock, rt.clock.Now()
		now = func() int64 { return int64(clk.Now().Sub(base)) }
	}
	ttl, stale := z.spec.Cache, max(z.spec.StaleIfError, 0)
	c := &Cache[K, V]{z: z, st: st, ttl: int64(ttl), stale: int64(stale), now: now, flights: map[K]*cacheFlight[V]{}}
	// No ExpiryCalculator: otter would read the clock on every hit, and Get
	// reads it once already. An entry past ttl+stale is never served and
	// goes when the size bound evicts it or its key is stored again.
	c.c = otter.Must(&otter.Options[K, cacheEntry[V]]{
		MaximumSize: st.max,
		Clock:       tickless{},               // no clean-up goroutine: eviction runs as entries are stored
		Executor:    func(fn func()) { fn() }, // and no goroutine of otter's outlives a call
	})
	if z.caches == nil {
		z.caches = map[any]any{}
	}
	z.caches[typ] = c
	sizes := []func() int{c.c.EstimatedSize}
	if old := st.sizes.Load(); old != nil {
		sizes = append(sizes, *old...)
	}
	st.sizes.Store(&sizes)
	return c
}

// Get answers a call from a fresh entry, or from the outcome of the call
// of the same key in flight (waiting for it up to ctx), or tells the call
// to run (m.Run) as the one call of its key. A hit costs no allocation and
// no lock. In dry-run a hit is recorded as a would-have decision and the
// call runs; nothing waits for another call.
func (c *Cache[K, V]) Get(ctx context.Context, key K) (v V, m CacheMiss[K, V], err error) {
	if e, ok := c.c.GetIfPresent(key); ok && c.now()-e.at < c.ttl {
		if c.z.rt.mode.Load()&modeDryRun == 0 {
			c.st.hit()
			return e.v, m, nil
		}
		c.z.rt.wouldHave(c.z, "cache", "hit", "a fresh cached result would have answered the call")
		return v, CacheMiss[K, V]{key: key, keyed: true, run: true}, nil
	}
	return c.miss(ctx, key)
}

func (c *Cache[K, V]) miss(ctx context.Context, key K) (v V, m CacheMiss[K, V], err error) {
	c.st.misses.Add(1)
	m = CacheMiss[K, V]{key: key, keyed: true, run: true}
	if c.z.rt.DryRun() {
		return v, m, nil
	}
	c.mu.Lock()
	f, waiting := c.flights[key]
	switch {
	case !waiting:
		f = &cacheFlight[V]{}
		c.flights[key] = f
	case f.done == nil:
		f.done = make(chan struct{})
	}
	done := f.done
	c.mu.Unlock()
	if !waiting {
		m.f = f
		return v, m, nil
	}
	c.st.shared.Add(1)
	select {
	case <-done:
		if f.ok {
			return f.v, CacheMiss[K, V]{}, f.err
		}
		return v, m, nil // the leader panicked or gave up: run uncoalesced
	case <-ctx.Done():
		return v, CacheMiss[K, V]{}, ctx.Err()
	}
}

// Uncached is the miss of a call whose key could not be read (a nil on the
// cache_key= path): it runs, and nothing is stored.
func (c *Cache[K, V]) Uncached() CacheMiss[K, V] { return CacheMiss[K, V]{run: true} }

// Done ends a call that ran: a success is stored; a failure (as the breaker
// counts one) is answered with the last good result when stale_if_error=
// allows its age. The outcome goes to the calls waiting for this one,
// unless the call's own context ended. It returns what the caller gets.
func (c *Cache[K, V]) Done(ctx context.Context, m *CacheMiss[K, V], v V, err error) (V, error) {
	if m.keyed {
		if err == nil {
			c.c.Set(m.key, cacheEntry[V]{v: v, at: c.now()})
		} else if c.stale > 0 {
			v, err = c.staleIfError(ctx, m.key, v, err)
		}
	}
	if f := m.f; f != nil {
		f.v, f.err, f.ok = v, err, err == nil || ctx.Err() == nil
		c.land(m)
	}
	return v, err
}

func (c *Cache[K, V]) staleIfError(ctx context.Context, key K, v V, err error) (V, error) {
	e, ok := c.c.GetIfPresent(key)
	if !ok || classify(ctx, err, c.z.rt.cfg.Classifier) != Failure {
		return v, err
	}
	age := c.now() - e.at
	if age >= c.ttl+c.stale {
		return v, err
	}
	reason := "served a result " + backoff.ShortDuration(time.Duration(age).Round(time.Millisecond)) + " old: " + err.Error()
	if c.z.rt.wouldHave(c.z, "cache", "stale", reason) {
		return v, err
	}
	c.st.stale.Add(1)
	if c.z.rt.log.Enabled(ctx, levelDebug) {
		c.z.rt.log.LogAttrs(ctx, levelDebug, "cache.stale_served", slog.String("service", c.z.spec.Service),
			slog.String("method", c.z.spec.Method), slog.String("age", strconv.FormatInt(age/int64(time.Millisecond), 10)+"ms"),
			slog.String("error", err.Error()))
	}
	return e.v, nil
}

// Release is deferred by the call that ran: after a panic the calls
// waiting for it run on their own. After Done it does nothing.
func (c *Cache[K, V]) Release(m *CacheMiss[K, V]) {
	if m.f != nil {
		c.land(m)
	}
}

func (c *Cache[K, V]) land(m *CacheMiss[K, V]) {
	f := m.f
	m.f = nil
	c.mu.Lock()
	delete(c.flights, m.key)
	done := f.done
	c.mu.Unlock()
	if done != nil {
		close(done)
	}
}

// cacheAttrs describes the zone's cache for protect.composer_built.
func (z *Zone) cacheAttrs() []slog.Attr {
	if z.cache == nil {
		return nil
	}
	attrs := []slog.Attr{slog.String("cache", backoff.ShortDuration(z.spec.Cache)), slog.Int("cache_max_entries", z.cache.max)}
	if z.spec.StaleIfError > 0 {
		attrs = append(attrs, slog.String("stale_if_error", backoff.ShortDuration(z.spec.StaleIfError)))
	}
	return attrs
}

// fillCache adds the cache's counters to s.
func (z *Zone) fillCache(s *ShapeStats) {
	st := z.cache
	s.Policies = append(s.Policies, "cache")
	s.CacheHits, s.CacheMisses, s.CacheShared, s.CacheStale = st.hitCount(), st.misses.Load(), st.shared.Load(), st.stale.Load()
	s.CacheMax = st.max
	if fs := st.sizes.Load(); fs != nil {
		for _, f := range *fs {
			s.CacheSize += f()
		}
	}
}
