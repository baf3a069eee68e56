package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/store"
)

func TestParkStoresEveryField(t *testing.T) {
	f := newFixture(t, Options{})
	first := t0.Add(-time.Minute)
	id, err := f.q.Park(context.Background(), Capture{
		Domain: "payments", Method: "Charge", Signature: "sig1",
		Args: json.RawMessage(`{"orderID":"o-1","cents":250}`), Err: fmt.Errorf("charge: %w", &net.OpError{Op: "dial", Err: errDeclined}),
		Attempts: 3, FirstFailure: first,
	})
	require.NoError(t, err)
	e := f.state(t, id)
	assert.Equal(t, Entry{
		ID: id, Domain: "payments", Operation: "Charge", Signature: "sig1",
		Args: json.RawMessage(`{"orderID":"o-1","cents":250}`), Error: "charge: dial: card declined",
		FailureType: "*net.OpError", Attempts: 3, FirstFailure: first, LastFailure: t0,
		State: StatePending, Reason: "parked after 3 failed attempt(s)", UpdatedAt: t0,
	}, e)
}

func TestParkFailureTypeComesFromTheLabelThenTheClassifierThenTheType(t *testing.T) {
	f := newFixture(t, Options{Classify: func(err error) string {
		if err == errDeclined {
			return "declined"
		}
		return ""
	}})
	ctx := context.Background()
	park := func(c Capture) string {
		c.Domain, c.Method = "payments", "Charge"
		id, err := f.q.Park(ctx, c)
		require.NoError(t, err)
		return f.state(t, id).FailureType
	}
	assert.Equal(t, "rate_limited", park(Capture{Err: errDeclined, FailureType: "rate_limited"}))
	assert.Equal(t, "declined", park(Capture{Err: errDeclined}))
	assert.Equal(t, "*strconv.NumError", park(Capture{Err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", &strconv.NumError{Func: "Atoi", Err: strconv.ErrSyntax}))}))
	assert.Equal(t, "*errors.errorString", park(Capture{Err: fmt.Errorf("flat %s", "error")}))
}

func TestParkRefusesBadCaptures(t *testing.T) {
	f := newFixture(t, Options{})
	for name, c := range map[string]Capture{
		"no domain":     {Method: "Charge", Err: errDeclined},
		"no operation":  {Domain: "payments", Err: errDeclined},
		"no error":      {Domain: "payments", Method: "Charge"},
		"args not JSON": {Domain: "payments", Method: "Charge", Err: errDeclined, Args: json.RawMessage(`{"orderID":`)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.q.Park(context.Background(), c)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
	s, err := f.q.Stats(context.Background())
	require.NoError(t, err)
	assert.Zero(t, s.Total)
}

func TestParkUnderTheReplayOfTheSameMethodStoresNothing(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.park(t, "payments", "o-1")
	_, r, err := f.q.load(context.Background(), id)
	require.NoError(t, err)
	ctx := withReplay(context.Background(), r)
	got, ok := ReplayOf(ctx)
	require.True(t, ok)
	assert.Equal(t, id, got)

	same, err := f.q.Park(ctx, Capture{Domain: "payments", Method: "Charge", Err: errDeclined})
	require.NoError(t, err)
	assert.Equal(t, id, same)
	other, err := f.q.Park(ctx, Capture{Domain: "ledger", Method: "Post", Err: errDeclined})
	require.NoError(t, err)
	assert.NotEqual(t, id, other, "a nested call to another method is parked as usual")
	assert.Len(t, f.allIDs(t, Filter{}), 2)
}

func TestOverflowAtTheOverallCap(t *testing.T) {
	for _, strategy := range []Strategy{DropOldest, Reject, CompressOldest} {
		t.Run(string(strategy), func(t *testing.T) {
			f := newFixture(t, Options{MaxSize: 5, Overflow: strategy})
			var ids []string
			for i := range 5 {
				// Alternate domains: the overall cap takes the oldest of all.
				ids = append(ids, f.park(t, []string{"payments", "ledger"}[i%2], "o-"+strconv.Itoa(i)))
				f.clk.Advance(time.Millisecond)
			}
			id, err := f.q.Park(context.Background(), Capture{Domain: "ledger", Method: "Charge", Signature: "sig1",
				Args: mustJSON(t, chargeArgs{OrderID: "o-5"}), Err: errDeclined})
			s, serr := f.q.Stats(context.Background())
			require.NoError(t, serr)
			assert.EqualValues(t, 5, s.Total)
			remaining := append(f.allIDs(t, Filter{Domain: "ledger"}), f.allIDs(t, Filter{Domain: "payments"})...)

			switch strategy {
			case Reject:
				require.ErrorIs(t, err, ErrFull)
				assert.Contains(t, err.Error(), "cap is 5")
				assert.Empty(t, id)
				assert.ElementsMatch(t, ids, remaining)
				assert.Zero(t, f.q.Evicted())
				assert.Len(t, f.logs.lines(`"msg":"dlq.entry_rejected"`), 1)
			default:
				require.NoError(t, err)
				assert.ElementsMatch(t, append(ids[1:], id), remaining, "the oldest entry overall is evicted")
				assert.EqualValues(t, 1, f.q.Evicted())
				assert.EqualValues(t, 1, s.Evicted)
				_, err := f.q.Get(context.Background(), ids[0])
				require.ErrorIs(t, err, ErrNotFound)
				assert.Len(t, f.logs.lines(`"msg":"dlq.entry_evicted"`, `"id":"`+ids[0]+`"`, `"reason":"queue at its cap of 5"`), 1)
			}
			aggs, err := f.q.Aggregates(context.Background())
			require.NoError(t, err)
			if strategy == CompressOldest {
				require.Len(t, aggs, 1)
				assert.Equal(t, "payments", aggs[0].Domain)
				assert.EqualValues(t, 1, aggs[0].Count)
				assert.Equal(t, map[string]int64{"Charge": 1}, aggs[0].Operations)
				assert.Equal(t, []string{ids[0]}, aggs[0].SampleIDs)
				assert.Equal(t, "card declined", aggs[0].LastError)
			} else {
				assert.Empty(t, aggs)
			}
		})
	}
}

func TestOverflowAtTheDomainCap(t *testing.T) {
	for _, strategy := range []Strategy{DropOldest, Reject, CompressOldest} {
		t.Run(string(strategy), func(t *testing.T) {
			var evictedFrom []string
			f := newFixture(t, Options{MaxSize: 100, DomainMaxSize: 3, DomainCaps: map[string]int{"ledger": 1},
				Overflow: strategy, OnEvict: func(d string, s Strategy) {
					assert.Equal(t, strategy, s)
					evictedFrom = append(evictedFrom, d)
				}})
			var payments []string
			for i := range 3 {
				payments = append(payments, f.park(t, "payments", "o-"+strconv.Itoa(i)))
			}
			ledger := f.park(t, "ledger", "l-1")
			ctx := context.Background()
			c := Capture{Domain: "payments", Method: "Charge", Signature: "sig1", Args: mustJSON(t, chargeArgs{}), Err: errDeclined}
			id, err := f.q.Park(ctx, c)
			c.Domain = "ledger"
			id2, err2 := f.q.Park(ctx, c)

			if strategy == Reject {
				require.ErrorIs(t, err, ErrFull)
				require.ErrorIs(t, err2, ErrFull)
				assert.Contains(t, err2.Error(), "domain ledger holds 1 entries, its cap is 1")
				assert.Equal(t, payments, f.allIDs(t, Filter{Domain: "payments"}))
				assert.Equal(t, []string{ledger}, f.allIDs(t, Filter{Domain: "ledger"}))
				assert.Empty(t, evictedFrom)
				return
			}
			require.NoError(t, err)
			require.NoError(t, err2)
			assert.Equal(t, append(payments[1:], id), f.allIDs(t, Filter{Domain: "payments"}))
			assert.Equal(t, []string{id2}, f.allIDs(t, Filter{Domain: "ledger"}))
			assert.Equal(t, []string{"payments", "ledger"}, evictedFrom)
			assert.Len(t, f.logs.lines(`"msg":"dlq.entry_evicted"`, `"reason":"domain payments at its cap of 3"`), 1)
			assert.Len(t, f.logs.lines(`"msg":"dlq.entry_evicted"`, `"reason":"domain ledger at its cap of 1"`), 1)
			s, err := f.q.Stats(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 4, s.Total)
			assert.EqualValues(t, 2, s.Evicted)
			if strategy == CompressOldest {
				require.Len(t, s.Domains, 2)
				assert.EqualValues(t, 1, s.Domains[0].Compressed)
				assert.EqualValues(t, 1, s.Domains[1].Compressed)
			}
		})
	}
}

// atomicCounter counts the transactions a queue writes.
type atomicCounter struct {
	store.Store
	n atomic.Int64
}

func (c *atomicCounter) Atomic(ctx context.Context, txn store.Txn) (store.TxnResult, error) {
	c.n.Add(1)
	return c.Store.Atomic(ctx, txn)
}

// TestRejectAtACapWritesNothing: at the overall or a domain cap, Reject
// refuses before it writes (no park rolled back afterwards).
func TestRejectAtACapWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		domains []string // two parks fill the cap, the third is refused
	}{
		{"overall cap", Options{MaxSize: 2, Overflow: Reject}, []string{"payments", "ledger", "orders"}},
		{"domain cap", Options{MaxSize: 100, DomainMaxSize: 2, Overflow: Reject}, []string{"payments", "payments", "payments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			st := &atomicCounter{Store: f.st}
			opts := tc.opts
			opts.Clock, opts.Logger, opts.ReplayRate = f.clk, f.q.log, -1
			q, err := New(st, opts)
			require.NoError(t, err)
			t.Cleanup(func() { q.Close() })
			park := func(domain string) error {
				_, err := q.Park(context.Background(), Capture{Domain: domain, Method: "Charge", Err: errDeclined})
				return err
			}
			require.NoError(t, park(tc.domains[0]))
			require.NoError(t, park(tc.domains[1]))
			writes := st.n.Load()
			require.ErrorIs(t, park(tc.domains[2]), ErrFull)
			assert.Equal(t, writes, st.n.Load(), "a park refused at the cap wrote nothing")
		})
	}
}

func TestRejectMakesRoomAgainAfterAPurge(t *testing.T) {
	f := newFixture(t, Options{MaxSize: 2, Overflow: Reject})
	a := f.park(t, "payments", "a")
	f.park(t, "payments", "b")
	c := Capture{Domain: "payments", Method: "Charge", Err: errDeclined}
	_, err := f.q.Park(context.Background(), c)
	require.ErrorIs(t, err, ErrFull)
	require.NoError(t, f.q.Purge(context.Background(), a))
	_, err = f.q.Park(context.Background(), c)
	require.NoError(t, err)
}

func TestCompressOldestFoldsEvictionsIntoOneAggregatePerDomainAndFailureType(t *testing.T) {
	f := newFixture(t, Options{MaxSize: 2, Overflow: CompressOldest})
	ctx := context.Background()
	var parked []string
	for i := range 6 {
		op := []string{"Charge", "Refund"}[i%2]
		id, err := f.q.Park(ctx, Capture{Domain: "payments", Method: op, Err: fmt.Errorf("fail %d", i), FailureType: "timeout", Attempts: 2})
		require.NoError(t, err)
		parked = append(parked, id)
		f.clk.Advance(time.Second)
	}
	aggs, err := f.q.Aggregates(ctx)
	require.NoError(t, err)
	require.Len(t, aggs, 1)
	a := aggs[0]
	assert.EqualValues(t, 4, a.Count)
	assert.Equal(t, map[string]int64{"Charge": 2, "Refund": 2}, a.Operations)
	assert.EqualValues(t, 8, a.Attempts)
	assert.Equal(t, t0, a.FirstFailure)
	assert.Equal(t, t0.Add(3*time.Second), a.LastFailure)
	assert.Equal(t, "fail 3", a.LastError)
	assert.Equal(t, parked[:4], a.SampleIDs)
	assert.Equal(t, parked[4:], f.allIDs(t, Filter{}))
}

// The cap of the product default, on the memory store.
func TestHundredThousandEntryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("parks 100 010 entries")
	}
	f := newFixture(t, Options{})
	require.Equal(t, DefaultMaxSize, f.q.opts.MaxSize)
	ctx := context.Background()
	var first []string
	for i := range DefaultMaxSize + 10 {
		id, err := f.q.Park(ctx, Capture{Domain: []string{"payments", "ledger", "mail"}[i%3], Method: "Charge",
			Args: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`), Err: errDeclined})
		require.NoError(t, err)
		if i < 10 {
			first = append(first, id)
		}
		if i < 20 || i%1000 == 999 {
			// Across domains, "oldest" is by capture millisecond.
			f.clk.Advance(time.Millisecond)
		}
	}
	s, err := f.q.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, DefaultMaxSize, s.Total)
	assert.EqualValues(t, 10, s.Evicted)
	assert.EqualValues(t, 10, f.q.Evicted())
	for _, id := range first {
		_, err := f.q.Get(ctx, id)
		require.ErrorIs(t, err, ErrNotFound, "the ten oldest are evicted")
	}
	var sum int64
	for _, d := range s.Domains {
		sum += d.Pending
	}
	assert.EqualValues(t, DefaultMaxSize, sum)
}
