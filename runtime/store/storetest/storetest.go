// Package storetest is the conformance suite every store.Store must pass, so
// that memory, embedded and Redis (single node and cluster) behave alike. A
// backend's test calls Run with a function that opens a fresh, isolated store.
//
// Keys used together in one Atomic call share a hash tag ("{t}:a", "{t}:b"),
// which is what makes the same suite pass on Redis Cluster.
package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/store"
)

// Harness is one store under test.
type Harness struct {
	Store store.Store
	// Advance lets d pass for the store's expiry: a fake clock step for the
	// in-process stores, a real wait for Redis.
	Advance func(d time.Duration)
}

// Factory opens a fresh, empty store for one subtest and registers its cleanup
// with t.Cleanup (closing twice must be harmless: the suite closes some stores itself).
type Factory func(t *testing.T) Harness

// Epoch is a realistic instant for fake clocks: stream IDs are milliseconds
// since 1970, and the zero time.Time would make them meaningless.
var Epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// ttl is short so that the suite stays fast against a real Redis, where
// Advance really waits.
const ttl = 150 * time.Millisecond

// Run runs the conformance suite.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"GetSet", testGetSet},
		{"Expiry", testExpiry},
		{"SetNXClaims", testSetNX},
		{"SetNXOneWinner", testSetNXRace},
		{"CompareAndSet", testCompareAndSet},
		{"Delete", testDelete},
		{"Incr", testIncr},
		{"IncrConcurrent", testIncrConcurrent},
		{"Hash", testHash},
		{"Stream", testStream},
		{"StreamConcurrentAppends", testStreamConcurrent},
		{"WrongType", testWrongType},
		{"GetMany", testGetMany},
		{"Keys", testKeys},
		{"AtomicConditions", testAtomicConditions},
		{"AtomicAllOrNothing", testAtomicAllOrNothing},
		{"PubSub", testPubSub},
		{"InvalidArguments", testInvalid},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func testGetSet(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	_, err := s.Get(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)

	v := []byte("v1")
	require.NoError(t, s.Set(ctx, "k", v, 0))
	v[0] = 'X' // the store kept its own copy
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(got))

	require.NoError(t, s.Set(ctx, "k", []byte{0, 1, 255}, 0))
	got, err = s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 1, 255}, got)

	require.NoError(t, s.Set(ctx, "empty", nil, 0))
	got, err = s.Get(ctx, "empty")
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, s.Ping(ctx))
}

func testExpiry(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	require.NoError(t, s.Set(ctx, "short", []byte("x"), ttl))
	require.NoError(t, s.Set(ctx, "forever", []byte("y"), 0))
	left, err := s.TTL(ctx, "short")
	require.NoError(t, err)
	assert.Greater(t, left, time.Duration(0))
	assert.LessOrEqual(t, left, ttl)
	left, err = s.TTL(ctx, "forever")
	require.NoError(t, err)
	assert.Zero(t, left)
	_, err = s.TTL(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound)

	// KeepTTL keeps the deadline; a plain Set clears it.
	require.NoError(t, s.Set(ctx, "short", []byte("x2"), store.KeepTTL))
	left, err = s.TTL(ctx, "short")
	require.NoError(t, err)
	assert.Greater(t, left, time.Duration(0))
	require.NoError(t, s.Set(ctx, "cleared", []byte("z"), ttl))
	require.NoError(t, s.Set(ctx, "cleared", []byte("z"), 0))

	h.Advance(ttl + 100*time.Millisecond)
	_, err = s.Get(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound, "expired key must be gone")
	_, err = s.TTL(ctx, "short")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err := s.Get(ctx, "cleared")
	require.NoError(t, err)
	assert.Equal(t, "z", string(got))
	_, err = s.Get(ctx, "forever")
	require.NoError(t, err)
}

func testSetNX(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	ok, err := s.SetNX(ctx, "claim", []byte("worker-1"), ttl)
	require.NoError(t, err)
	assert.True(t, ok, "first claim wins")
	ok, err = s.SetNX(ctx, "claim", []byte("worker-2"), ttl)
	require.NoError(t, err)
	assert.False(t, ok, "second claim loses")
	got, err := s.Get(ctx, "claim")
	require.NoError(t, err)
	assert.Equal(t, "worker-1", string(got))
	left, err := s.TTL(ctx, "claim")
	require.NoError(t, err)
	assert.Greater(t, left, time.Duration(0))

	h.Advance(ttl + 100*time.Millisecond)
	ok, err = s.SetNX(ctx, "claim", []byte("worker-2"), 0)
	require.NoError(t, err)
	assert.True(t, ok, "an expired claim can be taken again")
	left, err = s.TTL(ctx, "claim")
	require.NoError(t, err)
	assert.Zero(t, left)
}

