package shape

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want Rate
		err  string
	}{
		{"100/s", Rate{100, time.Second}, ""},
		{"30/m", Rate{30, time.Minute}, ""},
		{"1/h", Rate{1, time.Hour}, ""},
		{"100", Rate{}, "want N/s, N/m or N/h"},
		{"0/s", Rate{}, "positive whole number"},
		{"-3/s", Rate{}, "positive whole number"},
		{"1.5/s", Rate{}, "positive whole number"},
		{"10/d", Rate{}, "period must be s, m or h"},
		{"2000000000/s", Rate{}, "more than one call per nanosecond"},
	} {
		got, err := ParseRate(c.in)
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, got)
		assert.Equal(t, c.in, got.String())
	}
	assert.Equal(t, int64(100), Rate{100, time.Second}.DefaultBurst())
	assert.Equal(t, int64(10), Rate{600, time.Minute}.DefaultBurst())
	assert.Equal(t, int64(1), Rate{100, time.Hour}.DefaultBurst())
}

func newLimiter(t *testing.T, s LimiterSettings) *Limiter {
	t.Helper()
	l, err := NewLimiter(s)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// drain takes tokens until the limiter refuses, and returns how many it got.
func drain(t *testing.T, l *Limiter) int {
	t.Helper()
	for n := 0; ; n++ {
		if err := l.Take(context.Background()); err != nil {
			require.ErrorIs(t, err, ErrRateLimited)
			return n
		}
		require.Less(t, n, 1<<20, "the limiter never refused")
	}
}

func TestLimiterAfterAQuietSpellAdmitsTheBurstAndNoMore(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	l := newLimiter(t, LimiterSettings{Rate: Rate{10, time.Second}, Burst: 20, Clock: c})
	got := drain(t, l)
	assert.LessOrEqual(t, int64(got), l.Burst())
	assert.GreaterOrEqual(t, int64(got), l.Burst()-l.Batch()+1)
	c.Advance(time.Hour) // the bucket refills to its size, not beyond
	got = drain(t, l)
	assert.LessOrEqual(t, int64(got), l.Burst())
	assert.GreaterOrEqual(t, int64(got), l.Burst()-l.Batch()+1)
	assert.Equal(t, uint64(2), l.Stats().Limited)
}

func TestLimiterRefusalSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	l := newLimiter(t, LimiterSettings{Rate: Rate{1, time.Second}, Burst: 1, Clock: c})
	require.NoError(t, l.Take(context.Background()))
	c.Advance(300 * time.Millisecond)
	err := l.Take(context.Background())
	var rl *RateLimitedError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 700*time.Millisecond, rl.RetryAfter)
	assert.Equal(t, "1/s", rl.Limit)
	assert.EqualError(t, err, "rate limit 1/s reached: retry after 700ms")
	c.Advance(rl.RetryAfter)
	assert.NoError(t, l.Take(context.Background()), "a token at the time the refusal named")
}

func TestLimiterWaitsForATokenWithinRateWait(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	l := newLimiter(t, LimiterSettings{Rate: Rate{1, time.Second}, Burst: 1, Wait: 2 * time.Second, Clock: c})
	require.NoError(t, l.Take(context.Background()))
	done := make(chan error, 2)
	go func() { done <- l.Take(context.Background()) }() // the token due at +1s
	armed(t, c, 1, "first waiter")
	go func() { done <- l.Take(context.Background()) }() // the token due at +2s
	armed(t, c, 2, "second waiter")
	// The third would wait 3s, beyond rate_wait=2s: refused now.
	var rl *RateLimitedError
	require.ErrorAs(t, l.Take(context.Background()), &rl)
	assert.Equal(t, 3*time.Second, rl.RetryAfter)
	assert.True(t, quiet(done), "no waiter may pass before its token is due")
	c.Advance(time.Second)
	assert.NoError(t, await.Recv(t, done, "first waiter"))
	assert.True(t, quiet(done))
	c.Advance(time.Second)
	assert.NoError(t, await.Recv(t, done, "second waiter"))
	assert.Equal(t, uint64(2), l.Stats().Waited)
}

