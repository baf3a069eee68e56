package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// charger is a replay target that records the orders it charged and fails
// while fail returns an error.
type charger struct {
	mu      sync.Mutex
	charged []string
	fail    func(order string) error
}

func (c *charger) replayer(ctx context.Context, args []byte) error {
	var a chargeArgs
	if err := json.Unmarshal(args, &a); err != nil {
		return Undecodable(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(a.OrderID); err != nil {
			return err
		}
	}
	c.charged = append(c.charged, a.OrderID)
	return nil
}

func (c *charger) orders() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.charged...)
}

func TestReplayResolvesAndKeepsTheEntryForTheRetention(t *testing.T) {
	f := newFixture(t, Options{Retention: time.Hour})
	var c charger
	f.q.Register("payments", "Charge", "sig1", c.replayer)
	id := f.park(t, "payments", "o-1")
	ctx := context.Background()

	e, err := f.q.Replay(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, StateResolved, e.State)
	assert.Equal(t, "replay 1 succeeded", e.Reason)
	assert.Equal(t, 1, e.ReplayCount)
	assert.Equal(t, []string{"o-1"}, c.orders())
	assert.Equal(t, e, f.state(t, id))

	s, err := f.q.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, s.Total)
	assert.Equal(t, []GroupStats{{Domain: "payments", FailureType: "*errors.errorString", Resolved: 1}}, s.Groups)
	assert.Empty(t, f.allIDs(t, Filter{}), "resolved entries leave the default listing")
	assert.Equal(t, []string{id}, f.allIDs(t, Filter{State: StateResolved}))

	_, err = f.q.Replay(ctx, id)
	require.ErrorIs(t, err, ErrState)

	f.clk.Advance(time.Hour)
	_, err = f.q.Get(ctx, id)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Empty(t, f.allIDs(t, Filter{State: StateResolved}))
}

func TestReplayBudgetLeadsToNeedsReviewUntilRedriven(t *testing.T) {
	f := newFixture(t, Options{ReplayBudget: 3})
	down := true
	c := charger{fail: func(string) error {
		if down {
			return errors.New("processor unavailable")
		}
		return nil
	}}
	f.q.Register("payments", "Charge", "sig1", c.replayer)
	id := f.park(t, "payments", "o-1")
	ctx := context.Background()

	for i := 1; i <= 3; i++ {
		rep, err := f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments"})
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Replayed, "each batch replays each pending entry once")
		e := f.state(t, id)
		assert.Equal(t, i, e.ReplayCount)
		assert.Equal(t, "processor unavailable", e.LastError)
		if i < 3 {
			assert.Equal(t, StatePending, e.State)
			assert.Equal(t, fmt.Sprintf("replay %d of 3 failed: processor unavailable", i), e.Reason)
			assert.Equal(t, map[Outcome]int{OutcomeFailed: 1}, rep.Outcomes)
		} else {
			assert.Equal(t, StateNeedsReview, e.State)
			assert.Equal(t, "replay budget of 3 spent; last error: processor unavailable", e.Reason)
			assert.Equal(t, map[Outcome]int{OutcomeNeedsReview: 1}, rep.Outcomes)
		}
	}
	rep, err := f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments"})
	require.NoError(t, err)
	assert.Zero(t, rep.Replayed, "needs_review entries stay put")
	_, err = f.q.Replay(ctx, id)
	require.ErrorIs(t, err, ErrState)
	assert.Equal(t, []string{id}, f.allIDs(t, Filter{State: StateNeedsReview}))
	assert.Len(t, f.logs.lines(`"msg":"dlq.entry_needs_review"`, id), 1)

	down = false
	e, err := f.q.Redrive(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, StatePending, e.State)
	assert.Zero(t, e.ReplayCount, "a redrive grants a fresh budget")
	assert.Contains(t, e.Reason, "redriven by an operator")
	_, err = f.q.Redrive(ctx, id)
	require.ErrorIs(t, err, ErrState)
	assert.Empty(t, f.allIDs(t, Filter{State: StateNeedsReview}))

	e, err = f.q.Replay(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, StateResolved, e.State)
	assert.Equal(t, []string{"o-1"}, c.orders())
}

