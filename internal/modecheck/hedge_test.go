package modecheck

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
)

// Hedged's first attempt waits for its release or its context's end; any
// later attempt (a hedge) answers at once.
func (f *fake) Hedged(ctx context.Context) (string, error) {
	if err := f.next("Hedged"); err != nil {
		return "", err
	}
	f.mu.Lock()
	h := f.hedged
	f.hedged = nil
	f.mu.Unlock()
	if h == nil {
		return "hedge", nil
	}
	close(h.entered)
	select {
	case <-h.release:
		return "first", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

type hedgeAnswer struct {
	r   string
	err error
}

// slowFirstAttempt calls Hedged with its first attempt held and moves the
// runtime's clock past hedge_delay (a hedge, or the dry-run's would-have, is
// decided inside Advance). With release the first attempt then answers;
// without, only a hedge can answer (LIVE).
func (e *env) slowFirstAttempt(t *testing.T, release bool) (string, error) {
	t.Helper()
	h := &hold{entered: make(chan struct{}), release: make(chan struct{})}
	e.inner.mu.Lock()
	e.inner.hedged = h
	e.inner.mu.Unlock()
	done := make(chan hedgeAnswer, 1)
	go func() {
		r, err := e.svc.Hedged(context.Background())
		done <- hedgeAnswer{r, err}
	}()
	await.Signal(t, h.entered, "the first Hedged attempt")
	e.clk.Advance(10 * time.Millisecond)
	if release {
		close(h.release)
	}
	a := await.Recv(t, done, "the Hedged call")
	return a.r, a.err
}

// hedgeRows are the hedging rows of TestPoliciesInEachMode.
func hedgeRows() []struct {
	policy string
	parked bool
	cells  map[string]cell
} {
	return []struct {
		policy string
		parked bool
		cells  map[string]cell
	}{
		{"hedge", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				r, err := e.slowFirstAttempt(t, false)
				require.NoError(t, err)
				assert.Equal(t, "hedge", r, "the hedge answered first")
				assert.Equal(t, 2, e.inner.count("Hedged"))
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				r, err := e.slowFirstAttempt(t, true)
				require.NoError(t, err)
				assert.Equal(t, "first", r)
				assert.Equal(t, 1, e.inner.count("Hedged"), "no hedge")
				assert.Equal(t, []string{"Hedged:hedge:hedge"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				r, err := e.slowFirstAttempt(t, true)
				require.NoError(t, err)
				assert.Equal(t, "first", r)
				assert.Equal(t, 1, e.inner.count("Hedged"), "hedging is not consulted")
			},
		}},
	}
}
