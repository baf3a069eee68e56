package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

func TestSparklineScalesToTheLargestValue(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "▁▅█", sparkline([]uint64{0, 5, 10}, 60))
	assert.Equal(t, "▁▁", sparkline([]uint64{0, 0}, 60), "all zero is flat, not a division by zero")
	assert.Equal(t, "█▁", sparkline([]uint64{9, 9, 1, 7, 0}, 2), "the newest values win")
	assert.Empty(t, sparkline(nil, 60))
}

func TestTopPrintsRateErrorsAndSparkline(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	printTop(&b, adminapi.SeriesList{Scope: adminapi.SeriesScopeProcess, Services: []adminapi.SeriesSummary{
		{Service: "payments", State: "OPEN", Calls: []uint64{60, 120}, Last: &adminapi.SeriesPoint{
			Start: time.Now(), StepSeconds: 60, Calls: 120, Failures: 30, Rejections: 7}},
		{Service: "ledger", State: "CLOSED"},
	}})
	out := b.String()
	assert.Regexp(t, `payments +OPEN +2\.0 +25\.0% +7 +▅█`, out)
	assert.Regexp(t, `ledger +CLOSED +- +- +- +-`, out)
}

func TestProgressLineShowsRateAndETA(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "replaying [███████████████░░░░░░░░░░░░░░░] 50/100  10.0/s  ETA 5s",
		progressLine("replaying", 50, 100, 5*time.Second))
	assert.Equal(t, "purging [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 0/10  0.0/s  ETA -", progressLine("purging", 0, 10, 0))
	assert.Contains(t, progressLine("purging", 12, 10, 2*time.Second), "10/10  5.0/s  done in 2s", "done is capped at the total")
}
