package shape

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// BudgetFleetSettings shares a RetryBudget with every process on one store
// (retry_budget_scope=fleet): the ratio and the floor are the fleet's, not
// each process's.
//
// No call and no retry waits for the store. Every Sync each process writes
// its own trailing-window counts (first attempts and retries) into one
// shared record (a compare-and-set of a small JSON object, two round trips)
// and reads the others'; from the fleet's totals it takes its share of the
// retries the fleet may still make (in proportion to its first attempts)
// and spends it locally until the next sync. So the fleet retries at most
// Ratio × its first attempts + the floor over the window, plus what the
// shares computed from counts up to one Sync old let through.
//
// While the store cannot be reached, or before the first sync, the process
// keeps the budget alone (the per-process budget); LeaseErrors counts the
// failed syncs.
type BudgetFleetSettings struct {
	Store store.Store
	// Key is the shared record's key, the same in every process.
	Key string
	// Node names this process in the record; unique in the fleet.
	Node string
	// Sync is how often the process writes its counts and takes its share;
	// 0 means one second.
	Sync time.Duration
	// Timeout bounds one sync; 0 means 500ms.
	Timeout time.Duration
}

type budgetFleet struct {
	b       *RetryBudget
	st      store.Store
	key     string
	node    string
	every   time.Duration
	timeout time.Duration

	share     int64 // b.w.mu held: retries this process may still make until the next sync
	liveUntil int64 // b.w.mu held: ns since the window's epoch; the share is void after it
	retries   int64 // b.w.mu held: the fleet's retries over the window at the last sync
	allowed   float64

	mu     sync.Mutex
	timer  clock.Timer
	closed bool
	syncs  sync.WaitGroup

	syncsOK, errs atomic.Uint64
	fleetSeen     atomic.Int64 // processes in the record at the last sync
}

// fleetEntry is one process's counts in the shared record: when written
// (Unix ns), first attempts and retries over its trailing window.
type fleetEntry [3]int64

func newBudgetFleet(b *RetryBudget, s BudgetFleetSettings) (*budgetFleet, error) {
	if s.Store == nil || s.Key == "" || s.Node == "" {
		return nil, fmt.Errorf("retry budget %s: fleet scope needs a store, a key and a node name", b.spec)
	}
	f := &budgetFleet{b: b, st: s.Store, key: s.Key, node: s.Node, every: s.Sync, timeout: s.Timeout}
	if f.every <= 0 {
		f.every = time.Second
	}
	if f.timeout <= 0 {
		f.timeout = 500 * time.Millisecond
	}
	return f, nil
}

// start arms the first sync at once (on the budget's clock).
func (f *budgetFleet) start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(0)
}

// arm (f.mu held) runs one sync after d, then the next.
func (f *budgetFleet) arm(d time.Duration) {
	if f.closed {
		return
	}
	f.syncs.Add(1)
	f.timer = f.b.w.clock.AfterFunc(d, func() {
		defer f.syncs.Done()
		f.mu.Lock()
		closed := f.closed
		f.mu.Unlock()
		if closed {
			return
		}
		f.sync()
		f.mu.Lock()
		f.arm(f.every)
		f.mu.Unlock()
	})
}

// take spends one retry of the share (b.w.mu held). ok false: the share is
// void (no sync yet, or the store failed); decide locally.
func (f *budgetFleet) take(now int64) (granted, ok bool) {
	if now >= f.liveUntil {
		return false, false
	}
	if f.share <= 0 {
		return false, true
	}
	f.share--
	return true, true
}

// sync writes this process's counts, reads the fleet's and takes the share.
func (f *budgetFleet) sync() {
	b := f.b
	c := b.w.sum()
	first, retries := max(0, c.calls-c.a), c.a
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	var all map[string]fleetEntry
	err := f.update(ctx, func(doc map[string]fleetEntry, wall int64) {
		for n, e := range doc {
			if e[0] < wall-int64(b.window()) { // its window is over: nothing of it counts
				delete(doc, n)
			}
		}
		doc[f.node] = fleetEntry{wall, first, retries}
		all = doc
	})
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	now := b.w.now()
	if err != nil {
		f.errs.Add(1)
		f.liveUntil = 0 // alone until a sync succeeds
		return
	}
	f.syncsOK.Add(1)
	var fleetFirst, fleetRetries int64
	for _, e := range all {
		fleetFirst += e[1]
		fleetRetries += e[2]
	}
	f.fleetSeen.Store(int64(len(all)))
	// Retries spent since the counts were taken are this process's: out of its share.
	spent := max(0, b.w.sumLocked().a-retries) // less when the window moved on meanwhile
	ratio, reserve := b.limits()
	f.retries, f.allowed = fleetRetries, ratio*float64(fleetFirst)+reserve
	left := f.allowed - float64(fleetRetries)
	weight := float64(first+1) / float64(fleetFirst+int64(len(all)))
	f.share = max(0, int64(math.Floor(left*weight))-spent)
	f.liveUntil = now + 3*int64(f.every)
}

var errBudgetContended = errors.New("fleet retry budget: too many concurrent updates")

// update applies change to the shared record with compare-and-set, retrying
// when another process wrote first. A record that does not parse (written
// by something else) is replaced.
func (f *budgetFleet) update(ctx context.Context, change func(doc map[string]fleetEntry, wall int64)) error {
	for range 16 {
		old, err := f.st.Get(ctx, f.key)
		doc := map[string]fleetEntry{}
		switch {
		case errors.Is(err, store.ErrNotFound):
			old = nil
		case err != nil:
			return err
		default:
			if json.Unmarshal(old, &doc) != nil {
				doc = map[string]fleetEntry{}
			}
		}
		change(doc, f.b.w.clock.Now().UnixNano())
		val, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		ttl := f.b.window() + f.every // gone once no process wrote for a window
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
	return errBudgetContended
}

// close stops the syncs and waits for one in flight.
func (f *budgetFleet) close() {
	f.mu.Lock()
	f.closed = true
	if f.timer != nil && f.timer.Stop() {
		f.syncs.Done() // the armed sync will not run
	}
	f.mu.Unlock()
	f.syncs.Wait()
}
