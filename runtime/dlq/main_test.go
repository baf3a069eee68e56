package dlq

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// childEnv tells a re-executed test binary which child to play.
const childEnv = "BALDUR_DLQ_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		goleak.VerifyTestMain(m)
	case "redis-replayer":
		os.Exit(redisReplayerChild())
	case "embedded-batch":
		os.Exit(embeddedBatchChild())
	default:
		os.Exit(3)
	}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// logSink records log output so tests can check events and their reasons.
type logSink struct{ logtest.Buffer }

// lines returns the logged JSON lines that contain every fragment.
func (s *logSink) lines(fragments ...string) []string { return s.Lines(fragments...) }

type fixture struct {
	st   *store.Memory
	clk  *clock.Fake
	q    *Queue
	logs *logSink
}

// newFixture returns a queue on a memory store, both on one fake clock, with
// no replay rate cap (the pacer would wait on the fake clock).
func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{clk: clock.NewFake(t0), logs: &logSink{}}
	f.st = store.NewMemoryWith(store.MemoryOptions{Clock: f.clk})
	if opts.Clock == nil {
		opts.Clock = f.clk
	}
	if opts.ReplayRate == 0 {
		opts.ReplayRate = -1
	}
	if opts.Owner == "" {
		opts.Owner = "test-runner"
	}
	opts.Logger = slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q, err := New(f.st, opts)
	require.NoError(t, err)
	f.q = q
	t.Cleanup(func() {
		require.NoError(t, q.Close())
		require.NoError(t, f.st.Close())
	})
	return f
}

type chargeArgs struct {
	OrderID string `json:"orderID"`
	Cents   int64  `json:"cents"`
}

var errDeclined = errors.New("card declined")

// park parks a Charge failure for order in domain and returns its id.
func (f *fixture) park(t *testing.T, domain, order string) string {
	t.Helper()
	id, err := f.q.Park(context.Background(), Capture{
		Domain: domain, Method: "Charge", Signature: "sig1",
		Args: mustJSON(t, chargeArgs{OrderID: order, Cents: 100}), Err: errDeclined, Attempts: 3,
	})
	require.NoError(t, err)
	return id
}

func (f *fixture) state(t *testing.T, id string) Entry {
	t.Helper()
	e, err := f.q.Get(context.Background(), id)
	require.NoError(t, err)
	return e
}

// allIDs lists the ids of the entries that match filter, every page.
func (f *fixture) allIDs(t *testing.T, filter Filter) []string {
	t.Helper()
	var ids []string
	p := Page{Limit: 7}
	for {
		l, err := f.q.List(context.Background(), filter, p)
		require.NoError(t, err)
		for _, e := range l.Entries {
			ids = append(ids, e.ID)
		}
		if l.Next == "" {
			return ids
		}
		p.Cursor = l.Next
	}
}
