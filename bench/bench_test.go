package bench

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/sony/gobreaker/v2"

	"github.com/baldur-go/baldur/runtime"
)

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
// on GOMAXPROCS of them.
func serial(b *testing.B, call func(ctx context.Context, n int) (int, error)) {
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n, err := call(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		sink = n
	}
}

func parallel(b *testing.B, call func(ctx context.Context, n int) (int, error)) {
	ctx := context.Background()
	b.ReportAllocs()
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
