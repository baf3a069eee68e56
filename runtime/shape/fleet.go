package shape

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// FleetSettings shares a Limiter's bucket with every process on one store
// (rate_scope=fleet).
//
// The bucket is a GCRA state in one store key: the theoretical arrival time
// of the next token, in Unix nanoseconds, changed by compare-and-set. A
// process takes a batch of tokens at once (a lease: two round trips per
// batch, none per call) into its local pool and gives back what it has not
// spent after Idle or on Close. A lease waits for at least half a batch to be
// in the bucket, so that a fleet keeping the bucket near empty still moves
// tokens in batches (a process may be refused while fewer than half a batch
// are there). So
// the fleet admits at most
// Burst + Rate·T + (Batch − 1)·processes calls in any interval T.
//
// Time is each process's wall clock: a process whose clock is behind gets no
// refill until the shared state's time; one ahead by s takes up to s·Rate
// early, once. While the store cannot be reached, each process limits on
// its own at the full rate (a local bucket) and tries the store again after
// a second; LeaseErrors counts those failures.
type FleetSettings struct {
	Store store.Store
	// Key is the bucket's key, the same in every process.
	Key string
	// Batch is how many tokens a process leases at once; 0 means a tenth of
	// a second's worth at the rate, between 1 and the burst.
	Batch int64
	// Idle gives back the pool's tokens when no lease was needed for this
	// long; 0 means one second.
	Idle time.Duration
	// Timeout bounds one lease or return; 0 means 500ms.
	Timeout time.Duration
}

type fleet struct {
	l       *Limiter
	st      store.Store
	key     string
	batch   int64
	idle    time.Duration
	timeout time.Duration

	mu      sync.Mutex
	leased  chan struct{} // non-nil while a lease is in flight; closed when it ends
	gen     uint64        // leases so far, for the idle timer
	timer   clock.Timer   // gives the pool back when idle
	closed  bool
	returns sync.WaitGroup // idle returns in flight

	emptyUntil atomic.Int64 // ns since epoch: the shared bucket is empty until then
	recheckAt  atomic.Int64 // ns since epoch: ask the store again (tokens may come back before emptyUntil)
	downUntil  atomic.Int64 // ns since epoch: the store failed; limit locally until then

	leases, returned, errs atomic.Uint64
}

const (
	// fleetRetryDown is how long a process limits alone after the store failed.
	fleetRetryDown = time.Second
	// fleetRecheck bounds how long a process that found the shared bucket
	// empty waits before asking again (tokens given back come sooner than the
	// refill): at most ten round trips a second per process while limited.
	fleetRecheck = 100 * time.Millisecond
)

func newFleet(l *Limiter, s FleetSettings) (*fleet, error) {
	if s.Store == nil || s.Key == "" {
		return nil, fmt.Errorf("rate limiter %s: fleet scope needs a store and a key", l.limit)
	}
	f := &fleet{l: l, st: s.Store, key: s.Key, batch: s.Batch, idle: s.Idle, timeout: s.Timeout}
	if f.batch <= 0 {
		f.batch = max(1, int64(100*time.Millisecond)/l.interval)
	}
	f.batch = min(f.batch, l.burst)
	if f.idle <= 0 {
		f.idle = time.Second
	}
	if f.timeout <= 0 {
		f.timeout = 500 * time.Millisecond
	}
	return f, nil
}

func (f *fleet) down(now int64) bool { return now < f.downUntil.Load() }

