package notify

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/store"
)

// guards holds the fatigue guards' state in the shared store, falling back
// to a memory store of this process (on the same clock) when the shared one
// fails: an alert sent twice is better than an alert lost to a store outage.
type guards struct {
	cfg    *resolved
	shared atomic.Pointer[store.Store] // nil: the local store only
	local  store.Store
	// fellBack is called (outside any lock) when the shared store failed.
	fellBack func(op string, err error)
}

const keyPrefix = "notify:"

// storeTimeout bounds one guard operation on the shared store.
const storeTimeout = 2 * time.Second

func (g *guards) incr(ctx context.Context, key string, ttl time.Duration) int64 {
	return g.add(ctx, key, 1, ttl)
}

func (g *guards) add(ctx context.Context, key string, delta int64, ttl time.Duration) int64 {
	if shared := g.shared.Load(); shared != nil {
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		n, err := (*shared).Incr(sctx, key, delta, ttl)
		cancel()
		if err == nil {
			return n
		}
		g.fellBack("incr", err)
	}
	n, err := g.local.Incr(ctx, key, delta, ttl)
	if err != nil {
		return delta // the memory store does not fail on a valid key; if it did, let the alert through
	}
	return n
}

// claim takes key for ttl and reports whether this caller got it.
func (g *guards) claim(ctx context.Context, key, owner string, ttl time.Duration) bool {
	if shared := g.shared.Load(); shared != nil {
		sctx, cancel := context.WithTimeout(ctx, storeTimeout)
		ok, err := (*shared).SetNX(sctx, key, []byte(owner), ttl)
		cancel()
		if err == nil {
			return ok
		}
		g.fellBack("claim", err)
	}
	ok, err := g.local.SetNX(ctx, key, []byte(owner), ttl)
	return ok || err != nil
}

// escalate counts one raise of key and reports whether the key has now
// been raised more than the burst threshold within the current window.
func (g *guards) escalate(ctx context.Context, key string, now time.Time) bool {
	if g.cfg.BurstThreshold < 0 || g.cfg.BurstWindow <= 0 {
		return false
	}
	w := g.cfg.BurstWindow
	slot := strconv.FormatInt(now.UnixNano()/int64(w), 10)
	return g.incr(ctx, keyPrefix+"burst:"+slot+":"+key, 2*w) > int64(g.cfg.BurstThreshold)
}

// cooldown reports whether a's key at a's priority (firing or resolved)
// was already delivered within
// the cooldown (by this process or any other sharing the store); if not,
// it claims it.
func (g *guards) cooldown(ctx context.Context, a Alert, owner string) bool {
	if g.cfg.Cooldown < 0 {
		return false
	}
	slot := a.Priority.String()
	if a.Resolved {
		slot += ":resolved"
	}
	return !g.claim(ctx, keyPrefix+"cooldown:"+slot+":"+a.Key, owner, g.cfg.Cooldown)
}

// admit counts one alert against the per-minute and per-hour budgets of
// scope ("all" or a channel) and reports whether both allow it. A refused
// alert is taken back off both counters, so that they count what was sent.
func (g *guards) admit(ctx context.Context, scope string, perMinute, perHour int, now time.Time) bool {
	type slot struct {
		key string
		ttl time.Duration
	}
	var taken []slot
	for _, b := range []struct {
		budget int
		window time.Duration
		tag    string
	}{{perMinute, time.Minute, "m"}, {perHour, time.Hour, "h"}} {
		if b.budget < 0 {
			continue
		}
		key := keyPrefix + "rate:" + scope + ":" + b.tag + ":" + strconv.FormatInt(now.UnixNano()/int64(b.window), 10)
		taken = append(taken, slot{key, 2 * b.window})
		if g.add(ctx, key, 1, 2*b.window) > int64(b.budget) {
			for _, s := range taken { // the counter exists: its TTL stays
				g.add(ctx, s.key, -1, s.ttl)
			}
			return false
		}
	}
	return true
}
