// Package peers measures what Redis clients alone, without baldur, achieve
// on the idempotency gate's command pair: one SET NX with an expiry (the
// claim) and one compare-and-set script (the completion), at 1, 8 and 64
// concurrent callers. It is a module of its own so that the clients it
// compares (rueidis) are not dependencies of baldur.
//
// bench/idem-redis.sh runs it beside redis-benchmark and the gate's own
// benchmark; alone:
//
//	cd bench/peers && go test -run '^$' -bench . -benchtime 20000x
package peers
