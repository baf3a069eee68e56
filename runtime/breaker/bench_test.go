package breaker_test

import (
	"testing"

	"github.com/baldur-go/baldur/runtime/breaker"
)

// The benchmarks use the real clock: the fast paths must not read it, and Failure pays for it.
// They loop over b.N rather than b.Loop on purpose: the compiler does not inline calls inside a
// b.Loop body, and the generated wrappers do inline Allow and Success, so b.N measures what runs.

func BenchmarkClosedSuccess(b *testing.B) {
	br := breaker.New(breaker.Settings{})
	defer br.Close()
	b.ReportAllocs()
	for range b.N {
		tk, ok := br.Allow()
		if ok {
			br.Success(tk)
		}
	}
}

func BenchmarkClosedSuccessParallel(b *testing.B) {
	br := breaker.New(breaker.Settings{})
	defer br.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, ok := br.Allow()
			if ok {
				br.Success(tk)
			}
		}
	})
}

// BenchmarkClosedSuccessCountingCalls pays the atomic add that MinimumCalls > FailureThreshold costs.
func BenchmarkClosedSuccessCountingCalls(b *testing.B) {
	br := breaker.New(breaker.Settings{MinimumCalls: 20})
	defer br.Close()
	b.ReportAllocs()
	for range b.N {
		tk, ok := br.Allow()
		if ok {
			br.Success(tk)
		}
	}
}

func BenchmarkClosedSuccessCountingCallsParallel(b *testing.B) {
	br := breaker.New(breaker.Settings{MinimumCalls: 20})
	defer br.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, ok := br.Allow()
			if ok {
				br.Success(tk)
			}
		}
	})
}

func openBreaker(b *testing.B) *breaker.Breaker {
	br := breaker.New(breaker.Settings{FailureThreshold: 1})
	tk, _ := br.Allow()
	br.Failure(tk)
	if br.State() != breaker.Open {
		b.Fatalf("state %s, want OPEN", br.State())
	}
	return br
}

func BenchmarkOpenReject(b *testing.B) {
	br := openBreaker(b)
	defer br.Close()
	b.ReportAllocs()
	for range b.N {
		if _, ok := br.Allow(); ok {
			b.Fatal("admitted while OPEN")
		}
	}
}

func BenchmarkOpenRejectParallel(b *testing.B) {
	br := openBreaker(b)
	defer br.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := br.Allow(); ok {
				panic("admitted while OPEN")
			}
		}
	})
}

// BenchmarkFailure is the slow path: mutex, clock read, bucket update (the threshold is never met).
func BenchmarkFailure(b *testing.B) {
	br := breaker.New(breaker.Settings{FailureThreshold: 1 << 30})
	defer br.Close()
	b.ReportAllocs()
	for range b.N {
		tk, _ := br.Allow()
		br.Failure(tk)
	}
}
