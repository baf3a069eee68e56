package idem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) {
	if runRaceChild() { // the multi-process Redis test re-executes this binary
		return
	}
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// logSink records the events a gate logs.
type logSink struct {
	mu     sync.Mutex
	events []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, r.Clone())
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

func (s *logSink) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.events {
		if r.Message == msg {
			n++
		}
	}
	return n
}

type fixture struct {
	clock *clock.Fake
	store *store.Memory
	gate  *Gate
	log   *logSink
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clock.NewFake(t0), log: &logSink{}}
	f.store = store.NewMemoryWith(store.MemoryOptions{Clock: f.clock})
	t.Cleanup(func() { _ = f.store.Close() })
	g, err := New(f.store, Options{MemoryTTL: time.Hour, ExecutionWindow: 10 * time.Minute,
		Clock: f.clock, Logger: slog.New(f.log)})
	require.NoError(t, err)
	f.gate = g
	return f
}

func req(key string) Request {
	return Request{Domain: "payments", Operation: "Charge", Key: key, Fingerprint: 7}
}

func TestClaimThenDuplicateWhileRunning(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err)
	require.True(t, c.Owned())
	assert.Equal(t, "idem:{payments}:Charge:order-1", c.StoreKey())

	f.clock.Advance(time.Minute)
	_, err = f.gate.Claim(ctx, req("order-1"))
	require.ErrorIs(t, err, ErrDuplicate)
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateRunning, dup.State)
	assert.Equal(t, "order-1", dup.Key)
	assert.True(t, dup.FirstSeen.Equal(t0), "first seen %v", dup.FirstSeen)
	assert.Contains(t, err.Error(), "running since")
}

func TestCompletedKeyBlocksForTheMemoryTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err)
	f.clock.Advance(9 * time.Minute) // a long call, still inside its 10m window
	require.NoError(t, f.gate.Complete(ctx, c, true, nil))

	// The key now lives for the memory TTL (1h) from completion, not the window.
	f.clock.Advance(59 * time.Minute)
	_, err = f.gate.Claim(ctx, req("order-1"))
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateCompleted, dup.State)
	assert.True(t, dup.CompletedAt.Equal(t0.Add(9*time.Minute)))

	f.clock.Advance(time.Minute)
	c, err = f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err, "the memory TTL is over: the key is free")
	assert.True(t, c.Owned())
}

func TestCrashedClaimIsRetryableAfterTheWindow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := req("order-1")
	r.ExecutionWindow = 2 * time.Minute
	_, err := f.gate.Claim(ctx, r) // the owner "crashes": never completes
	require.NoError(t, err)

	f.clock.Advance(2*time.Minute - time.Millisecond)
	_, err = f.gate.Claim(ctx, r)
	require.ErrorIs(t, err, ErrDuplicate, "inside the window the claim is honoured")

	f.clock.Advance(time.Millisecond)
	c, err := f.gate.Claim(ctx, r)
	require.NoError(t, err, "after the window the crashed attempt is retryable")
	assert.True(t, c.Owned())
}

func TestDefaultWindowAppliesWhenTheRequestHasNone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.gate.Claim(ctx, req("k"))
	require.NoError(t, err)
	f.clock.Advance(10*time.Minute - time.Nanosecond)
	_, err = f.gate.Claim(ctx, req("k"))
	require.ErrorIs(t, err, ErrDuplicate)
	f.clock.Advance(time.Nanosecond)
	_, err = f.gate.Claim(ctx, req("k"))
	require.NoError(t, err)
}

func TestFailureReleasesTheKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err)
	require.NoError(t, f.gate.Complete(ctx, c, false, []byte("ignored")))

	c2, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err, "a failed execution releases its claim")
	assert.True(t, c2.Owned())
	// Completing the old claim again must not touch the new owner's key.
	require.ErrorIs(t, f.gate.Complete(ctx, c, false, nil), ErrClaimLost)
	_, err = f.gate.Claim(ctx, req("order-1"))
	require.ErrorIs(t, err, ErrDuplicate)
}

