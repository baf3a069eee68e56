package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// unavailable is the processor's 503: it exposes the HTTP status, so the
// breaker counts it as a failure and retry tries again.
type unavailable struct{}

func (unavailable) Error() string   { return "processor answered 503 Service Unavailable" }
func (unavailable) StatusCode() int { return 503 }

// processor is a simulated card processor: it fails on a script, or
// constantly while down, and narrates every call it receives.
type processor struct {
	out      io.Writer
	mu       sync.Mutex
	failNext int  // fail this many calls, then succeed
	down     bool // fail every call
	calls    atomic.Int64
	seq      atomic.Int64
}

func (p *processor) fail() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return unavailable{}
	}
	if p.failNext > 0 {
		p.failNext--
		return unavailable{}
	}
	return nil
}

func (p *processor) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *processor) failTimes(n int) {
	p.mu.Lock()
	p.failNext = n
	p.mu.Unlock()
}

func (p *processor) Charge(ctx context.Context, orderID string, cents int64) (Receipt, error) {
	n := p.calls.Add(1)
	if err := p.fail(); err != nil {
		fmt.Fprintf(p.out, "      processor: call %d, charge %s: %v\n", n, orderID, err)
		return Receipt{}, err
	}
	id := fmt.Sprintf("r-%d", p.seq.Add(1))
	fmt.Fprintf(p.out, "      processor: call %d, charge %s: ok (%s)\n", n, orderID, id)
	return Receipt{ID: id, OrderID: orderID, Cents: cents}, nil
}

func (p *processor) Balance(_ context.Context, account string) (int64, error) {
	n := p.calls.Add(1)
	if err := p.fail(); err != nil {
		fmt.Fprintf(p.out, "      processor: call %d, balance %s: %v\n", n, account, err)
		return 0, err
	}
	const balance = 125_00
	balances.Store(account, int64(balance))
	fmt.Fprintf(p.out, "      processor: call %d, balance %s: %d\n", n, account, balance)
	return balance, nil
}

func (p *processor) Ping(context.Context) error { return p.fail() }

// books is a slow ledger.
type books struct {
	delay   time.Duration
	entries atomic.Int64
}

var errBooksClosed = errors.New("books closed")

func (b *books) Record(ctx context.Context, _ Entry) error {
	select {
	case <-time.After(b.delay):
		b.entries.Add(1)
		return nil
	case <-ctx.Done():
		return errBooksClosed
	}
}
