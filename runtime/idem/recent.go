package idem

import (
	"hash/maphash"
	"sync"
)

// DefaultRecentKeys bounds the keys a gate remembers having claimed or
// completed itself (Options.RecentKeys).
const DefaultRecentKeys = 50000

// recentKeys is this process's own record of the keys it claimed (running)
// or completed, each until the store would let it go (the execution window,
// the memory TTL). It is read only while the store is DEGRADED: the local
// store cannot see the claims Redis holds, but the keys this process
// completed before the outage stay refused through this record. Bounded:
// past its size the oldest insertions are forgotten first.
type recentKeys struct {
	seed   maphash.Seed
	shards [recentShards]recentShard
}

const recentShards = 16

type recentShard struct {
	mu   sync.Mutex
	m    map[string]recentKey
	ring []string // keys in insertion order, overwritten round-robin
	next int
	size int
}

type recentKey struct {
	state       State
	fingerprint uint64
	firstSeen   int64
	completedAt int64
	until       int64 // unix ns: forgotten from then on
}

// newRecentKeys returns a record of at most n keys (nil for n <= 0: none kept).
func newRecentKeys(n int) *recentKeys {
	if n <= 0 {
		return nil
	}
	r := &recentKeys{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].size = max(1, n/recentShards)
		r.shards[i].m = map[string]recentKey{}
	}
	return r
}

func (r *recentKeys) shard(key string) *recentShard {
	return &r.shards[maphash.String(r.seed, key)%recentShards]
}

// put records key; the key string is kept as it is (the claim's own).
func (r *recentKeys) put(key string, k recentKey) {
	if r == nil {
		return
	}
	s := r.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		s.m[key] = k
		return
	}
	if len(s.ring) < s.size {
		s.ring = append(s.ring, key)
	} else {
		// Forget the oldest insertion (unless it was re-inserted since and
		// sits elsewhere in the ring too: then a later overwrite gets it).
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = key
		s.next = (s.next + 1) % s.size
	}
	s.m[key] = k
}

// forget drops key: its claim was released.
func (r *recentKeys) forget(key string) {
	if r == nil {
		return
	}
	s := r.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// get returns what this process knows of key at now.
func (r *recentKeys) get(key string, now int64) (recentKey, bool) {
	if r == nil {
		return recentKey{}, false
	}
	s := r.shard(key)
	s.mu.Lock()
	k, ok := s.m[key]
	s.mu.Unlock()
	if !ok || now >= k.until {
		return recentKey{}, false
	}
	return k, true
}