func TestLimiterWaitEndsWithTheCallersContext(t *testing.T) {
	t.Parallel()
	c := clock.NewFake(t0)
	l := newLimiter(t, LimiterSettings{Rate: Rate{1, time.Minute}, Burst: 1, Wait: time.Hour, Clock: c})
	require.NoError(t, l.Take(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Take(ctx) }()
	armed(t, c, 1, "waiter")
	cancel()
	assert.ErrorIs(t, await.Recv(t, done, "cancelled waiter"), context.Canceled)
	assert.Equal(t, 0, c.Pending(), "the waiter's timer is stopped")
}

// TestLimiterNeverExceedsBurstPlusRateInAnyWindow drives random bursts of
// calls at random times and checks every window between two admissions.
func TestLimiterNeverExceedsBurstPlusRateInAnyWindow(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		r := rand.New(rand.NewPCG(seed, 7))
		c := clock.NewFake(t0)
		rate := Rate{int64(1 + r.IntN(200)), []time.Duration{time.Second, time.Minute}[r.IntN(2)]}
		burst := int64(1 + r.IntN(50))
		l := newLimiter(t, LimiterSettings{Rate: rate, Burst: burst, Clock: c})
		var at []time.Duration
		now := time.Duration(0)
		for range 200 {
			for range r.IntN(8) {
				if l.Take(context.Background()) == nil {
					at = append(at, now)
				}
			}
			step := time.Duration(r.Int64N(int64(rate.Per) / rate.N * 3))
			c.Advance(step)
			now += step
		}
		require.NotEmpty(t, at)
		for i := range at {
			for j := i; j < len(at); j++ {
				window := at[j] - at[i]
				allowed := burst + int64(window)/rate.interval()
				if int64(j-i+1) > allowed {
					t.Fatalf("seed %d, rate %s burst %d: %d calls in %s, at most %d allowed", seed, rate, burst, j-i+1, window, allowed)
				}
			}
		}
	}
}

func TestNewLimiterRefusesWhatItCannotKeep(t *testing.T) {
	t.Parallel()
	_, err := NewLimiter(LimiterSettings{})
	assert.ErrorContains(t, err, "no rate")
	_, err = NewLimiter(LimiterSettings{Rate: Rate{1, time.Hour}, Burst: 1 << 40})
	assert.ErrorContains(t, err, "century")
	_, err = NewLimiter(LimiterSettings{Rate: Rate{1, time.Second}, Burst: -1})
	assert.ErrorContains(t, err, "negative")
	_, err = NewLimiter(LimiterSettings{Rate: Rate{1, time.Second}, Fleet: &FleetSettings{}})
	assert.ErrorContains(t, err, "needs a store and a key")
}

func TestLimiterSuccessPathAllocatesNothing(t *testing.T) {
	l := newLimiter(t, LimiterSettings{Rate: Rate{1_000_000_000, time.Second}, Burst: 1 << 20})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(10000, func() {
		if err := l.Take(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestLimiterRefusalMatchesTheSentinelOnly(t *testing.T) {
	t.Parallel()
	err := error(&RateLimitedError{Limit: "1/s", Fleet: true, RetryAfter: time.Second})
	assert.True(t, errors.Is(err, ErrRateLimited))
	assert.False(t, errors.Is(err, ErrThrottled))
	assert.Contains(t, err.Error(), "(fleet)")
}

func BenchmarkLimiterTake(b *testing.B) {
	l, err := NewLimiter(LimiterSettings{Rate: Rate{1_000_000_000, time.Second}, Burst: 1 << 30})
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if !l.Allow() {
			if err := l.Take(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAtomicBaseline is one compare-and-swap on a private counter: the
// floor under every policy's success path on this machine.
func BenchmarkAtomicBaseline(b *testing.B) {
	var v atomic.Int64
	v.Store(1 << 62)
	for b.Loop() {
		f := v.Load()
		v.CompareAndSwap(f, f-1)
	}
}
