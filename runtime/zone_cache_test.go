package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

type cacheRes struct{ R0 int }

// cachedRuntime is shapedRuntime with a bound on the cache's entries.
func cachedRuntime(t *testing.T, maxEntries int) (*Runtime, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	st := store.NewMemoryWith(store.MemoryOptions{Clock: clk})
	t.Cleanup(func() { _ = st.Close() })
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), Clock: clk, Store: st,
		StateDir: t.TempDir(), CacheMaxEntries: maxEntries})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return rt, clk
}

// cachedCall is the generated wrapper of a cached method with retry: Get,
// and on a miss the Enter/Done loop, then Done of the cache.
func cachedCall(ctx context.Context, z *Zone, c *Cache[string, cacheRes], key string, inner func() (int, error)) (int, error) {
	if z.Bypass() {
		return inner()
	}
	cv, cm, err := c.Get(ctx, key)
	if cm.Run() {
		defer c.Release(&cm)
		var r0 int
		for attempt := 1; ; attempt++ {
			var p Permit
			if p, err = z.Enter(ctx); err != nil {
				break
			}
			r0, err = inner()
			if !z.Done(ctx, p, err, attempt) {
				break
			}
		}
		cv, err = c.Done(ctx, &cm, cacheRes{r0}, err)
	}
	return cv.R0, err
}

func cacheStatsOf(t *testing.T, rt *Runtime, method string) ShapeStats {
	t.Helper()
	for _, s := range rt.Shaping() {
		if s.Method == method {
			return s
		}
	}
	t.Fatalf("no shaping stats for %s", method)
	return ShapeStats{}
}

type status404 struct{}

func (status404) Error() string   { return "not found" }
func (status404) StatusCode() int { return 404 }

func TestCacheAnswersUntilItsResultExpires(t *testing.T) {
	t.Parallel()
	rt, clk := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Get", Breaker: true, Cache: 30 * time.Second})
	c := NewCache[string, cacheRes](z)
	assert.Same(t, c, NewCache[string, cacheRes](z), "one cache per zone")
	calls := 0
	inner := func() (int, error) { calls++; return calls * 10, nil }
	ctx := context.Background()

	got := func() int {
		v, err := cachedCall(ctx, z, c, "a", inner)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, 10, got())
	assert.Equal(t, 10, got(), "a hit")
	clk.Advance(29 * time.Second)
	assert.Equal(t, 10, got(), "still fresh at 29s")
	clk.Advance(time.Second)
	assert.Equal(t, 20, got(), "expired at 30s: the call runs again")
	v, err := cachedCall(ctx, z, c, "b", inner)
	require.NoError(t, err)
	assert.Equal(t, 30, v, "another key is another entry")
	assert.Equal(t, 3, calls)

	s := cacheStatsOf(t, rt, "Get")
	assert.Equal(t, []string{"cache"}, s.Policies)
	assert.Equal(t, uint64(2), s.CacheHits)
	assert.Equal(t, uint64(3), s.CacheMisses)
	assert.Equal(t, DefaultCacheMaxEntries, s.CacheMax)
	assert.Equal(t, []string{"cache", "breaker"}, z.Spec().Policies())
}

func TestCacheServesAStaleResultWithinStaleIfError(t *testing.T) {
	t.Parallel()
	rt, clk := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Stale", Breaker: true, Cache: 30 * time.Second, StaleIfError: 5 * time.Minute})
	c := NewCache[string, cacheRes](z)
	ctx := context.Background()
	errDown := errors.New("down")
	var fail error
	inner := func() (int, error) {
		if fail != nil {
			return 0, fail
		}
		return 42, nil
	}
	v, err := cachedCall(ctx, z, c, "a", inner)
	require.NoError(t, err)
	require.Equal(t, 42, v)

	fail = errDown
	clk.Advance(31 * time.Second)
	v, err = cachedCall(ctx, z, c, "a", inner)
	require.NoError(t, err, "a failure within 30s+5m gets the last good result")
	assert.Equal(t, 42, v)

	fail = status404{}
	_, err = cachedCall(ctx, z, c, "a", inner)
	assert.ErrorIs(t, err, status404{}, "an answer the breaker counts as a success is not a failure: no stale result")

	fail = errDown
	_, err = cachedCall(ctx, z, c, "never-stored", inner)
	assert.ErrorIs(t, err, errDown, "nothing stored: the error")

	clk.Advance(5*time.Minute - time.Second - time.Nanosecond) // 30s + 5m - 1ns after the store
	v, err = cachedCall(ctx, z, c, "a", inner)
	require.NoError(t, err, "the last nanosecond of the window")
	assert.Equal(t, 42, v)
	clk.Advance(time.Nanosecond)
	_, err = cachedCall(ctx, z, c, "a", inner)
	assert.ErrorIs(t, err, errDown, "past 30s+5m: the error")

	assert.Equal(t, uint64(2), cacheStatsOf(t, rt, "Stale").CacheStale)
}