func TestOnlyTheOwnerCompletesAfterTheWindowPassed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	slow, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err)
	f.clock.Advance(11 * time.Minute) // slow outlives its window
	fast, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err)

	err = f.gate.Complete(ctx, slow, true, nil)
	require.ErrorIs(t, err, ErrClaimLost)
	assert.Equal(t, 1, f.log.count("idem.claim_lost"))

	_, err = f.gate.Claim(ctx, req("order-1"))
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateRunning, dup.State, "the slow owner did not overwrite the new claim")
	require.NoError(t, f.gate.Complete(ctx, fast, true, nil))
}

func TestReplayReturnsTheOriginalResults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := req("order-1")
	r.Replay = true
	c, err := f.gate.Claim(ctx, r)
	require.NoError(t, err)

	// A duplicate while the first runs cannot be answered yet.
	_, err = f.gate.Claim(ctx, r)
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateRunning, dup.State)

	results := []byte(`{"receipt":"r-42"}`)
	require.NoError(t, f.gate.Complete(ctx, c, true, results))
	results[2] = 'X' // the gate copied them

	for range 2 {
		again, err := f.gate.Claim(ctx, r)
		require.NoError(t, err)
		require.True(t, again.Replayed())
		assert.Equal(t, `{"receipt":"r-42"}`, string(again.Results()))
		require.NoError(t, f.gate.Complete(ctx, again, false, nil), "completing a replay is a no-op")
	}

	// Without replay the same key is a plain duplicate.
	_, err = f.gate.Claim(ctx, req("order-1"))
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateCompleted, dup.State)
}

func TestReplayOfAnEmptyResultAndOfAKeyCompletedWithoutReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := req("empty")
	r.Replay = true
	c, err := f.gate.Claim(ctx, r)
	require.NoError(t, err)
	require.NoError(t, f.gate.Complete(ctx, c, true, nil))
	again, err := f.gate.Claim(ctx, r)
	require.NoError(t, err)
	require.True(t, again.Replayed(), "an empty result is still a result")
	assert.Empty(t, again.Results())

	// A key completed by a caller not in replay mode stored nothing to replay.
	c, err = f.gate.Claim(ctx, req("plain"))
	require.NoError(t, err)
	require.NoError(t, f.gate.Complete(ctx, c, true, []byte("dropped")))
	r.Key = "plain"
	_, err = f.gate.Claim(ctx, r)
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateCompleted, dup.State)
}

func TestKeyReuseWithDifferentArguments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.gate.Claim(ctx, req("order-1"))
	require.NoError(t, err)

	other := req("order-1")
	other.Fingerprint = 8
	_, err = f.gate.Claim(ctx, other)
	require.ErrorIs(t, err, ErrKeyReuse)
	require.NotErrorIs(t, err, ErrDuplicate)
	var reuse *KeyReuseError
	require.ErrorAs(t, err, &reuse)
	assert.Equal(t, StateRunning, reuse.State)

	require.NoError(t, f.gate.Complete(ctx, c, true, nil))
	other.Replay = true
	_, err = f.gate.Claim(ctx, other)
	require.ErrorAs(t, err, &reuse, "replay never answers a request with other arguments")
	assert.Equal(t, StateCompleted, reuse.State)
}

func TestKeysAreNamespacedByDomainAndOperation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, r := range []Request{
		{Domain: "payments", Operation: "Charge", Key: "k"},
		{Domain: "payments", Operation: "Refund", Key: "k"},
		{Domain: "billing", Operation: "Charge", Key: "k"},
	} {
		c, err := f.gate.Claim(ctx, r)
		require.NoError(t, err, "%+v", r)
		require.True(t, c.Owned())
	}
	// Two entry points sharing operation= share memory.
	_, err := f.gate.Claim(ctx, Request{Domain: "payments", Operation: "Charge", Key: "k"})
	require.ErrorIs(t, err, ErrDuplicate)
}