func TestEntriesThatCannotBeReplayedAsTheyAreNeedReview(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		register func(q *Queue)
		args     string
		reason   string
		replays  int
	}{
		"no replayer": {
			register: func(q *Queue) { q.Register("payments", "Refund", "sig1", (&charger{}).replayer) },
			reason:   "no replayer registered for payments.Charge (method removed, renamed or no longer dlq)",
		},
		"signature changed": {
			register: func(q *Queue) { q.Register("payments", "Charge", "sig2", (&charger{}).replayer) },
			reason:   `signature of payments.Charge changed since capture (entry "sig1", method now "sig2"): arguments may not fit`,
		},
		"undecodable payload": {
			register: func(q *Queue) { q.Register("payments", "Charge", "sig1", (&charger{}).replayer) },
			args:     `{"orderID":"o-1","cents":"one hundred"}`,
			reason:   "stored arguments do not decode: undecodable payload: json: cannot unmarshal",
			replays:  1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, Options{})
			tc.register(f.q)
			args := json.RawMessage(tc.args)
			if tc.args == "" {
				args = mustJSON(t, chargeArgs{OrderID: "o-1"})
			}
			id, err := f.q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Signature: "sig1", Args: args, Err: errDeclined})
			require.NoError(t, err)
			e, err := f.q.Replay(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, StateNeedsReview, e.State)
			assert.Contains(t, e.Reason, tc.reason)
			assert.Equal(t, tc.replays, e.ReplayCount, "no budget is spent on what cannot run")
			assert.Equal(t, e, f.state(t, id))
		})
	}
}

func TestAPanickingReplayerIsAFailedReplay(t *testing.T) {
	f := newFixture(t, Options{})
	f.q.Register("payments", "Charge", "sig1", func(context.Context, []byte) error { panic("boom") })
	id := f.park(t, "payments", "o-1")
	e, err := f.q.Replay(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, StatePending, e.State)
	assert.Equal(t, "replay 1 of 5 failed: replayer of payments.Charge panicked: boom", e.Reason)
}

// order is the kind of argument record the generator writes for
// Place(ctx, o *Order, tags []string, limits map[string]int, at time.Time).
type order struct {
	ID    string
	Lines []line
	Ship  *address
	Meta  map[string][]int
	Due   time.Time
	Note  *string
}
type line struct {
	SKU string
	Qty int
}
type address struct{ Street, City string }
type placeArgs struct {
	O      *order         `json:"o"`
	Tags   []string       `json:"tags"`
	Limits map[string]int `json:"limits"`
	At     time.Time      `json:"at"`
}

func TestTypedArgumentsRoundTrip(t *testing.T) {
	f := newFixture(t, Options{})
	note := "leave at the door"
	want := placeArgs{
		O: &order{ID: "o-9", Lines: []line{{"sku-1", 2}, {"sku-2", 1}}, Ship: &address{"1 Main St", "Oslo"},
			Meta: map[string][]int{"a": {1, 2}, "b": nil}, Due: time.Date(2025, 7, 1, 9, 30, 0, 123456789, time.FixedZone("CEST", 7200)),
			Note: &note},
		Tags:   []string{"gift", "express"},
		Limits: map[string]int{"retries": 3},
		At:     t0,
	}
	var got placeArgs
	f.q.Register("shop", "Place", "sig-place", func(_ context.Context, args []byte) error {
		if err := json.Unmarshal(args, &got); err != nil {
			return Undecodable(err)
		}
		return nil
	})
	id, err := f.q.Park(context.Background(), Capture{Domain: "shop", Method: "Place", Signature: "sig-place",
		Args: mustJSON(t, want), Err: errDeclined})
	require.NoError(t, err)
	e, err := f.q.Replay(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, StateResolved, e.State)
	assert.True(t, want.O.Due.Equal(got.O.Due))
	got.O.Due = want.O.Due
	assert.Equal(t, want, got)
}

