package metrics

import (
	"context"

	"github.com/baldur-go/baldur/runtime/dlq"
)

// dlqStats is what a *dlq.Queue offers: its counters by domain and state.
type dlqStats interface {
	Stats(ctx context.Context) (dlq.Stats, error)
}

// QueueDepth adapts a dead-letter queue (a *dlq.Queue) to DLQSource: one
// DLQDepth per domain and unresolved state. Pass it as Options.DLQ (and
// admin.Options.DLQ) once the runtime hands out its queue.
func QueueDepth(q dlqStats) DLQSource { return queueDepth{q} }

type queueDepth struct{ q dlqStats }

func (d queueDepth) DLQDepth(ctx context.Context) ([]DLQDepth, error) {
	depth, _, err := d.DLQSnapshot(ctx)
	return depth, err
}

// DLQTotals are a queue's cumulative counters.
type DLQTotals struct {
	Evicted  int64            // evictions by a cap
	Resolved map[string]int64 // entries a replay resolved, by domain
}

// DLQTotalsSource is implemented by DLQ sources that also keep counters
// (QueueDepth does): the collector then reads depth and counters in one go
// and sends baldur_dlq_evicted_total and baldur_dlq_replays_resolved_total.
type DLQTotalsSource interface {
	DLQSnapshot(ctx context.Context) ([]DLQDepth, DLQTotals, error)
}

func (d queueDepth) DLQSnapshot(ctx context.Context) ([]DLQDepth, DLQTotals, error) {
	st, err := d.q.Stats(ctx)
	if err != nil {
		return nil, DLQTotals{}, err
	}
	depth := make([]DLQDepth, 0, 3*len(st.Domains))
	t := DLQTotals{Evicted: st.Evicted, Resolved: make(map[string]int64, len(st.Domains))}
	for _, g := range st.Domains {
		depth = append(depth,
			DLQDepth{Domain: g.Domain, State: string(dlq.StatePending), Entries: g.Pending},
			DLQDepth{Domain: g.Domain, State: string(dlq.StateReplaying), Entries: g.Replaying},
			DLQDepth{Domain: g.Domain, State: string(dlq.StateNeedsReview), Entries: g.NeedsReview})
		t.Resolved[g.Domain] = g.Resolved
	}
	return depth, t, nil
}
