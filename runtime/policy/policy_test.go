package policy

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/logtest"
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

// TestALostDocumentIsNotHeldAgainstANewOne: when the store loses the
// document (Redis restarted empty), a manager that saw a later version
// adopts the loss and the next document written, whatever its version.
func TestALostDocumentIsNotHeldAgainstANewOne(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	defer st.Close()
	ctx := context.Background()
	r := &recorder{}
	m, err := New(ctx, Options{Store: st, Target: r, PollInterval: -1})
	require.NoError(t, err)
	defer m.Close()
	for range 3 {
		_, err := m.Update(ctx, func(d *Doc) error { d.PutOverride(Override{Scope: "a", Values: "retry=2"}); return nil })
		require.NoError(t, err)
	}
	require.Equal(t, uint64(3), m.Doc().Version)
	_, err = st.Delete(ctx, DocKey)
	require.NoError(t, err)
	require.NoError(t, m.Refresh(ctx))
	assert.Empty(t, m.Doc().Overrides, "the loss is adopted: the directives stand")
	other, err := New(ctx, Options{Store: st, Target: &recorder{}, PollInterval: -1})
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Update(ctx, func(d *Doc) error { d.PutOverride(Override{Scope: "b", Values: "retry=4"}); return nil })
	require.NoError(t, err)
	require.NoError(t, m.Refresh(ctx))
	require.Len(t, m.Doc().Overrides, 1, "version 1 of a new epoch is adopted over version 3 of the old one")
	assert.Equal(t, Scope("b"), m.Doc().Overrides[0].Scope)
}

// TestRestartReplacesTheWatchingLoop: the watchdog's remedy. The run it
// replaces ends, a fresh one hears the change feed again (no polling here,
// so only the feed can bring the change), and Close ends it.
func TestRestartReplacesTheWatchingLoop(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	defer st.Close()
	ctx := context.Background()
	logs := &logtest.Buffer{}
	m, err := New(ctx, Options{Store: st, Target: &recorder{}, PollInterval: -1, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	defer m.Close()

	m.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.Records("watchdog.loop_run_replaced")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no fresh run within 5s of Restart")
		}
		time.Sleep(5 * time.Millisecond)
	}
	other, err := New(ctx, Options{Store: st, Target: &recorder{}, PollInterval: -1})
	require.NoError(t, err)
	defer other.Close()
	// The fresh run subscribes on its own goroutine: write until it hears one.
	for i := 0; len(m.Doc().Overrides) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the fresh run did not hear the change feed within 5s")
		}
		_, err = other.Update(ctx, func(d *Doc) error { d.PutOverride(Override{Scope: "a", Values: "retry=2"}); return nil })
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, m.Close())
	m.Restart() // after Close: nothing starts (goleak, in TestMain, checks that no goroutine is left)
}
