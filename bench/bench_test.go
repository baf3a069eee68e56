package bench

import (
	"context"
	"errors"
	"log/slog"
	"net"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sink int

func newRuntime(b *testing.B) *runtime.Runtime {
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close() })
	return rt
}

// serial and parallel run the same body once per iteration, on one goroutine or
// on GOMAXPROCS of them. Besides wall time they report CPU time per op
// (cpu-ns/op: the benchmark's thread for serial, the whole process for
// parallel), which a machine shared with other work inflates far less: a
// parallel row whose cpu-ns/op grows from -cpu 1 to 2 is paying for
// contention between cores.
func serial(b *testing.B, call func(ctx context.Context, n int) (int, error)) {
	ctx := context.Background()
	b.ReportAllocs()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	c0 := cpuTime(clockThread)
	for i := 0; b.Loop(); i++ {
		n, err := call(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		sink = n
	}
	reportCPU(b, c0, cpuTime(clockThread))
}

func reportCPU(b *testing.B, c0, c1 int64) {
	if c0 > 0 && b.N > 0 {
		b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
	}
}

func parallel(b *testing.B, call func(ctx context.Context, n int) (int, error)) {
	ctx := context.Background()
	b.ReportAllocs()
	c0 := cpuTime(clockProcess)
	defer func() { reportCPU(b, c0, cpuTime(clockProcess)) }()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := call(ctx, i); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func modes(b *testing.B, call func(ctx context.Context, n int) (int, error)) {
	b.Run("serial", func(b *testing.B) { serial(b, call) })
	b.Run("parallel", func(b *testing.B) { parallel(b, call) })
}

func BenchmarkDirect(b *testing.B) {
	var a Adder = adder{}
	modes(b, a.Breaker)
}

func BenchmarkBaldurBreaker(b *testing.B) {
	p := NewProtectedAdder(adder{}, newRuntime(b))
	modes(b, p.Breaker)
}

func BenchmarkBaldurBreakerRetry(b *testing.B) {
	p := NewProtectedAdder(adder{}, newRuntime(b))
	modes(b, p.Retry)
}

func BenchmarkBaldurBreakerRetryBulkhead(b *testing.B) {
	p := NewProtectedAdder(adder{}, newRuntime(b))
	modes(b, p.Bulkhead)
}

func BenchmarkBaldurBreakerRetryTimeout(b *testing.B) {
	p := NewProtectedAdder(adder{}, newRuntime(b))
	modes(b, p.Timeout)
}

// BenchmarkBaldurOpenReject measures a call the open breaker refuses.
func BenchmarkBaldurOpenReject(b *testing.B) {
	rt := newRuntime(b)
	p := NewProtectedAdder(adder{}, rt)
	br, _ := rt.Breaker("adder")
	br.ForceOpen("benchmark")
	if _, err := p.Retry(context.Background(), 0); !errors.Is(err, runtime.ErrOpen) {
		b.Fatalf("want ErrOpen, got %v", err)
	}
	errWanted := errors.New("want a rejection")
	modes(b, func(ctx context.Context, n int) (int, error) {
		if _, err := p.Retry(ctx, n); err == nil {
			return 0, errWanted
		}
		return 0, nil
	})
}

// BenchmarkGobreaker is sony/gobreaker v2 doing the breaker's job, used the way
// its README shows (Execute with a closure).
func BenchmarkGobreaker(b *testing.B) {
	var a Adder = adder{}
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "adder"})
	modes(b, func(ctx context.Context, n int) (int, error) {
		return cb.Execute(func() (int, error) { return a.Breaker(ctx, n) })
	})
}

// BenchmarkFailsafeRetryBreaker is failsafe-go doing breaker + retry.
func BenchmarkFailsafeRetryBreaker(b *testing.B) {
	var a Adder = adder{}
	rp := retrypolicy.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).Build()
	cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).WithDelay(time.Minute).Build()
	ex := failsafe.With[int](rp, cb)
	modes(b, func(ctx context.Context, n int) (int, error) {
		return ex.Get(func() (int, error) { return a.Retry(ctx, n) })
	})
}

// BenchmarkBaldurBreakerRetryCallStats is breaker + retry with per-call
// counting on (Config.CallStats, what FromEnv gives and metrics read).
func BenchmarkBaldurBreakerRetryCallStats(b *testing.B) {
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir(), CallStats: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close() })
	modes(b, NewProtectedAdder(adder{}, rt).Retry)
}

