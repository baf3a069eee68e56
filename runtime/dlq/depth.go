package dlq

import "context"

// Depth is how many dead-letter entries one domain holds in one state: what
// the dashboard, the daily report and the metrics read of a queue.
type Depth struct {
	Domain  string
	State   string // pending, replaying, needs_review
	Entries int64
}

// DepthSource reports a dead-letter queue's depth. QueueDepth(rt.DLQ())
// is the runtime's queue; admin plugs it in by default.
type DepthSource interface {
	DLQDepth(ctx context.Context) ([]Depth, error)
}

// Totals are a queue's cumulative counters.
type Totals struct {
	Evicted  int64            // evictions by a cap
	Resolved map[string]int64 // entries a replay resolved, by domain
}

// TotalsSource is implemented by depth sources that also keep counters
// (QueueDepth does): a reader then gets depth and counters in one go.
type TotalsSource interface {
	DLQSnapshot(ctx context.Context) ([]Depth, Totals, error)
}

// statsReader is what a *Queue offers: its counters by domain and state.
type statsReader interface {
	Stats(ctx context.Context) (Stats, error)
}

// QueueDepth adapts a queue (a *Queue) to DepthSource and TotalsSource: one
// Depth per domain and unresolved state.
func QueueDepth(q statsReader) DepthSource { return queueDepth{q} }

type queueDepth struct{ q statsReader }

func (d queueDepth) DLQDepth(ctx context.Context) ([]Depth, error) {
	depth, _, err := d.DLQSnapshot(ctx)
	return depth, err
}

func (d queueDepth) DLQSnapshot(ctx context.Context) ([]Depth, Totals, error) {
	st, err := d.q.Stats(ctx)
	if err != nil {
		return nil, Totals{}, err
	}
	depth := make([]Depth, 0, 3*len(st.Domains))
	t := Totals{Evicted: st.Evicted, Resolved: make(map[string]int64, len(st.Domains))}
	for _, g := range st.Domains {
		depth = append(depth,
			Depth{Domain: g.Domain, State: string(StatePending), Entries: g.Pending},
			Depth{Domain: g.Domain, State: string(StateReplaying), Entries: g.Replaying},
			Depth{Domain: g.Domain, State: string(StateNeedsReview), Entries: g.NeedsReview})
		t.Resolved[g.Domain] = g.Resolved
	}
	return depth, t, nil
}
