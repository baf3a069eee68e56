package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// A batch replay or purge is one request; while it runs, the CLI reads
// dlq/stats/ every progressEvery and counts the entries that left the
// filter's state since the start (replay: pending; purge: the state asked
// for, else every unresolved state) as done: in the filter's domain and
// failure type, or, with --operation, in its domain and operation (the
// stats' operation counters). A replay that failed and went
// back to pending counts only when the answer comes. Drawn only when stdout
// is a terminal and --json is off.
const progressEvery = 250 * time.Millisecond

// progressLine is one frame of the bar: done of total, rate and ETA.
func progressLine(label string, done, total int, elapsed time.Duration) string {
	const width = 30
	done = min(max(done, 0), total)
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "ETA -"
	switch {
	case done == total:
		eta = "done in " + elapsed.Round(100*time.Millisecond).String()
	case rate > 0:
		eta = "ETA " + (time.Duration(float64(total-done) / rate * float64(time.Second))).Round(time.Second).String()
	}
	return fmt.Sprintf("%s [%s%s] %d/%d  %.1f/s  %s", label, strings.Repeat("█", filled), strings.Repeat("░", width-filled),
		done, total, rate, eta)
}

// batchProgress draws the bar of one batch request on a terminal.
type batchProgress struct {
	c      *client
	label  string
	left   func() (int, bool) // entries still to do, from dlq/stats/
	start  time.Time
	total  int
	base   int
	stop   chan struct{}
	wg     sync.WaitGroup
	drawMu sync.Mutex
}

// startProgress starts the bar, or returns nil when there is nothing to
// draw on: stdout is not a terminal, --json, or the stats cannot be read.
func startProgress(c *client, label string, f adminapi.DLQFilter, replay bool) *batchProgress {
	if c.json || !isTerminal(c.stdout) {
		return nil
	}
	p := &batchProgress{c: c, label: label, stop: make(chan struct{}), start: time.Now()}
	p.left = func() (int, bool) { return statsLeft(c, f, replay) }
	base, ok := p.left()
	if !ok || base == 0 {
		return nil
	}
	p.base, p.total = base, min(base, max(f.Limit, 1))
	p.draw(0)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				if left, ok := p.left(); ok {
					p.draw(p.base - left)
				}
			}
		}
	}()
	return p
}

func (p *batchProgress) draw(done int) {
	p.drawMu.Lock()
	defer p.drawMu.Unlock()
	fmt.Fprintf(p.c.stdout, "\r\x1b[K%s", progressLine(p.label, done, p.total, time.Since(p.start)))
}

// finish stops the bar and draws its last frame with what the answer said
// was done (-1: unknown, the request failed), then ends the line.
func (p *batchProgress) finish(done int) {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	if done >= 0 {
		p.total = max(p.total, done)
		p.draw(done)
	}
	fmt.Fprintln(p.c.stdout)
}

// statsLeft reads dlq/stats/ and counts the entries the filter's batch has
// still to go through.
func statsLeft(c *client, f adminapi.DLQFilter, replay bool) (int, bool) {
	quiet := *c
	quiet.stdout, quiet.stderr, quiet.json = io.Discard, io.Discard, false
	var ans adminapi.DLQStatsAnswer
	var bad error
	if quiet.call("GET", route(adminapi.PathDLQStats, nil), nil, func(_ io.Writer, b map[string]any) { bad = decodeTree(b, &ans) }) != exitOK || bad != nil {
		return 0, false
	}
	cols := []string{"pending", "replaying", "needs_review"}
	switch {
	case replay:
		cols = []string{"pending"}
	case f.State != "":
		cols = []string{f.State}
	}
	groups := ans.Stats.Groups
	if f.Operation != "" {
		// The failure type is not counted by operation: an operation filter
		// with a failure type counts the operation's entries of every type.
		groups = groups[:0:0]
		for _, o := range ans.Stats.Operations {
			if o.Operation == f.Operation {
				groups = append(groups, adminapi.DLQGroup{Domain: o.Domain, Pending: o.Pending, Replaying: o.Replaying,
					NeedsReview: o.NeedsReview, Resolved: o.Resolved})
			}
		}
	}
	n := 0
	for _, g := range groups {
		if (f.Domain != "" && g.Domain != f.Domain) || (f.FailureType != "" && f.Operation == "" && g.FailureType != f.FailureType) {
			continue
		}
		for _, col := range cols {
			switch col {
			case "pending":
				n += int(g.Pending)
			case "replaying":
				n += int(g.Replaying)
			case "needs_review":
				n += int(g.NeedsReview)
			case "resolved":
				n += int(g.Resolved)
			}
		}
	}
	return n, true
}

// withProgress runs one batch request under a bar; count reads how many
// entries the answer says were done.
func withProgress(c *client, label string, f adminapi.DLQFilter, replay bool, run func(p printer) int, p printer, count func(map[string]any) int) int {
	bar := startProgress(c, label, f, replay)
	if bar == nil {
		return run(p)
	}
	done := -1
	code := run(func(w io.Writer, body map[string]any) {
		done = count(body)
		bar.finish(done)
		bar = nil
		p(w, body)
	})
	bar.finish(done)
	return code
}