func TestInvalidKeysFailBeforeTheStore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		r      Request
		reason string
	}{
		{"empty key", Request{Domain: "d", Operation: "o"}, "key is empty"},
		{"256 bytes", Request{Domain: "d", Operation: "o", Key: strings.Repeat("x", 256)}, "256 bytes, over the limit of 255"},
		{"not UTF-8", Request{Domain: "d", Operation: "o", Key: "a\xffb"}, "not valid UTF-8"},
		{"empty domain", Request{Operation: "o", Key: "k"}, "domain is empty"},
		{"brace in domain", Request{Domain: "a}b", Operation: "o", Key: "k"}, "domain"},
		{"colon in operation", Request{Domain: "d", Operation: "a:b", Key: "k"}, "operation"},
		{"space in operation", Request{Domain: "d", Operation: "a b", Key: "k"}, "operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.gate.Claim(ctx, tc.r)
			require.ErrorIs(t, err, ErrInvalidKey)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
	keys, err := f.store.Keys(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, keys, "nothing reached the store")

	// The limits are inclusive, and a key may hold anything else.
	for _, k := range []string{strings.Repeat("é", 127) + "x", "a:b{c}d", "ключ"} {
		c, err := f.gate.Claim(ctx, Request{Domain: "d", Operation: "o", Key: k})
		require.NoError(t, err, k)
		d, o, key, ok := ParseKey(f.gate.Prefix(), c.StoreKey())
		require.True(t, ok)
		assert.Equal(t, []string{"d", "o", k}, []string{d, o, key})
	}
}

func TestUndecodableValueFailsClosed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := "idem:{payments}:Charge:"
	require.NoError(t, f.store.Set(ctx, key+"garbage", []byte("not a record"), 0))
	require.NoError(t, f.store.Set(ctx, key+"truncated", []byte{recordMagic, tagRunning, 1, 2}, 0))
	require.NoError(t, f.store.HSet(ctx, key+"hash", map[string]string{"a": "b"}))

	for _, k := range []string{"garbage", "truncated", "hash"} {
		r := req(k)
		r.FailOpen = true // the store answered: the posture does not apply
		_, err := f.gate.Claim(ctx, r)
		require.ErrorIs(t, err, ErrDuplicate, k)
		var dup *DuplicateError
		require.ErrorAs(t, err, &dup)
		assert.Equal(t, StateUnknown, dup.State)
		assert.Contains(t, err.Error(), "unknown state")
	}
	assert.Equal(t, 3, f.log.count("idem.claim_undecodable"))

	// An operator clears it.
	existed, err := f.gate.Forget(ctx, "payments", "Charge", "garbage")
	require.NoError(t, err)
	assert.True(t, existed)
	_, err = f.gate.Claim(ctx, req("garbage"))
	require.NoError(t, err)
}

func TestDecodeRecordNeverPanics(t *testing.T) {
	c := Claim{fingerprint: 1, firstSeen: 2}
	valid := c.appendCompleted(nil, 3, []byte("results"), true)
	for i := range len(valid) + 1 {
		_, _ = DecodeRecord(valid[:i]) // every truncation
	}
	for i := range valid {
		mutated := bytes.Clone(valid)
		mutated[i] ^= 0xff
		_, _ = DecodeRecord(mutated)
	}
	rec, err := DecodeRecord(valid)
	require.NoError(t, err)
	assert.Equal(t, Record{State: StateCompleted, Fingerprint: 1, FirstSeen: time.Unix(0, 2),
		CompletedAt: time.Unix(0, 3), HasResults: true, Results: []byte("results")}, rec)
	_, err = DecodeRecord(append(c.appendRunning(nil), 0))
	require.Error(t, err, "a running record has no tail")
}

