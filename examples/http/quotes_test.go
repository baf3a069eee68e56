package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore is a memory store closed after the runtime (cleanups run last-in first-out).
func memStore(t *testing.T) *store.Memory {
	mem := store.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	return mem
}

// newClient serves a feed and returns the protected client over it, with a
// breaker that opens on the third failure.
func newClient(t *testing.T) (QuoteClient, *feed, *runtime.Runtime) {
	t.Helper()
	f, srv := newFeed()
	t.Cleanup(srv.Close)
	rt, err := runtime.New(t.Context(), runtime.Config{
		Store:   memStore(t),
		Breaker: runtime.BreakerConfig{FailureThreshold: 3},
		Logger:  slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	return NewProtectedQuoteClient(&HTTPQuotes{BaseURL: srv.URL, Client: srv.Client()}, rt), f, rt
}

func breakerState(t *testing.T, rt *runtime.Runtime) breaker.State {
	t.Helper()
	b, ok := rt.Breaker("quotes")
	require.True(t, ok)
	return b.State()
}

func TestRetryWaitsForTheRetryAfterHint(t *testing.T) {
	quotes, f, _ := newClient(t)
	f.set(false, http.StatusTooManyRequests)
	q, err := quotes.GetQuote(t.Context(), "BLDR")
	require.NoError(t, err)
	assert.Equal(t, Quote{Symbol: "BLDR", Cents: 4_200}, q)
	hits := f.requests()
	require.Len(t, hits, 2)
	// The backoff alone would wait at most 50ms; the hint says one second.
	assert.GreaterOrEqual(t, hits[1].Sub(hits[0]), time.Second)
}

func TestRetriesA503(t *testing.T) {
	quotes, f, _ := newClient(t)
	f.set(false, http.StatusServiceUnavailable)
	_, err := quotes.GetQuote(t.Context(), "BLDR")
	require.NoError(t, err)
	assert.Len(t, f.requests(), 2)
}

func TestNotFoundIsNotRetriedNorCounted(t *testing.T) {
	quotes, f, rt := newClient(t)
	for range 5 {
		_, err := quotes.GetQuote(t.Context(), "NOPE")
		var se *StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, http.StatusNotFound, se.StatusCode())
	}
	assert.Len(t, f.requests(), 5, "one request per call: a 404 is an answer")
	assert.Equal(t, breaker.Closed, breakerState(t, rt))
}

func TestRepeated503OpensTheBreaker(t *testing.T) {
	quotes, f, rt := newClient(t)
	f.set(true)
	_, err := quotes.GetQuote(t.Context(), "BLDR")
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.Code)
	assert.Len(t, f.requests(), 3, "retry=3: three attempts")
	assert.Equal(t, breaker.Open, breakerState(t, rt))

	_, err = quotes.GetQuote(t.Context(), "BLDR")
	require.ErrorIs(t, err, runtime.ErrOpen)
	assert.Len(t, f.requests(), 3, "the open breaker rejects without a request")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"2":                             2 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Fri, 01 May 2026 12:00:30 GMT": 30 * time.Second,
		"Fri, 01 May 2026 11:00:00 GMT": 0,
	} {
		assert.Equal(t, want, parseRetryAfter(in, now), in)
	}
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	assert.Equal(t, `429 then 503 then 200: BLDR at 4200 cents (requests: 3)
unknown symbol: 404 (requests: 1)
outage: 503 (requests: 3)
outage, again: rejected by the open breaker (requests: 0)
`, out.String())
}
