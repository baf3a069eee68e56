package report_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/report"
)

func TestRecentListsTheStoredReportsNewestFirst(t *testing.T) {
	e := newEnv(t, report.Options{})
	ctx := context.Background()
	for i, date := range []string{"2026-11-01", "2026-11-20", "2026-11-21", "2026-10-30"} {
		r := report.Build(report.Input{Date: date, Node: "old-node", KillSwitch: true, Calls: []runtime.CallStats{{Service: "a", Successes: uint64(i + 1)}}})
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.NoError(t, e.st.Set(ctx, report.NodeKey(date, "old-node"), b, 0))
	}
	require.NoError(t, e.st.Set(ctx, "report:garbage", []byte("x"), 0))

	days, err := e.gen.Recent(ctx, 3)
	require.NoError(t, err)
	var dates []string
	for _, d := range days {
		dates = append(dates, d.Date)
		assert.NotNil(t, d.Report, d.Date)
	}
	assert.Equal(t, []string{"2026-11-23", "2026-11-21", "2026-11-20"}, dates, "today first, then the stored days, skipping days without one")
	assert.Equal(t, "2026-11-21: All quiet — 3 processed, 0 alerts.", days[1].Text)

	days, err = e.gen.Recent(ctx, report.MaxDays)
	require.NoError(t, err)
	assert.Len(t, days, 5)
	assert.Equal(t, "2026-10-30", days[4].Date)

	_, err = e.gen.Recent(ctx, 0)
	require.ErrorIs(t, err, report.ErrBadDate)
}