func testSetNXRace(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	const n = 16
	var wg sync.WaitGroup
	wins := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			ok, err := s.SetNX(ctx, "race", []byte(strconv.Itoa(i)), time.Minute)
			assert.NoError(t, err)
			if ok {
				wins <- i
			}
		})
	}
	wg.Wait()
	close(wins)
	var winners []int
	for w := range wins {
		winners = append(winners, w)
	}
	require.Len(t, winners, 1, "exactly one concurrent claim wins")
	got, err := s.Get(ctx, "race")
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(winners[0]), string(got))
}

func testCompareAndSet(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	ok, err := s.CompareAndSet(ctx, "k", []byte("a"), []byte("b"), 0)
	require.NoError(t, err)
	assert.False(t, ok, "a missing key does not match")

	require.NoError(t, s.Set(ctx, "k", []byte("running"), ttl))
	ok, err = s.CompareAndSet(ctx, "k", []byte("other"), []byte("done"), 0)
	require.NoError(t, err)
	assert.False(t, ok)
	ok, err = s.CompareAndSet(ctx, "k", []byte("running"), []byte("done"), store.KeepTTL)
	require.NoError(t, err)
	assert.True(t, ok)
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "done", string(got))
	left, err := s.TTL(ctx, "k")
	require.NoError(t, err)
	assert.Greater(t, left, time.Duration(0), "KeepTTL kept the claim's deadline")

	ok, err = s.CompareAndSet(ctx, "k", []byte("done"), []byte("final"), time.Hour)
	require.NoError(t, err)
	assert.True(t, ok)
	left, err = s.TTL(ctx, "k")
	require.NoError(t, err)
	assert.Greater(t, left, ttl, "a new TTL replaces the old one")

	require.NoError(t, s.HSet(ctx, "h", map[string]string{"f": "v"}))
	ok, err = s.CompareAndSet(ctx, "h", []byte("v"), []byte("x"), 0)
	require.NoError(t, err)
	assert.False(t, ok, "a hash never equals a string")
}

func testDelete(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	require.NoError(t, s.Set(ctx, "a", []byte("1"), 0))
	require.NoError(t, s.HSet(ctx, "b", map[string]string{"f": "1"}))
	_, err := s.Append(ctx, "c", []byte("1"))
	require.NoError(t, err)
	n, err := s.Delete(ctx, "a", "b", "c", "missing")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	_, err = s.Get(ctx, "a")
	require.ErrorIs(t, err, store.ErrNotFound)
	l, err := s.Len(ctx, "c")
	require.NoError(t, err)
	assert.Zero(t, l)
	n, err = s.Delete(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func testIncr(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	v, err := s.Incr(ctx, "window", 1, ttl)
	require.NoError(t, err)
	assert.Equal(t, int64(1), v)
	v, err = s.Incr(ctx, "window", 4, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, int64(5), v)
	left, err := s.TTL(ctx, "window")
	require.NoError(t, err)
	assert.LessOrEqual(t, left, ttl, "the TTL is set when the counter is created, not on every Incr")
	v, err = s.Incr(ctx, "window", -7, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(-2), v)
	got, err := s.Get(ctx, "window")
	require.NoError(t, err)
	assert.Equal(t, "-2", string(got))

	h.Advance(ttl + 100*time.Millisecond)
	v, err = s.Incr(ctx, "window", 1, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1), v, "an expired counter starts again")

	require.NoError(t, s.Set(ctx, "text", []byte("abc"), 0))
	_, err = s.Incr(ctx, "text", 1, 0)
	require.ErrorIs(t, err, store.ErrWrongType)
}

func testIncrConcurrent(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 20 {
				_, err := s.Incr(ctx, "n", 1, 0)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Get(ctx, "n")
	require.NoError(t, err)
	assert.Equal(t, "200", string(got))
}

func testHash(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	m, err := s.HGetAll(ctx, "breaker:payments")
	require.NoError(t, err)
	assert.Empty(t, m)
	require.NoError(t, s.HSet(ctx, "breaker:payments", map[string]string{"state": "CLOSED", "failures": "0"}))
	require.NoError(t, s.HSet(ctx, "breaker:payments", map[string]string{"state": "OPEN", "opened_at": "1700000000"}))
	m, err = s.HGetAll(ctx, "breaker:payments")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"state": "OPEN", "failures": "0", "opened_at": "1700000000"}, m)
	m["state"] = "mutated"
	m, err = s.HGetAll(ctx, "breaker:payments")
	require.NoError(t, err)
	assert.Equal(t, "OPEN", m["state"], "HGetAll returns a copy")
}