func TestCacheMakesOneCallForConcurrentMisses(t *testing.T) {
	t.Parallel()
	rt, _ := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Flight", Breaker: true, Cache: time.Minute})
	c := NewCache[string, cacheRes](z)
	const n = 16
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	inner := func() (int, error) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
		return 5, nil
	}
	ctx := context.Background()
	results := make(chan error, n)
	values := make(chan int, n)
	call := func(ctx context.Context) {
		v, err := cachedCall(ctx, z, c, "k", inner)
		values <- v
		results <- err
	}
	go call(ctx)
	await.Signal(t, entered, "the first call reaching the dependency")
	for range n - 1 {
		go call(ctx)
	}
	// One more waits with a context that ends first: it leaves with its
	// context's error, the flight goes on.
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { _, err := cachedCall(cctx, z, c, "k", inner); gone <- err }()
	end := time.Now().Add(await.Deadline)
	for cacheStatsOf(t, rt, "Flight").CacheShared < n {
		require.True(t, time.Now().Before(end), "the other calls never waited for the first")
		time.Sleep(time.Millisecond)
	}
	cancel()
	assert.ErrorIs(t, await.Recv(t, gone, "the call whose context ended"), context.Canceled)
	close(release)
	for range n {
		require.NoError(t, await.Recv(t, results, "a call's return"))
		assert.Equal(t, 5, await.Recv(t, values, "a call's value"))
	}
	assert.Equal(t, int32(1), calls.Load(), "%d concurrent misses of one key made one call", n+1)
}

func TestCacheWaitingCallsShareAFailureButRunAfterAPanic(t *testing.T) {
	t.Parallel()
	rt, _ := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Share", Cache: time.Minute})
	c := NewCache[string, cacheRes](z)
	ctx := context.Background()
	errDown := errors.New("down")

	for _, tc := range []struct {
		name      string
		lead      func() (int, error)
		wantCalls int32
		wantErr   error
	}{
		{"failure", func() (int, error) { return 0, errDown }, 1, errDown},
		{"panic", func() (int, error) { panic("boom") }, 2, nil},
	} {
		entered, release := make(chan struct{}), make(chan struct{})
		var calls atomic.Int32
		inner := func() (int, error) {
			if calls.Add(1) == 1 {
				close(entered)
				<-release
				return tc.lead()
			}
			return 9, nil
		}
		key := tc.name
		leader := make(chan any, 1)
		go func() {
			defer func() { leader <- recover() }()
			_, _ = cachedCall(ctx, z, c, key, inner)
		}()
		await.Signal(t, entered, "the leader reaching the dependency")
		shared := cacheStatsOf(t, rt, "Share").CacheShared
		follower := make(chan error, 1)
		go func() { _, err := cachedCall(ctx, z, c, key, inner); follower <- err }()
		end := time.Now().Add(await.Deadline)
		for cacheStatsOf(t, rt, "Share").CacheShared == shared {
			require.True(t, time.Now().Before(end), "%s: the follower never waited", tc.name)
			time.Sleep(time.Millisecond)
		}
		close(release)
		err := await.Recv(t, follower, "the follower's return")
		await.Recv(t, leader, "the leader's return")
		if tc.wantErr != nil {
			assert.ErrorIs(t, err, tc.wantErr, tc.name)
		} else {
			assert.NoError(t, err, tc.name)
		}
		assert.Equal(t, tc.wantCalls, calls.Load(), tc.name)
	}
}

func TestCacheKeepsItsSizeBound(t *testing.T) {
	t.Parallel()
	rt, _ := cachedRuntime(t, 100)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Many", Cache: time.Hour})
	c := NewCache[string, cacheRes](z)
	ctx := context.Background()
	for i := range 2000 {
		_, err := cachedCall(ctx, z, c, fmt.Sprint(i), func() (int, error) { return i, nil })
		require.NoError(t, err)
	}
	c.c.CleanUp()
	s := cacheStatsOf(t, rt, "Many")
	assert.Equal(t, 100, s.CacheMax)
	assert.LessOrEqual(t, s.CacheSize, 100)
	assert.Positive(t, s.CacheSize)
}

func TestCacheUncachedCallRunsAndStoresNothing(t *testing.T) {
	t.Parallel()
	rt, _ := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "NoKey", Cache: time.Hour})
	c := NewCache[string, cacheRes](z)
	cm := c.Uncached()
	require.True(t, cm.Run())
	v, err := c.Done(context.Background(), &cm, cacheRes{3}, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, v.R0)
	assert.Zero(t, c.c.EstimatedSize())
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	rt, _ := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Allocs", Breaker: true, Attempts: 3, Cache: time.Hour})
	c := NewCache[string, cacheRes](z)
	ctx := context.Background()
	inner := func() (int, error) { return 1, nil }
	_, err := cachedCall(ctx, z, c, "k", inner)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = cachedCall(ctx, z, c, "k", inner) }))
}

func TestNewCachePanicsWithoutCacheInTheSpec(t *testing.T) {
	t.Parallel()
	rt, _ := cachedRuntime(t, 0)
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Plain", Breaker: true})
	assert.PanicsWithValue(t, "baldur/runtime: zone accounts.Plain has no cache= (ZoneSpec.Cache)", func() { NewCache[string, cacheRes](z) })
}

// BenchmarkCacheGetHit is Get of a fresh entry alone (the bench module's
// rows measure it through a generated wrapper beside failsafe-go).
func BenchmarkCacheGetHit(b *testing.B) {
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = rt.Close() })
	z := rt.Zone(ZoneSpec{Service: "accounts", Method: "Bench", Cache: time.Hour})
	c := NewCache[string, cacheRes](z)
	ctx := context.Background()
	cm := c.Uncached()
	cm.key, cm.keyed = "k", true
	_, _ = c.Done(ctx, &cm, cacheRes{1}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, m, _ := c.Get(ctx, "k"); m.Run() {
			b.Fatal("a miss")
		}
	}
}

func BenchmarkClockRead(b *testing.B) {
	rt, err := New(context.Background(), Config{Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = rt.Close() })
	var n int64
	for b.Loop() {
		n += rt.now()
	}
	_ = n
}
