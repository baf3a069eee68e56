// Package store is the shared state of the baldur runtime: keys with TTLs and
// claims, counters, hashes, ordered durable logs (streams) and a change feed,
// behind one Store interface. It has a memory store for tests, a crash-safe
// embedded store for single processes, a Redis store for fleets, and
// Failover, which keeps serving from the embedded store while Redis is away.
//
// # Backends
//
//   - NewMemory: in-process, nothing survives Close.
//   - OpenEmbedded(dir): state in memory, every write appended to a
//     write-ahead log under dir (BALDUR_STATE_DIR, default ".baldur") and
//     acknowledged only once fsynced; replayed at start, compacted by
//     snapshot. Records are length-prefixed and CRC-32C checksummed; a torn
//     or corrupt tail is cut off with a store.wal_truncated warning and never
//     stops the start. Concurrent writers share fsyncs (group commit).
//   - OpenRedis(url): go-redis v9's UniversalClient on one node, Sentinel or
//     Cluster, with 500ms dial/read/write timeouts; several keys change
//     together in Lua scripts. On one node or behind Sentinel, single-key
//     commands from concurrent goroutines share one full-duplex pipelined
//     connection (go-redis's AutoPipeline; RedisOptions.NoAutoPipeline turns
//     it off). A command whose context allows less than the read + write
//     timeout bypasses it, since a queued command no longer watches its
//     context; a non-timeout network failure there is retried once on the
//     plain client.
//   - NewFailover(redis, embedded): Redis, and DEGRADED mode on the embedded
//     store when Redis cannot be reached (see Failover).
//
// Why our own write-ahead log rather than a library: tidwall/wal frames
// records without checksums, refuses to open a log with a damaged tail and
// fsyncs per caller (no group commit across goroutines); go.etcd.io/bbolt is
// a copy-on-write B+tree paying two fsyncs and page writes per commit, and
// would still need our own TTLs, streams and change feed on top. What we need
// is a few hundred lines on the standard library (internal/wal): framing, one writer
// goroutine, snapshots by rename.
//
// # Redis URLs
//
//	redis://[user:password@]host[:port][/db][?option=value...]
//	rediss://...                                         (TLS)
//	redis+sentinel://[user:password@]host:port[,host:port...]/mastername[/db][?...]
//	redis+cluster://[user:password@]host:port[,host:port...][?...]
//	rediss+sentinel://..., rediss+cluster://...           (TLS)
//
// Ports default to 6379 (26379 for sentinels). Options are go-redis's URL
// options (dial_timeout=1s, pool_size=20, protocol=2, ...); unknown ones are
// errors. With Sentinel the URL's user and password authenticate to the
// master, sentinel_username and sentinel_password to the sentinels.
//
// # Keys
//
// The Redis store puts every key and channel under one prefix, by default
// "baldur:" (RedisOptions.Prefix): the DLQ stream "dlq:payments" is the
// Redis stream "baldur:dlq:payments". Keys changed together by one Atomic
// call must share a Redis Cluster hash tag, e.g. "idem:{payments}:42" and
// "idem:{payments}:log"; the Redis store checks this on a single node too
// (ErrCrossSlot), so code that works there works on a cluster. Keys starting
// with "\x00baldur/" are reserved.
//
// # Failover and reconciliation
//
// Failover detects a lost Redis from a failed command at once or from a
// background ping (every 250ms, 400ms timeout) within a second, logs
// store.degraded_entered, calls OnModeChange and serves every call from the
// embedded store, journaling each write in the same log record as the write.
// When pings succeed again it replays the journal to Redis (pipelined):
// DLQ appends, idempotency claims and compare-and-sets with their conditions,
// counters as increments, deletes; TTLs are deadlines, so a claim that
// expired during the outage is not resurrected. A conditional write Redis
// refuses (the same key claimed by another worker meanwhile) is logged as
// store.reconcile_conflict, counted in Stats and passed to OnConflict; it is
// never dropped silently. Hashes written while degraded (breaker state) are
// not replayed but handed, with the Redis store, to
// FailoverOptions.ReconcileHashes, where the breaker runtime applies
// most-restrictive-wins; without it the local fields are written as they are.
// Then the local store is emptied and store.degraded_exited is logged.
// Failover.Defer (the Deferrer interface) journals a conditional write whose
// condition is about what Redis holds (the completion of a claim made before
// the outage) without deciding it locally: Redis decides it on replay. A
// replay batch that meets NOSCRIPT loads the script and sends again only the
// txns that did not run.
//
// The change feed (Publish/Subscribe) is a hint delivered at most once:
// subscribers re-read the state they care about.
package store