func testStream(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	entries, err := s.Range(ctx, "dlq", store.ID{}, 0)
	require.NoError(t, err)
	assert.Empty(t, entries)

	var ids []store.ID
	for i := range 5 {
		id, err := s.Append(ctx, "dlq", []byte(fmt.Sprintf("e%d", i)))
		require.NoError(t, err)
		if len(ids) > 0 {
			require.True(t, ids[len(ids)-1].Less(id), "IDs grow: %v then %v", ids[len(ids)-1], id)
		}
		ids = append(ids, id)
	}
	n, err := s.Len(ctx, "dlq")
	require.NoError(t, err)
	assert.Equal(t, int64(5), n)

	all, err := s.Range(ctx, "dlq", store.ID{}, 0)
	require.NoError(t, err)
	require.Len(t, all, 5)
	for i, e := range all {
		assert.Equal(t, ids[i], e.ID)
		assert.Equal(t, fmt.Sprintf("e%d", i), string(e.Value))
	}

	// Paging: two at a time from the start, then from the last ID's successor.
	page, err := s.Range(ctx, "dlq", store.ID{}, 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	page, err = s.Range(ctx, "dlq", page[1].ID.Next(), 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, ids[2], page[0].ID)
	from, err := s.Range(ctx, "dlq", ids[4], 10)
	require.NoError(t, err)
	require.Len(t, from, 1, "from is inclusive")

	removed, err := s.Remove(ctx, "dlq", ids[0], ids[2], ids[2], store.ID{Ms: 1, Seq: 1})
	require.NoError(t, err)
	assert.Equal(t, int64(2), removed)
	n, err = s.Len(ctx, "dlq")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	rest, err := s.Range(ctx, "dlq", store.ID{}, 0)
	require.NoError(t, err)
	assert.Equal(t, []store.ID{ids[1], ids[3], ids[4]}, entryIDs(rest))

	removed, err = s.Remove(ctx, "dlq", ids[1], ids[3], ids[4])
	require.NoError(t, err)
	assert.Equal(t, int64(3), removed)
	id, err := s.Append(ctx, "dlq", []byte("after"))
	require.NoError(t, err)
	assert.True(t, ids[4].Less(id), "IDs keep growing after the stream empties")

	removed, err = s.Remove(ctx, "missing", ids[0])
	require.NoError(t, err)
	assert.Zero(t, removed)
	n, err = s.Len(ctx, "missing")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func entryIDs(es []store.Entry) []store.ID {
	out := make([]store.ID, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func testStreamConcurrent(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := s.Append(ctx, "log", []byte(fmt.Sprintf("%d-%d", w, i)))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	all, err := s.Range(ctx, "log", store.ID{}, 0)
	require.NoError(t, err)
	require.Len(t, all, writers*each)
	seen := map[string]bool{}
	for i, e := range all {
		if i > 0 {
			require.True(t, all[i-1].ID.Less(e.ID), "Range is ordered")
		}
		seen[string(e.Value)] = true
	}
	assert.Len(t, seen, writers*each)
}

func testWrongType(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	require.NoError(t, s.Set(ctx, "str", []byte("1"), 0))
	require.NoError(t, s.HSet(ctx, "hash", map[string]string{"f": "v"}))
	_, err := s.Append(ctx, "stream", []byte("x"))
	require.NoError(t, err)

	_, err = s.Get(ctx, "hash")
	assert.ErrorIs(t, err, store.ErrWrongType)
	_, err = s.HGetAll(ctx, "str")
	assert.ErrorIs(t, err, store.ErrWrongType)
	assert.ErrorIs(t, s.HSet(ctx, "stream", map[string]string{"f": "v"}), store.ErrWrongType)
	_, err = s.Append(ctx, "hash", []byte("x"))
	assert.ErrorIs(t, err, store.ErrWrongType)
	_, err = s.Range(ctx, "str", store.ID{}, 0)
	assert.ErrorIs(t, err, store.ErrWrongType)
	_, err = s.Len(ctx, "hash")
	assert.ErrorIs(t, err, store.ErrWrongType)
	_, err = s.Incr(ctx, "stream", 1, 0)
	assert.ErrorIs(t, err, store.ErrWrongType)
	_, err = s.SetNX(ctx, "hash", []byte("x"), 0)
	require.NoError(t, err, "SetNX on an existing key of another kind just loses")

	require.NoError(t, s.Set(ctx, "hash", []byte("now a string"), 0), "Set replaces any kind")
	got, err := s.Get(ctx, "hash")
	require.NoError(t, err)
	assert.Equal(t, "now a string", string(got))
}

func testGetMany(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	require.NoError(t, s.Set(ctx, "a", []byte("1"), 0))
	require.NoError(t, s.Set(ctx, "empty", nil, 0))
	require.NoError(t, s.Set(ctx, "short", []byte("x"), ttl))
	require.NoError(t, s.HSet(ctx, "hash", map[string]string{"f": "v"}))
	_, err := s.Append(ctx, "stream", []byte("x"))
	require.NoError(t, err)
	h.Advance(ttl + 100*time.Millisecond)

	got, err := s.GetMany(ctx, "a", "missing", "empty", "short", "hash", "stream", "a")
	require.NoError(t, err)
	require.Len(t, got, 7)
	assert.Equal(t, "1", string(got[0]))
	assert.Nil(t, got[1], "missing")
	assert.NotNil(t, got[2], "an empty value is not a missing one")
	assert.Empty(t, got[2])
	assert.Nil(t, got[3], "expired")
	assert.Nil(t, got[4], "a hash is not a string value")
	assert.Nil(t, got[5], "a stream is not a string value")
	assert.Equal(t, "1", string(got[6]), "a key asked twice comes twice")

	got[0][0] = 'X' // the caller owns what it got
	again, err := s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "1", string(again))

	none, err := s.GetMany(ctx)
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = s.GetMany(ctx, "a", "")
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testKeys(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	for _, k := range []string{"breaker:b", "breaker:a", "dlq:x", "breakers"} {
		require.NoError(t, s.Set(ctx, k, []byte("v"), 0))
	}
	require.NoError(t, s.HSet(ctx, "breaker:c", map[string]string{"state": "OPEN"}))
	require.NoError(t, s.Set(ctx, "breaker:gone", []byte("v"), ttl))
	h.Advance(ttl + 100*time.Millisecond)
	keys, err := s.Keys(ctx, "breaker:")
	require.NoError(t, err)
	assert.Equal(t, []string{"breaker:a", "breaker:b", "breaker:c"}, keys)
	keys, err = s.Keys(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"breaker:a", "breaker:b", "breaker:c", "breakers", "dlq:x"}, keys)
	keys, err = s.Keys(ctx, "nothing*[")
	require.NoError(t, err)
	assert.Empty(t, keys, "glob characters in the prefix are literal")
}

func testAtomicConditions(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	// Idempotency-style: claim a key and record the claim in a log, together.
	txn := store.Txn{
		Conds: []store.Cond{store.IfAbsent("{t}:claim")},
		Ops: []store.Op{
			store.SetOp("{t}:claim", []byte("running"), time.Minute),
			store.AppendOp("{t}:log", []byte("claimed")),
			store.IncrOp("{t}:count", 1, 0),
			store.HSetOp("{t}:meta", map[string]string{"owner": "w1"}),
		},
	}
	res, err := s.Atomic(ctx, txn)
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.Len(t, res.Results, 4)
	assert.False(t, res.Results[1].ID.IsZero(), "append result carries the ID")
	assert.Equal(t, int64(1), res.Results[2].N)
	claimID := res.Results[1].ID

	res, err = s.Atomic(ctx, txn)
	require.NoError(t, err)
	assert.False(t, res.Applied, "the claim exists, so nothing applies")
	assert.Nil(t, res.Results)
	n, err := s.Len(ctx, "{t}:log")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	res, err = s.Atomic(ctx, store.Txn{
		Conds: []store.Cond{store.IfEquals("{t}:claim", []byte("running")), store.IfExists("{t}:meta")},
		Ops: []store.Op{
			store.SetOp("{t}:claim", []byte("done"), store.KeepTTL),
			store.RemoveOp("{t}:log", claimID),
			store.DeleteOp("{t}:count"),
		},
	})
	require.NoError(t, err)
	require.True(t, res.Applied)
	assert.Equal(t, int64(1), res.Results[2].N)
	got, err := s.Get(ctx, "{t}:claim")
	require.NoError(t, err)
	assert.Equal(t, "done", string(got))
	_, err = s.Get(ctx, "{t}:count")
	require.ErrorIs(t, err, store.ErrNotFound)

	res, err = s.Atomic(ctx, store.Txn{
		Conds: []store.Cond{store.IfEquals("{t}:claim", []byte("running"))},
		Ops:   []store.Op{store.SetOp("{t}:claim", []byte("stolen"), 0)},
	})
	require.NoError(t, err)
	assert.False(t, res.Applied)
}

func testAtomicAllOrNothing(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	require.NoError(t, s.HSet(ctx, "{t}:hash", map[string]string{"f": "v"}))
	_, err := s.Atomic(ctx, store.Txn{Ops: []store.Op{
		store.SetOp("{t}:a", []byte("1"), 0),
		store.AppendOp("{t}:log", []byte("x")),
		store.IncrOp("{t}:hash", 1, 0), // fails: a hash is not a counter
	}})
	require.ErrorIs(t, err, store.ErrWrongType)
	_, err = s.Get(ctx, "{t}:a")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing of a failed txn applies")
	n, err := s.Len(ctx, "{t}:log")
	require.NoError(t, err)
	assert.Zero(t, n)

	// Later ops see the kinds earlier ops give their keys.
	res, err := s.Atomic(ctx, store.Txn{Ops: []store.Op{
		store.DeleteOp("{t}:hash"),
		store.IncrOp("{t}:hash", 2, 0),
		store.SetOp("{t}:b", []byte("41"), 0),
		store.IncrOp("{t}:b", 1, 0),
	}})
	require.NoError(t, err)
	require.True(t, res.Applied)
	assert.Equal(t, int64(2), res.Results[1].N)
	assert.Equal(t, int64(42), res.Results[3].N)
}

func testPubSub(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	sub, err := s.Subscribe(ctx, "breakers", "control")
	require.NoError(t, err)
	other, err := s.Subscribe(ctx, "other")
	require.NoError(t, err)

	require.NoError(t, s.Publish(ctx, "breakers", []byte("payments:OPEN")))
	require.NoError(t, s.Publish(ctx, "control", []byte("disabled")))
	// Order holds per channel only: a cluster routes channels through different nodes.
	assert.ElementsMatch(t, []store.Message{
		{Channel: "breakers", Payload: []byte("payments:OPEN")},
		{Channel: "control", Payload: []byte("disabled")},
	}, []store.Message{receive(t, sub), receive(t, sub)})

	// A txn publishes only once it has applied.
	res, err := s.Atomic(ctx, store.Txn{
		Conds: []store.Cond{store.IfAbsent("{t}:k")},
		Ops:   []store.Op{store.SetOp("{t}:k", []byte("v"), 0), store.PublishOp("breakers", []byte("changed"))},
	})
	require.NoError(t, err)
	require.True(t, res.Applied)
	assert.Equal(t, "changed", string(receive(t, sub).Payload))

	require.NoError(t, other.Close())
	require.NoError(t, other.Close(), "Close is idempotent")
	_, open := <-other.C()
	assert.False(t, open, "a closed subscription's channel is closed")

	require.NoError(t, sub.Close())
	for range sub.C() { // drain whatever was in flight
	}
}

func receive(t *testing.T, sub store.Subscription) store.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		require.True(t, ok, "subscription closed early")
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return store.Message{}
	}
}

func testInvalid(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	assert.ErrorIs(t, s.Set(ctx, "", []byte("v"), 0), store.ErrInvalid)
	assert.ErrorIs(t, s.Set(ctx, "k", []byte("v"), -5*time.Second), store.ErrInvalid)
	_, err := s.SetNX(ctx, "k", []byte("v"), store.KeepTTL)
	assert.ErrorIs(t, err, store.ErrInvalid)
	assert.ErrorIs(t, s.HSet(ctx, "h", nil), store.ErrInvalid)
	_, err = s.Atomic(ctx, store.Txn{})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.Atomic(ctx, store.Txn{Ops: []store.Op{{}}})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.Append(ctx, "s", make([]byte, store.MaxValueSize+1))
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testClose(t *testing.T, h Harness) {
	ctx, s := context.Background(), h.Store
	sub, err := s.Subscribe(ctx, "c")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	for range sub.C() { // closed by the store's Close
	}
	_, err = s.Get(ctx, "k")
	assert.ErrorIs(t, err, store.ErrClosed)
	err = s.Set(ctx, "k", []byte("v"), 0)
	assert.ErrorIs(t, err, store.ErrClosed)
	assert.ErrorIs(t, err, store.ErrUnavailable, "a closed store also reads as unavailable")
}

// Eventually polls cond until it holds or d passes; for backends (Redis
// pub/sub, replication) whose effects land asynchronously.
func Eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
