package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// strictly decodes a real answer of the server into a contract type with
// unknown fields refused: a field the server sends and the contract (so the
// CLI) does not know fails here.
func strictly[T any](t *testing.T, r resp) T {
	t.Helper()
	require.Equal(t, http.StatusOK, r.code, r.raw)
	dec := json.NewDecoder(bytes.NewReader([]byte(r.raw)))
	dec.DisallowUnknownFields()
	var ans T
	require.NoError(t, dec.Decode(&ans), "%s", r.raw)
	return ans
}

// The dead-letter, would-have and report answers the server sends decode
// into the contract's types, field for field.
func TestContractAnswerTypesCoverTheServers(t *testing.T) {
	t.Parallel()
	f := newDLQFixture(t, fixtureOpts{unlocked: true})
	f.replayer("payments", "Charge", errors.New("still down"))
	id := f.park(t, "payments", "Charge", "timeout", "o-1")
	f.park(t, "payments", "Charge", "timeout", "o-2")
	gone := f.park(t, "ledger", "Post", "timeout", "o-3")

	list := strictly[adminapi.DLQListing](t, f.do(t, req{path: "/api/baldur/dlq/?limit=1", key: viewerKey}))
	require.Len(t, list.Entries, 1)
	assert.NotEmpty(t, list.Next)
	assert.Equal(t, "unresolved", list.Filter.State)

	one := strictly[adminapi.DLQEntryAnswer](t, f.do(t, req{path: "/api/baldur/dlq/" + id + "/", key: viewerKey}))
	assert.Equal(t, "pending", one.Entry.State)
	assert.Equal(t, 3, one.Entry.Attempts)
	assert.JSONEq(t, `{"order":"o-1","cents":1999}`, string(one.Entry.Args))

	stats := strictly[adminapi.DLQStatsAnswer](t, f.do(t, req{path: "/api/baldur/dlq/stats/", key: viewerKey}))
	assert.EqualValues(t, 3, stats.Stats.Total)
	assert.NotEmpty(t, stats.Stats.Groups)

	act := strictly[adminapi.DLQActionAnswer](t, f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + id + "/replay/", key: operatorKey}))
	assert.Equal(t, "replay", act.Action)
	assert.Equal(t, "still down", act.Entry.LastError)

	batch := strictly[adminapi.DLQBatchAnswer](t, f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/replay/", key: operatorKey,
		body: `{"domain":"payments"}`}))
	assert.Equal(t, "replay_batch", batch.Action)
	assert.Positive(t, batch.Report.Replayed)
	assert.NotEmpty(t, batch.Report.Outcomes)

	purged := strictly[adminapi.DLQPurgeAnswer](t, f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/" + gone + "/purge/", key: adminKey,
		body: `{"confirm":"CONFIRM"}`}))
	require.NotNil(t, purged.Entry)
	assert.Equal(t, "ledger", purged.Entry.Domain)

	many := strictly[adminapi.DLQPurgeBatchAnswer](t, f.do(t, req{method: http.MethodPost, path: "/api/baldur/dlq/purge/", key: adminKey,
		body: `{"domain":"payments","confirm":"CONFIRM"}`}))
	assert.Equal(t, "purge_batch", many.Action)
	assert.Len(t, many.IDs, many.Purged)

	_, err := f.rt.Control().StartDryRun(context.Background(), "alice", "rehearsal")
	require.NoError(t, err)
	b, _ := f.rt.Breaker("ledger")
	b.ForceOpen("test")
	for _, spec := range f.rt.Zones() {
		if spec.Method == "Post" {
			z := f.rt.Zone(spec)
			p, err := z.Enter(context.Background())
			require.NoError(t, err)
			z.Done(context.Background(), p, nil, 1)
		}
	}
	wh := strictly[adminapi.WouldHaveAnswer](t, f.do(t, req{path: "/api/baldur/control/would-have/", key: viewerKey}))
	assert.True(t, wh.DryRun)
	require.NotEmpty(t, wh.Entries)
	assert.Equal(t, "reject", wh.Entries[0].Decision)

	rep := strictly[adminapi.ReportAnswer](t, f.do(t, req{path: "/api/baldur/report/?date=today&days=2", key: viewerKey}))
	require.Len(t, rep.Days, 2)
	assert.Equal(t, rep.Today, rep.Days[0].Date)
	require.NotNil(t, rep.Days[0].Report)
	assert.Equal(t, rep.Today, rep.Days[0].Report.Date)
	assert.NotEmpty(t, rep.Days[0].Report.Summary)
	assert.NotEmpty(t, rep.Days[1].Missing)

	// The summary's dead-letter and kill switch parts are typed too (every
	// entry above was purged: one parked now is the queue).
	f.park(t, "ledger", "Post", "timeout", "o-4")
	sum := strictly[adminapi.Summary](t, f.do(t, req{path: "/api/baldur/dashboard/summary/?nocache=true", key: viewerKey}))
	assert.True(t, sum.DLQ.Available, "%+v", sum.DLQ)
	assert.Equal(t, adminapi.SummaryDLQ{Available: true, Pending: 1}, sum.DLQ)
	require.NotNil(t, sum.Control)
	assert.Equal(t, "ENABLED", sum.Control.KillSwitch)
}