// BenchmarkBaldurBreakerRetryRedis is breaker + retry with the shared state in
// Redis (127.0.0.1:6379): the hot path must cost the same as without it.
func BenchmarkBaldurBreakerRetryRedis(b *testing.B) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		b.Skipf("no redis on 127.0.0.1:6379: %v", err)
	}
	_ = c.Close()
	rt, err := runtime.New(context.Background(), runtime.Config{
		Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir(),
		RedisURL: "redis://127.0.0.1:6379", RedisPrefix: "baldurbench:",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close() })
	modes(b, NewProtectedAdder(adder{}, rt).Retry)
}

// doneAdder is an inner method that asks its context for Done, as anything
// waiting on I/O does: the timeout must then make its channel.
type doneAdder struct{ adder }

var doneSink <-chan struct{}

func (doneAdder) Timeout(ctx context.Context, n int) (int, error) {
	doneSink = ctx.Done()
	return n + 1, nil
}

// BenchmarkBaldurBreakerRetryTimeoutDone is breaker + retry + timeout with an
// inner method that calls ctx.Done().
func BenchmarkBaldurBreakerRetryTimeoutDone(b *testing.B) {
	p := NewProtectedAdder(doneAdder{}, newRuntime(b))
	modes(b, p.Timeout)
}

// BenchmarkStdWithTimeout is a direct call under context.WithTimeout, cancel
// included: what a hand-written timeout costs.
func BenchmarkStdWithTimeout(b *testing.B) {
	var a Adder = adder{}
	modes(b, func(ctx context.Context, n int) (int, error) {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return a.Timeout(c, n)
	})
}

// BenchmarkBaldurBreakerRetryStdTimeout is breaker + retry under a
// context.WithTimeout per call: the cost of the previous generated shape.
func BenchmarkBaldurBreakerRetryStdTimeout(b *testing.B) {
	p := NewProtectedAdder(adder{}, newRuntime(b))
	modes(b, func(ctx context.Context, n int) (int, error) {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return p.Retry(c, n)
	})
}

// BenchmarkFailsafeRetryBreakerTimeout is failsafe-go doing breaker + retry +
// timeout (its Timeout policy).
func BenchmarkFailsafeRetryBreakerTimeout(b *testing.B) {
	var a Adder = adder{}
	rp := retrypolicy.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).Build()
	cb := circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).WithDelay(time.Minute).Build()
	ex := failsafe.With[int](rp, cb, timeout.New[int](time.Second))
	modes(b, func(ctx context.Context, n int) (int, error) {
		return ex.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return a.Timeout(e.Context(), n) })
	})
}

func callStatsRuntime(b testing.TB, st store.Store) *runtime.Runtime {
	rt, err := runtime.New(context.Background(), runtime.Config{
		Logger: slog.New(slog.DiscardHandler), StateDir: b.TempDir(), CallStats: true, Store: st,
		IdempotencyMemoryTTL: time.Millisecond, // completed keys expire while the keys cycle (see everything)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Close() })
	return rt
}

// BenchmarkBaldurBulkheadCallStats is breaker + retry + bulkhead with per-call counting.
func BenchmarkBaldurBulkheadCallStats(b *testing.B) {
	modes(b, NewProtectedAdder(adder{}, callStatsRuntime(b, nil)).Bulkhead)
}

// BenchmarkBaldurEverything has breaker, retry, timeout, bulkhead, per-call
// counting and idempotency with the memory store on at once. Each call claims
// a fresh key (a shared counter; keys cycle over 2^20 values, and a completed
// key expires after 1ms, long before its turn comes again).
func BenchmarkBaldurEverything(b *testing.B) {
	modes(b, everythingCall(b))
}

func everythingCall(b testing.TB) func(ctx context.Context, n int) (int, error) {
	e := NewProtectedEverything(everything{}, callStatsRuntime(b, store.NewMemory()))
	var next atomic.Int64
	return func(ctx context.Context, n int) (int, error) {
		return e.Do(ctx, next.Add(1)&(1<<20-1), n)
	}
}

// The rows that promise no allocation per call.
func TestRowsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	rt := func() *runtime.Runtime {
		rt, err := runtime.New(context.Background(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Close() })
		return rt
	}
	plain, counted := NewProtectedAdder(adder{}, rt()), NewProtectedAdder(adder{}, callStatsRuntime(t, nil))
	ctx := context.Background()
	for name, call := range map[string]func(context.Context, int) (int, error){
		"breaker":                    plain.Breaker,
		"breaker + retry":            plain.Retry,
		"breaker + retry + timeout":  plain.Timeout,
		"breaker + retry + bulkhead": plain.Bulkhead,
		"breaker + retry, counting":  counted.Retry,
		"bulkhead, counting":         counted.Bulkhead,
		"timeout, counting":          counted.Timeout,
	} {
		allocs := testing.AllocsPerRun(2000, func() {
			if _, err := call(ctx, 1); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, allocs)
		}
	}
}
