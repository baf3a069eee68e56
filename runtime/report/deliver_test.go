package report_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/report"
)

// slackBodies is a real HTTP server on loopback standing in for a Slack
// incoming webhook: each body it receives is sent on got.
func slackBodies(t *testing.T) (url string, got <-chan []byte, count func() int) {
	t.Helper()
	ch := make(chan []byte, 16)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		n++
		mu.Unlock()
		ch <- b
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestTheDailyReportIsDeliveredOncePerFleet: two processes share a store
// and a clock; each stores its report at midnight and, at 08:00, both try
// to deliver: one claims the day and the Slack webhook receives the fleet's
// merged report once, with its Automated Actions.
func TestTheDailyReportIsDeliveredOncePerFleet(t *testing.T) {
	url, got, count := slackBodies(t)
	a := newEnv(t, report.Options{})
	notifiers := make([]*notify.Notifier, 2)
	for i := range notifiers {
		n, err := notify.New(notify.Config{SlackWebhookURL: url, Store: a.st, Clock: a.clk, Logger: quiet})
		require.NoError(t, err)
		notifiers[i] = n
	}
	ga := report.New(a.rt, report.Options{Notifier: notifiers[0], Clock: a.clk, Location: time.UTC, Logger: quiet, Node: "node-a"})
	b := newEnvWith(t, a.st, a.clk, "node-b", report.Options{Notifier: notifiers[1]})
	ctx := context.Background()
	for i := range 10 {
		_, err := a.p.Hot(ctx, i)
		require.NoError(t, err)
	}
	b.inner.setDown(true)
	for range 2 {
		_, _ = b.p.Price(ctx, "ACME") // five failures open b's breaker; both calls get the fallback
	}
	ga.Start()
	b.gen.Start()
	t.Cleanup(func() {
		ga.Stop()
		b.gen.Stop()
		for _, n := range notifiers {
			_ = n.Close()
		}
	})
	a.clk.Advance(time.Hour + time.Minute) // past midnight: both store their final report
	// Each stores it from its own goroutine: wait for both, so that the
	// delivery below merges two processes however slow the machine is.
	for _, node := range []string{"node-a", "node-b"} {
		require.Eventually(t, func() bool {
			_, err := a.st.Get(ctx, report.NodeKey("2026-11-23", node))
			return err == nil
		}, 10*time.Second, 5*time.Millisecond, "the final report of %s stored after midnight", node)
	}
	require.Zero(t, count(), "nothing is delivered at midnight")
	a.clk.Set(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC))

	body := await.Recv(t, got, "the daily report reaching Slack")
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Text struct{ Text string } `json:"text"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(body, &msg))
	assert.Contains(t, msg.Text, "HIGH: Daily report 2026-11-23: CRITICAL")
	section := msg.Blocks[1].Text.Text
	assert.Contains(t, section, "merged from 2 processes: node-a, node-b")
	assert.Contains(t, section, "Automated Actions")
	assert.Contains(t, section, "2 fallback answer(s) served")
	assert.Contains(t, section, "breakers opened 1, closed 0")

	for _, n := range notifiers {
		require.NoError(t, n.Close()) // lets anything queued go out
	}
	assert.Equal(t, 1, count(), "one process of the fleet delivered")
	delivered, err := a.st.Get(ctx, report.DeliveredKey("2026-11-23"))
	require.NoError(t, err)
	assert.Contains(t, []string{"node-a", "node-b"}, string(delivered))
}

// TestADayWithoutReportGivesItsClaimBack: nothing stored, nothing sent, and
// the claim is released for a process that has the report.
func TestADayWithoutReportGivesItsClaimBack(t *testing.T) {
	e := newEnv(t, report.Options{})
	n, err := notify.New(notify.Config{Store: e.st, Clock: e.clk, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	g := report.New(e.rt, report.Options{Notifier: n, Clock: e.clk, Location: time.UTC, Logger: quiet, Node: "x"})
	ok, err := g.Deliver(context.Background(), "2026-11-20")
	require.ErrorIs(t, err, report.ErrNoReport)
	assert.False(t, ok)
	_, err = e.st.Get(context.Background(), report.DeliveredKey("2026-11-20"))
	require.Error(t, err, "the claim was given back")
}

func TestActionsAddUpAcrossTheFleet(t *testing.T) {
	day := func(node string, replayed uint64) report.Report {
		return report.Build(report.Input{Date: "2026-11-23", Node: node, KillSwitch: true, DLQReplayed: replayed, DLQResolved: replayed - 1,
			Breakers: []report.BreakerDay{{Service: "s", State: "CLOSED", Opened: 2, Closed: 2, Transitions: 6}}})
	}
	m := report.Merge(day("a", 3), day("b", 5))
	assert.Equal(t, report.Actions{BreakersOpened: 2, BreakersClosed: 2, DLQReplayed: 8, DLQResolved: 6}, m.Actions,
		"replays add up (each runs in one process); a shared breaker's transitions are counted once")
	assert.Contains(t, report.Text(m), "automated actions: 0 call(s) saved by a retry · 0 fallback answer(s) · breakers opened 2, closed 2 · dead letters replayed 8, resolved 6")
}