// fleetTake fills the pool from the shared bucket. One caller leases; the
// others wait for its lease, then take from the pool.
func (l *Limiter) fleetTake(ctx context.Context) error {
	f := l.fleet
	deadline := int64(inf)
	if l.wait > 0 {
		deadline = l.now() + int64(l.wait)
	} else {
		deadline = l.now()
	}
	for {
		if take(&l.pool) {
			return nil
		}
		now := l.now()
		if f.down(now) {
			return l.localTake(ctx)
		}
		if ra := f.recheckAt.Load(); now < ra {
			eu := f.emptyUntil.Load()
			if eu > deadline {
				return l.refuse(time.Duration(eu-now), true)
			}
			if err := l.sleep(ctx, time.Duration(ra-now)); err != nil {
				return err
			}
			continue
		}
		f.mu.Lock()
		if ch := f.leased; ch != nil { // a lease is in flight: wait for it
			f.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if take(&l.pool) { // filled between our look and the lock
			f.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		f.leased = ch
		f.mu.Unlock()

		n, retry, err := f.lease(now)
		f.mu.Lock()
		f.leased = nil
		if n > 0 {
			l.pool.Add(n)
			f.gen++
			f.armIdle()
		}
		f.mu.Unlock()
		close(ch)
		switch {
		case err != nil:
			f.errs.Add(1)
			f.downUntil.Store(now + int64(fleetRetryDown))
		case n == 0:
			f.emptyUntil.Store(now + int64(retry))
			f.recheckAt.Store(now + int64(min(retry, fleetRecheck)))
		}
	}
}

// armIdle (f.mu held) gives the pool back if no lease follows within idle.
func (f *fleet) armIdle() {
	if f.closed {
		return
	}
	if f.timer != nil {
		f.timer.Stop()
	}
	gen := f.gen
	f.timer = f.l.clock.AfterFunc(f.idle, func() {
		f.mu.Lock()
		if f.closed || f.gen != gen {
			f.mu.Unlock()
			return
		}
		f.returns.Add(1)
		f.mu.Unlock()
		defer f.returns.Done()
		f.giveBack()
	})
}

// giveBack returns the pool's tokens to the shared bucket.
func (f *fleet) giveBack() error {
	m := f.l.pool.Swap(0)
	if m <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	err := f.update(ctx, func(tat, now int64) (int64, bool) {
		if tat <= now { // the bucket is full: nothing to give back to
			return 0, false
		}
		return tat - m*f.l.interval, true
	})
	if err != nil {
		f.errs.Add(1)
		return err
	}
	f.returned.Add(uint64(m))
	return nil
}

func (f *fleet) close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
	f.returns.Wait()
	return f.giveBack()
}

// lease takes up to batch tokens from the shared bucket, or says when one
// will be there.
func (f *fleet) lease(now int64) (n int64, retry time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	l := f.l
	err = f.update(ctx, func(tat, wall int64) (int64, bool) {
		// At least half a batch: a fleet that keeps the bucket near empty
		// would otherwise lease one token per round trip as each comes back.
		// From HIGH a token costs two: every process at the fleet's level
		// takes half as many from the shared bucket.
		cost := l.cost()
		t := max(tat, wall)
		least := (f.batch + 1) / 2
		avail := (wall + l.burst*l.interval - t) / cost
		if avail < least {
			n, retry = 0, time.Duration(t+least*cost-l.burst*l.interval-wall)
			return 0, false
		}
		n = min(f.batch, avail)
		return t + n*cost, true
	})
	if err != nil {
		return 0, 0, err
	}
	if n > 0 {
		f.leases.Add(1)
	}
	return n, retry, nil
}

var errContended = errors.New("fleet rate bucket: too many concurrent updates")

// update applies change to the shared bucket's state (its theoretical
// arrival time, 0 when absent) with compare-and-set, retrying when another
// process wrote first. change returns the new state, or false to write
// nothing.
func (f *fleet) update(ctx context.Context, change func(tat, wall int64) (int64, bool)) error {
	for range 16 {
		old, err := f.st.Get(ctx, f.key)
		var tat int64
		switch {
		case errors.Is(err, store.ErrNotFound):
			old = nil
		case err != nil:
			return err
		default:
			// A value that is not a number (written by something else) is
			// read as a full bucket and replaced by the compare-and-set.
			tat, _ = strconv.ParseInt(string(old), 10, 64)
		}
		wall := f.l.clock.Now().UnixNano()
		next, write := change(tat, wall)
		if !write {
			return nil
		}
		// The key may expire once the bucket is full again: absent means full.
		ttl := time.Duration(next-wall) + time.Second
		ttl = max(ttl, time.Second)
		val := []byte(strconv.FormatInt(next, 10))
		var ok bool
		if old == nil {
			ok, err = f.st.SetNX(ctx, f.key, val, ttl)
		} else {
			ok, err = f.st.CompareAndSet(ctx, f.key, old, val, ttl)
		}
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return errContended
}
