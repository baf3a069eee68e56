package notify

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// receiver is a real HTTP server on loopback standing in for Slack, a
// webhook or Alertmanager: it records every request and answers what
// answer says (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	answer func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 1
}

type recorded struct {
	Path, ContentType string
	Body              []byte
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rv := &receiver{answer: answer}
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		rv.reqs = append(rv.reqs, recorded{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: body})
		n := len(rv.reqs)
		rv.mu.Unlock()
		if rv.answer != nil {
			rv.answer(n, w, r)
		}
	}))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *receiver) requests() []recorded {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]recorded(nil), rv.reqs...)
}

// decode unmarshals the body of request i into v.
func (rv *receiver) decode(t *testing.T, i int, v any) {
	t.Helper()
	reqs := rv.requests()
	if i >= len(reqs) {
		t.Fatalf("request %d: only %d arrived", i, len(reqs))
	}
	if err := json.Unmarshal(reqs[i].Body, v); err != nil {
		t.Fatalf("request %d: %v\n%s", i, err, reqs[i].Body)
	}
}

var epoch = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// rig is a Notifier on a fake clock with a memory store on the same clock,
// logging into a buffer.
type rig struct {
	n     *Notifier
	clk   *clock.Fake
	store *store.Memory
	logs  *logtest.Buffer
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{clk: clock.NewFake(epoch), logs: &logtest.Buffer{}}
	r.store = store.NewMemoryWith(store.MemoryOptions{Clock: r.clk})
	t.Cleanup(func() { _ = r.store.Close() })
	if cfg.Clock == nil {
		cfg.Clock = r.clk
	}
	if cfg.Store == nil {
		cfg.Store = r.store
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = -1
	}
	cfg.Logger = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.n = n
	t.Cleanup(func() { _ = n.Close() })
	return r
}

// waitFor waits until cond holds, re-checking at each counted outcome, or
// fails the test after await.Deadline naming what.
func waitFor(t *testing.T, n *Notifier, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(await.Deadline)
	defer deadline.Stop()
	for {
		changed := n.changes()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s: not within %s; counts %v", what, await.Deadline, nonZero(n.Counts()))
		}
	}
}

// waitCount waits until the counter (outcome, reason) reaches want.
func waitCount(t *testing.T, n *Notifier, outcome, reason string, want uint64) {
	t.Helper()
	waitFor(t, n, outcome+"/"+reason+" reaching "+strconv.FormatUint(want, 10), func() bool { return n.Count(outcome, reason) >= want })
	if got := n.Count(outcome, reason); got != want {
		t.Fatalf("%s/%s = %d, want %d", outcome, reason, got, want)
	}
}

func nonZero(cs []Count) []Count {
	var out []Count
	for _, c := range cs {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// settled is the number of alert outcomes that end an alert's way
// through the guards and channels (everything but retried and escalated).
func settled(n *Notifier) uint64 {
	var s uint64
	for _, c := range n.Counts() {
		if c.Outcome != OutcomeRetried && c.Outcome != OutcomeEscalated {
			s += c.N
		}
	}
	return s
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
