// Package idem is the idempotency gate: it claims a key in the shared store
// before a protected method runs and records the outcome after, so that a
// duplicate of one logical operation runs at most once across goroutines,
// processes and workers sharing the store. Generated wrappers call
// Gate.Claim before the inner method and Gate.Complete after it.
//
// # Two clocks
//
// A running claim is honoured for its execution window
// (Request.ExecutionWindow, idem_ttl= on the directive, default 30m): if its
// owner crashes, the key expires and the call becomes retryable. A successful
// completion re-expires the key to the memory TTL
// (BALDUR_IDEMPOTENCY_GATE_MEMORY_TTL_SECONDS, default 1800s), during which
// duplicates are refused with ErrDuplicate, or in replay mode answered with
// the first execution's stored results. Expiry is the store's: Redis's clock,
// or the clock given to the memory and embedded stores.
//
// # Outcomes
//
//	Complete(succeeded=true)   keeps the key for the memory TTL (duplicates refused or replayed)
//	Complete(succeeded=false)  deletes the key: the caller may retry at once
//	no Complete (crash, hang)  the key stays "running" until the execution window ends
//
// The wrapper passes succeeded=false for an error result (after its
// retries), a panic or a cancellation, and true only for a nil error.
//
// # Store use and key layout
//
// Claim is one SET NX PX window when the key is free; a taken key costs one
// GET more, to tell running from completed and to compare fingerprints.
// Complete is one compare-and-set (success, re-expiring to the memory TTL) or
// one conditional delete through Store.Atomic (failure), both against the
// claim's value, which holds a random 128-bit token: only the claim's owner
// changes the key. Keys are (with the Redis store's own "baldur:" prefix)
//
//	baldur:idem:{<domain>}:<operation>:<key>     baldur:idem:{payments}:Charge:order-42
//
// with the domain as the Redis Cluster hash tag, so a service's keys share a
// slot. Values are small binary records (see DecodeRecord); a value that does
// not decode is a claim of unknown state: the call is refused with
// ErrDuplicate, idem.claim_undecodable is logged, and Gate.Forget clears it.
//
// # Posture and limits
//
// The store unreachable fails the call closed (ErrUnavailable) unless
// Request.FailOpen, which runs it unguarded and logs idem.gate_failed_open
// (at most once a second). A store that can be DEGRADED (store.Failover,
// Redis unreachable) is not unreachable: claims go to its local store, and
// the gate adds what the local store cannot know. Its own record of the keys
// it claimed or completed (Options.RecentKeys) refuses their duplicates;
// the outcome of a claim made on Redis before the outage is journaled for
// Redis (store.Deferrer) instead of lost; Request.RefuseDegraded refuses
// every claim instead. Keys are 1 to 255 bytes of valid UTF-8; domains and
// operations are printable ASCII without spaces, ':', '{' or '}'. The same key
// with another argument fingerprint fails with ErrKeyReuse.
package idem