func FuzzDecodeRecord(f *testing.F) {
	c := Claim{fingerprint: 1, firstSeen: 2}
	f.Add(c.appendRunning(nil))
	f.Add(c.appendCompleted(nil, 3, []byte("r"), true))
	f.Add(c.appendCompleted(nil, 3, nil, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err == nil && rec.State == StateUnknown {
			t.Fatal("decoded a record without a state")
		}
	})
}

// flaky is a store whose string operations fail with ErrUnavailable while down.
type flaky struct {
	store.Store
	mu   sync.Mutex
	down bool
}

func (s *flaky) setDown(d bool) { s.mu.Lock(); s.down = d; s.mu.Unlock() }

func (s *flaky) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *flaky) SetNX(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
	if s.isDown() {
		return false, errUnreachable
	}
	return s.Store.SetNX(ctx, k, v, ttl)
}

func (s *flaky) CompareAndSet(ctx context.Context, k string, old, v []byte, ttl time.Duration) (bool, error) {
	if s.isDown() {
		return false, errUnreachable
	}
	return s.Store.CompareAndSet(ctx, k, old, v, ttl)
}

var errUnreachable = errors.Join(errors.New("dial tcp 127.0.0.1:1: connection refused"), store.ErrUnavailable)

func TestPostureWhenTheStoreIsUnreachable(t *testing.T) {
	f := newFixture(t)
	fs := &flaky{Store: f.store}
	g, err := New(fs, Options{Clock: f.clock, Logger: slog.New(f.log)})
	require.NoError(t, err)
	ctx := context.Background()
	fs.setDown(true)

	_, err = g.Claim(ctx, req("k"))
	require.ErrorIs(t, err, ErrUnavailable, "fail-closed by default")
	require.ErrorIs(t, err, store.ErrUnavailable, "the store's error is kept")
	var unavail *UnavailableError
	require.ErrorAs(t, err, &unavail)
	assert.Equal(t, "k", unavail.Key)

	open := req("k")
	open.FailOpen = true
	for range 3 {
		c, err := g.Claim(ctx, open)
		require.NoError(t, err)
		require.True(t, c.Unguarded())
		require.NoError(t, g.Complete(ctx, c, true, nil), "nothing to record")
	}
	assert.Equal(t, 1, f.log.count("idem.gate_failed_open"), "throttled to one line a second")
	f.clock.Advance(time.Second)
	_, err = g.Claim(ctx, open)
	require.NoError(t, err)
	assert.Equal(t, 2, f.log.count("idem.gate_failed_open"))

	// A completion that cannot reach the store leaves the claim running.
	fs.setDown(false)
	c, err := g.Claim(ctx, req("k2"))
	require.NoError(t, err)
	fs.setDown(true)
	require.ErrorIs(t, g.Complete(ctx, c, true, nil), store.ErrUnavailable)
	assert.Equal(t, 1, f.log.count("idem.complete_failed"))
	fs.setDown(false)
	_, err = g.Claim(ctx, req("k2"))
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, StateRunning, dup.State)
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := f.gate.Claim(ctx, req("k"))
	require.NoError(t, err)
	cancel()

	// The call is over: its outcome is recorded even though ctx ended.
	require.NoError(t, f.gate.Complete(ctx, c, true, nil))
	_, err = f.gate.Claim(context.Background(), req("k"))
	require.ErrorIs(t, err, ErrDuplicate)

	// A claim on a cancelled context is the caller giving up, never "fail open".
	r := req("k3")
	r.FailOpen = true
	_, err = f.gate.Claim(ctx, r)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrUnavailable)
}

func TestNewRejectsBadOptions(t *testing.T) {
	m := store.NewMemory()
	defer m.Close()
	_, err := New(m, Options{Prefix: "x{y}:"})
	require.Error(t, err)
	_, err = New(m, Options{MemoryTTL: -time.Second})
	require.Error(t, err)
	_, err = New(nil, Options{})
	require.Error(t, err)
}