func TestAnExpiredLeaseReturnsTheEntryToPending(t *testing.T) {
	f := newFixture(t, Options{Lease: time.Minute, ReplayBudget: 2})
	ctx := context.Background()
	// Runner a claims the entry and hangs (as if its process froze or died).
	a, err := New(f.st, Options{Clock: f.clk, Lease: time.Minute, ReplayBudget: 2, Owner: "runner-a", Logger: f.q.log})
	require.NoError(t, err)
	defer a.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	a.Register("payments", "Charge", "sig1", func(context.Context, []byte) error {
		close(entered)
		await.Hold(release)
		return nil
	})
	id := f.park(t, "payments", "o-1")
	type result struct {
		e   Entry
		err error
	}
	done := make(chan result)
	go func() {
		e, err := a.Replay(ctx, id)
		done <- result{e, err}
	}()
	await.Signal(t, entered, "the first replay entering its replayer")
	e := f.state(t, id)
	assert.Equal(t, StateReplaying, e.State)
	assert.Equal(t, "runner-a", e.Owner)
	assert.Equal(t, t0.Add(time.Minute), e.LeaseUntil)
	assert.Equal(t, []string{id}, f.allIDs(t, Filter{State: StateReplaying}))

	n, err := f.q.Reap(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a live lease is left alone")
	_, err = f.q.Replay(ctx, id)
	require.ErrorIs(t, err, ErrBusy)

	f.clk.Advance(time.Minute)
	n, err = f.q.Reap(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	e = f.state(t, id)
	assert.Equal(t, StatePending, e.State)
	assert.Equal(t, "lease of runner-a expired at 2025-06-01T12:01:00Z during replay 1; back to pending", e.Reason)
	assert.Equal(t, 1, e.ReplayCount, "the lost replay counts against the budget")
	assert.Empty(t, f.allIDs(t, Filter{State: StateReplaying}))
	assert.Len(t, f.logs.lines(`"msg":"dlq.lease_expired"`, id), 1)

	// The hung runner wakes up: its outcome is dropped, not written over
	// whatever happened meanwhile.
	var c charger
	f.q.Register("payments", "Charge", "sig1", c.replayer)
	e, err = f.q.Replay(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, StateResolved, e.State)
	close(release)
	r := await.Recv(t, done, "the first replay, released")
	require.ErrorIs(t, r.err, ErrBusy)
	assert.Contains(t, r.err.Error(), "outcome dropped")
	assert.Equal(t, StateResolved, f.state(t, id).State)
}

func TestAnExpiredLeaseOnTheLastReplayNeedsReview(t *testing.T) {
	f := newFixture(t, Options{Lease: time.Minute, ReplayBudget: 1})
	ctx := context.Background()
	id := f.park(t, "payments", "o-1")
	raw, r, err := f.q.load(ctx, id)
	require.NoError(t, err)
	claimed := r.next(StateReplaying, "claimed by a runner that then died", t0)
	claimed.Replays, claimed.Lease, claimed.Owner = 1, t0.Add(time.Minute).UnixNano(), "dead-runner"
	ok, _, _, err := f.q.move(ctx, r, raw, claimed)
	require.NoError(t, err)
	require.True(t, ok)

	f.clk.Advance(2 * time.Minute)
	n, err := f.q.Reap(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	e := f.state(t, id)
	assert.Equal(t, StateNeedsReview, e.State)
	assert.Contains(t, e.Reason, "replay budget of 1 spent")
}

func TestBreakerClosedSweepsThatDomain(t *testing.T) {
	reports := make(chan BatchReport, 4)
	f := newFixture(t, Options{OnBatch: func(r BatchReport) { reports <- r }})
	var pay, ledger charger
	f.q.Register("payments", "Charge", "sig1", pay.replayer)
	f.q.Register("ledger", "Charge", "sig1", ledger.replayer)
	for i := range 5 {
		f.park(t, "payments", "p-"+strconv.Itoa(i))
		f.park(t, "ledger", "l-"+strconv.Itoa(i))
	}
	require.NoError(t, f.q.Start())
	f.q.BreakerClosed("payments")
	rep := await.Recv(t, reports, "the automatic replay's report")
	assert.Equal(t, "payments", rep.Domain)
	assert.True(t, rep.Automatic)
	assert.Equal(t, 5, rep.Replayed)
	assert.Equal(t, map[Outcome]int{OutcomeResolved: 5}, rep.Outcomes)
	assert.ElementsMatch(t, []string{"p-0", "p-1", "p-2", "p-3", "p-4"}, pay.orders())
	assert.Empty(t, ledger.orders(), "other domains wait for their own breaker")
	assert.Empty(t, f.allIDs(t, Filter{Domain: "payments"}))
	assert.Len(t, f.allIDs(t, Filter{Domain: "ledger"}), 5)
}

func TestASweepWaitsWhileAnotherRunnerHoldsTheDomain(t *testing.T) {
	reports := make(chan BatchReport, 4)
	f := newFixture(t, Options{SweepInterval: 10 * time.Second, RunnerLease: time.Minute,
		OnBatch: func(r BatchReport) { reports <- r }})
	var c charger
	f.q.Register("payments", "Charge", "sig1", c.replayer)
	f.park(t, "payments", "p-1")
	ctx := context.Background()
	ok, err := f.st.SetNX(ctx, f.q.k.lease("payments"), []byte("other-runner#1"), time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	_, err = f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments"})
	require.ErrorIs(t, err, ErrBusy)
	assert.Contains(t, err.Error(), "held by other-runner#1")
	await.Signal(t, reports, "the automatic replay's report")

	require.NoError(t, f.q.Start())
	f.q.BreakerClosed("payments")
	rep := await.Recv(t, reports, "the next automatic replay's report")
	assert.Equal(t, []string{"payments"}, rep.Busy)
	assert.Zero(t, rep.Replayed)

	_, err = f.st.Delete(ctx, f.q.k.lease("payments")) // the other runner finishes
	require.NoError(t, err)
	f.clk.Advance(10 * time.Second) // the next tick retries the sweep
	rep = await.Recv(t, reports, "the next automatic replay's report")
	assert.Empty(t, rep.Busy)
	assert.Equal(t, 1, rep.Replayed)
	assert.Equal(t, []string{"p-1"}, c.orders())
}

func TestPostponedReplaysKeepTheirBudgetAndStopTheBatch(t *testing.T) {
	errOpen := errors.New("circuit breaker is open")
	f := newFixture(t, Options{ReplayConcurrency: 1, Postpone: func(err error) bool { return errors.Is(err, errOpen) }})
	c := charger{fail: func(string) error { return fmt.Errorf("payments.Charge: %w", errOpen) }}
	f.q.Register("payments", "Charge", "sig1", c.replayer)
	first := f.park(t, "payments", "o-1")
	f.park(t, "payments", "o-2")
	f.park(t, "payments", "o-3")
	rep, err := f.q.ReplayBatch(context.Background(), BatchFilter{Domain: "payments"})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Replayed)
	assert.Equal(t, map[Outcome]int{OutcomePostponed: 1}, rep.Outcomes)
	assert.Equal(t, "payments: a replay was postponed", rep.Stopped)
	e := f.state(t, first)
	assert.Equal(t, StatePending, e.State)
	assert.Zero(t, e.ReplayCount)
	assert.Equal(t, "replay postponed: payments.Charge: circuit breaker is open", e.Reason)
}

func TestBatchFiltersByFailureTypeOperationAndLimit(t *testing.T) {
	f := newFixture(t, Options{ReplayConcurrency: 1})
	ctx := context.Background()
	var c charger
	f.q.Register("payments", "Charge", "", c.replayer)
	f.q.Register("payments", "Refund", "", c.replayer)
	for i := range 6 {
		_, err := f.q.Park(ctx, Capture{Domain: "payments", Method: []string{"Charge", "Refund"}[i%2],
			FailureType: []string{"timeout", "declined", "timeout"}[i%3],
			Args:        mustJSON(t, chargeArgs{OrderID: strconv.Itoa(i)}), Err: errDeclined})
		require.NoError(t, err)
	}
	rep, err := f.q.ReplayBatch(ctx, BatchFilter{FailureType: "timeout", Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Replayed)
	assert.Equal(t, []string{"0", "2", "3"}, c.orders())
	rep, err = f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments", Operation: "Refund"})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Replayed)
	assert.Equal(t, []string{"0", "2", "3", "1", "5"}, c.orders())
	assert.Len(t, f.allIDs(t, Filter{}), 1)
}

func TestTheRunnerLeaseIsRenewedAndLostLeasesStopTheBatch(t *testing.T) {
	f := newFixture(t, Options{RunnerLease: 30 * time.Second, ReplayConcurrency: 1})
	ctx := context.Background()
	steal := false
	c := charger{fail: func(order string) error {
		f.clk.Advance(11 * time.Second) // each replay takes a third of the lease
		if steal {
			return f.st.Set(ctx, f.q.k.lease("payments"), []byte("thief"), time.Minute)
		}
		return nil
	}}
	f.q.Register("payments", "Charge", "sig1", c.replayer)
	for i := range 6 {
		f.park(t, "payments", strconv.Itoa(i))
	}
	rep, err := f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments", Limit: 4})
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Replayed, "44s of replays under a 30s lease: renewed on the way")
	_, err = f.st.Get(ctx, f.q.k.lease("payments"))
	require.ErrorIs(t, err, store.ErrNotFound, "released at the end")

	steal = true
	rep, err = f.q.ReplayBatch(ctx, BatchFilter{Domain: "payments"})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Replayed)
	assert.Contains(t, rep.Stopped, "lost")
	holder, err := f.st.Get(ctx, f.q.k.lease("payments"))
	require.NoError(t, err)
	assert.Equal(t, "thief", string(holder), "a lost lease is not released")
}

func TestPacerSpacesReservationsWithoutBursting(t *testing.T) {
	var p pacer
	p.setRate(10)
	assert.Zero(t, p.reserve(t0))
	assert.Equal(t, 100*time.Millisecond, p.reserve(t0))
	assert.Equal(t, 150*time.Millisecond, p.reserve(t0.Add(50*time.Millisecond)))
	assert.Zero(t, p.reserve(t0.Add(10*time.Second)), "idle time is not saved up")
	assert.Equal(t, 100*time.Millisecond, p.reserve(t0.Add(10*time.Second)))
	p.setRate(-1)
	assert.Zero(t, p.reserve(t0))
	assert.Zero(t, p.reserve(t0))
}

// armingClock tells the test each time a timer is armed.
type armingClock struct {
	*clock.Fake
	armed chan time.Duration
}

func (c armingClock) AfterFunc(d time.Duration, fn func()) clock.Timer {
	t := c.Fake.AfterFunc(d, fn)
	c.armed <- d
	return t
}

func TestARatedBatchWaitsOnTheClock(t *testing.T) {
	clk := armingClock{Fake: clock.NewFake(t0), armed: make(chan time.Duration, 1)}
	f := newFixture(t, Options{Clock: clk, ReplayRate: 2, ReplayConcurrency: 1})
	replayed := make(chan string, 3)
	f.q.Register("payments", "Charge", "sig1", func(_ context.Context, args []byte) error {
		var a chargeArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return err
		}
		replayed <- a.OrderID
		return nil
	})
	for i := range 3 {
		f.park(t, "payments", "o-"+strconv.Itoa(i))
	}
	done := make(chan BatchReport)
	go func() {
		rep, err := f.q.ReplayBatch(context.Background(), BatchFilter{Domain: "payments"})
		assert.NoError(t, err)
		done <- rep
	}()
	assert.Equal(t, "o-0", await.Recv(t, replayed, "the first paced replay"))
	assert.Equal(t, 500*time.Millisecond, await.Recv(t, clk.armed, "the pacing timer"), "the second replay waits half a second")
	assert.Empty(t, replayed)
	clk.Advance(500 * time.Millisecond)
	assert.Equal(t, "o-1", await.Recv(t, replayed, "the second paced replay"))
	assert.Equal(t, 500*time.Millisecond, await.Recv(t, clk.armed, "the pacing timer"))
	clk.Advance(500 * time.Millisecond)
	assert.Equal(t, "o-2", await.Recv(t, replayed, "the third paced replay"))
	assert.Equal(t, 3, await.Recv(t, done, "the paced batch").Replayed)
}

func TestAReplayTheCallerAbandonsKeepsItsBudget(t *testing.T) {
	f := newFixture(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	f.q.Register("payments", "Charge", "sig1", func(ctx context.Context, _ []byte) error {
		cancel()
		<-ctx.Done()
		return fmt.Errorf("charge: %w", ctx.Err())
	})
	id := f.park(t, "payments", "o-1")
	e, err := f.q.Replay(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, StatePending, e.State)
	assert.Zero(t, e.ReplayCount)
	assert.Equal(t, "replay interrupted: charge: context canceled", e.Reason)
}

func TestAReplayPastItsLeaseIsAFailedReplay(t *testing.T) {
	f := newFixture(t, Options{Lease: time.Millisecond})
	f.q.Register("payments", "Charge", "sig1", func(ctx context.Context, _ []byte) error {
		<-ctx.Done() // the lease's deadline, on the real clock
		return ctx.Err()
	})
	id := f.park(t, "payments", "o-1")
	e, err := f.q.Replay(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, StatePending, e.State)
	assert.Equal(t, 1, e.ReplayCount)
	assert.Equal(t, "replay 1 of 5 failed: context deadline exceeded", e.Reason)
}
