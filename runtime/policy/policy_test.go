package policy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/store"
)

func TestParseScope(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in           string
		svc, method  string
		rank         int
		wantErrMatch string
	}{
		{in: "*", rank: 0},
		{in: "payments", svc: "payments", rank: 1},
		{in: "payments.Charge", svc: "payments", method: "Charge", rank: 2},
		{in: "eu.payments.Charge", svc: "eu.payments", method: "Charge", rank: 2},
		{in: "eu.payments", svc: "eu.payments", rank: 1},
		{in: "", wantErrMatch: "empty scope"},
		{in: "Payments", wantErrMatch: `"Payments" is not a service name`},
		{in: "pay ments.Charge", wantErrMatch: "is not a service name"},
	} {
		s, err := ParseScope(c.in)
		if c.wantErrMatch != "" {
			assert.ErrorContains(t, err, c.wantErrMatch, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		svc, m := s.Split()
		assert.Equal(t, [2]string{c.svc, c.method}, [2]string{svc, m}, c.in)
		assert.Equal(t, c.rank, s.Rank(), c.in)
	}
	assert.True(t, Scope("payments").Matches("payments", "Charge"))
	assert.False(t, Scope("payments.Refund").Matches("payments", "Charge"))
	assert.True(t, All.Matches("x", "Y"))
}

type recorder struct {
	mu   sync.Mutex
	docs []Doc
}

func (r *recorder) Apply(d Doc) { r.mu.Lock(); r.docs = append(r.docs, d); r.mu.Unlock() }
func (r *recorder) last() Doc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.docs[len(r.docs)-1]
}

// TestConcurrentUpdatesAllLand: processes updating the document at once
// lose no change (compare-and-set), and every manager converges.
func TestConcurrentUpdatesAllLand(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	defer st.Close()
	ctx := context.Background()
	var ms []*Manager
	var rs []*recorder
	for range 3 {
		r := &recorder{}
		m, err := New(ctx, Options{Store: st, Target: r, PollInterval: 50 * time.Millisecond})
		require.NoError(t, err)
		defer m.Close()
		ms, rs = append(ms, m), append(rs, r)
	}
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			for j := range 10 {
				_, err := m.Update(ctx, func(d *Doc) error {
					d.PutOverride(Override{Scope: Scope("svc" + string(rune('a'+i))), Values: "retry=" + string(rune('1'+j))})
					return nil
				})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, r := range rs {
		for r.last().Version != 30 {
			if time.Now().After(deadline) {
				t.Fatalf("a manager did not converge on version 30 within 5s: has %d", r.last().Version)
			}
			time.Sleep(10 * time.Millisecond)
		}
		assert.Len(t, r.last().Overrides, 3)
	}
}