func TestHasherSeparatesFields(t *testing.T) {
	a := NewHasher().String("ab").String("c").Sum()
	b := NewHasher().String("a").String("bc").Sum()
	assert.NotEqual(t, a, b)
	assert.NotEqual(t, NewHasher().Int64(1).Sum(), NewHasher().Uint64(1).Sum())
	assert.NotEqual(t, NewHasher().Nil().Sum(), NewHasher().String("").Sum())
	assert.Equal(t, NewHasher().Int64(5).Bool(true).Sum(), NewHasher().Int64(5).Bool(true).Sum())
	// The encoding is a stored format: pin it.
	assert.Equal(t, uint64(0x67407e4cc74cc6be), NewHasher().String("EUR").Int64(4200).Sum())
}

// TestHasherTellsEveryValueFromItsNeighbour: arguments that differ in one
// value (a bool, a sign, a byte) give different fingerprints, so a key reused
// with them is refused instead of answered as a duplicate.
func TestHasherTellsEveryValueFromItsNeighbour(t *testing.T) {
	base := NewHasher().String("order-1").Int64(4200)
	for name, pair := range map[string][2]Hasher{
		"true and false":       {base.Bool(true), base.Bool(false)},
		"a bool and nothing":   {base.Bool(false), base},
		"a bool and a nil":     {base.Bool(false), base.Nil()},
		"1 and -1":             {base.Int64(1), base.Int64(-1)},
		"0 and 1 unsigned":     {base.Uint64(0), base.Uint64(1)},
		"0.0 and -0.0":         {base.Float64(0), base.Float64(math.Copysign(0, -1))},
		"one byte apart":       {base.Bytes([]byte{1, 2}), base.Bytes([]byte{1, 3})},
		"one string apart":     {base.String("EUR"), base.String("EUX")},
		"one nanosecond apart": {base.Time(t0), base.Time(t0.Add(1))},
	} {
		assert.NotEqual(t, pair[0].Sum(), pair[1].Sum(), name)
	}
	// The encoding is a stored format: pin the bools too (FNV-1a of one byte, "T" or "F").
	assert.Equal(t, uint64(0xaf64094c86023903), NewHasher().Bool(true).Sum())
	assert.Equal(t, uint64(0xaf63fb4c86022139), NewHasher().Bool(false).Sum())
}

// TestKeyReuseDifferingOnlyInABool: the claim of a call whose one bool
// argument flipped is key reuse, not a duplicate.
func TestKeyReuseDifferingOnlyInABool(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fp := func(capture bool) Request {
		r := req("order-b")
		r.Fingerprint = NewHasher().Int64(4200).Bool(capture).Sum()
		return r
	}
	c, err := f.gate.Claim(ctx, fp(true))
	require.NoError(t, err)
	require.NoError(t, f.gate.Complete(ctx, c, true, nil))
	_, err = f.gate.Claim(ctx, fp(true))
	require.ErrorIs(t, err, ErrDuplicate, "the same arguments are a duplicate")
	_, err = f.gate.Claim(ctx, fp(false))
	require.ErrorIs(t, err, ErrKeyReuse, "the same key with the bool flipped is key reuse")
}

