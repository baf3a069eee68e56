package report

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultRecent is how many reports Recent lists when asked for none in
// particular (baldur report with no flags).
const DefaultRecent = 7

// Recent returns the fleet's most recent stored reports, newest first: at
// most n days, only days that have one (unlike Days, which lists every day
// of a range). This process's report of today is generated (and stored)
// first, so today is always among them.
func (g *Generator) Recent(ctx context.Context, n int) ([]Day, error) {
	if n < 1 || n > MaxDays {
		return nil, fmt.Errorf("%w: %d recent reports, want 1 to %d", ErrBadDate, n, MaxDays)
	}
	own, genErr := g.Generate(ctx)
	today := g.Today()
	seen := map[string]bool{today: true}
	dates := []string{today}
	keys, err := g.opts.Store.Keys(ctx, "report:")
	if err != nil {
		return g.collect(ctx, dates, own, genErr), nil // today's own report, and the store's error beside it
	}
	for _, k := range keys {
		date, _, ok := strings.Cut(strings.TrimPrefix(k, "report:"), ":node:")
		if _, perr := time.Parse(time.DateOnly, date); ok && perr == nil && !seen[date] && date < today {
			seen[date] = true
			dates = append(dates, date)
		}
	}
	slices.SortFunc(dates, func(a, b string) int { return strings.Compare(b, a) })
	return g.collect(ctx, dates[:min(n, len(dates))], own, genErr), nil
}