// TestGateAddsNoAllocationBeyondTheKey compares claim + complete through the
// gate with the same two store calls made directly.
func TestGateAddsNoAllocationBeyondTheKey(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := store.NewMemory()
	defer m.Close()
	g, err := New(m, Options{})
	require.NoError(t, err)
	ctx := context.Background()
	r := req("order-1")

	gate := testing.AllocsPerRun(1000, func() {
		c, err := g.Claim(ctx, r)
		if err != nil || !c.Owned() {
			panic(err)
		}
		if err := g.Complete(ctx, c, false, nil); err != nil {
			panic(err)
		}
		c, _ = g.Claim(ctx, r)
		if err := g.Complete(ctx, c, true, nil); err != nil {
			panic(err)
		}
		_, _ = m.Delete(ctx, c.StoreKey())
	})

	key := "idem:{payments}:Charge:order-1"
	c := Claim{fingerprint: 7, firstSeen: 1}
	running := c.appendRunning(nil)
	completed := c.appendCompleted(nil, 2, nil, false)
	var st store.Store = m // the gate calls through the interface too
	bare := testing.AllocsPerRun(1000, func() {
		_, _ = st.SetNX(ctx, key, running, time.Hour)
		_, _ = st.Atomic(ctx, store.Txn{Conds: []store.Cond{store.IfEquals(key, running)},
			Ops: []store.Op{store.DeleteOp(key)}})
		_, _ = st.SetNX(ctx, key, running, time.Hour)
		_, _ = st.CompareAndSet(ctx, key, running, completed, time.Hour)
		_, _ = st.Delete(ctx, key)
	})
	t.Logf("allocations per two claims + completions: gate %.0f, bare store calls %.0f", gate, bare)
	assert.LessOrEqual(t, gate, bare+2, "the gate allocates only the namespaced key of each claim")
}

func TestConcurrentClaimsRunEachKeyOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const keys, goroutines = 200, 16
	var ran [keys]atomic.Int32
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range keys {
				c, err := f.gate.Claim(ctx, req(strconv.Itoa(i)))
				if err != nil {
					if !errors.Is(err, ErrDuplicate) {
						t.Error(err)
					}
					continue
				}
				ran[i].Add(1)
				if err := f.gate.Complete(ctx, c, true, nil); err != nil {
					t.Error(err)
				}
			}
		})
	}
	await.Wait(t, &wg, "the concurrent claimers")
	for i := range ran {
		require.Equal(t, int32(1), ran[i].Load(), "key %d", i)
	}
}

// BenchmarkMemoryClaimComplete is the gate's own cost over the memory store.
// BenchmarkMemoryClaimComplete measures the gate's own work, with and
// without its record of recent keys (Options.RecentKeys), on new keys that
// complete: the record's worst case.
func BenchmarkMemoryClaimComplete(b *testing.B) {
	for _, recent := range []int{DefaultRecentKeys, -1} {
		b.Run(fmt.Sprintf("recent=%d", max(recent, 0)), func(b *testing.B) {
			m := store.NewMemory()
			defer m.Close()
			g, err := New(m, Options{RecentKeys: recent, MemoryTTL: time.Millisecond})
			require.NoError(b, err)
			ctx := context.Background()
			keys := make([]string, 1<<16)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c, _ := g.Claim(ctx, req(keys[i&(len(keys)-1)]))
				_ = g.Complete(ctx, c, true, nil)
				_, _ = m.Delete(ctx, c.StoreKey())
				i++
			}
		})
	}
}

// lostReply is a store whose SET NX lands but answers "taken", as a retried
// SET NX does when the reply to the first attempt was lost on the network.
type lostReply struct{ store.Store }

func (l lostReply) SetNX(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, error) {
	if _, err := l.Store.SetNX(ctx, key, v, ttl); err != nil {
		return false, err
	}
	return false, nil
}

func TestAClaimRecognisesItsOwnEarlierAttempt(t *testing.T) {
	f := newFixture(t)
	g, err := New(lostReply{f.store}, Options{Clock: f.clock, Logger: slog.New(f.log)})
	require.NoError(t, err)
	ctx := context.Background()
	c, err := g.Claim(ctx, req("order-9"))
	require.NoError(t, err, "the key holds this claim's own token: not a duplicate")
	require.True(t, c.Owned())
	require.NoError(t, g.Complete(ctx, c, true, nil))

	_, err = g.Claim(ctx, req("order-9"))
	var dup *DuplicateError
	require.ErrorAs(t, err, &dup, "another claim of the same key is still a duplicate")
	assert.Equal(t, StateCompleted, dup.State)
}
