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
	st, err := d.q.Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]DLQDepth, 0, 3*len(st.Domains))
	for _, g := range st.Domains {
		out = append(out,
			DLQDepth{Domain: g.Domain, State: string(dlq.StatePending), Entries: g.Pending},
			DLQDepth{Domain: g.Domain, State: string(dlq.StateReplaying), Entries: g.Replaying},
			DLQDepth{Domain: g.Domain, State: string(dlq.StateNeedsReview), Entries: g.NeedsReview})
	}
	return out, nil
}

// DLQTotals are a queue's cumulative counters.
type DLQTotals struct {
	Evicted  int64            // evictions by a cap
	Resolved map[string]int64 // entries a replay resolved, by domain
}

// DLQTotalsSource is implemented by DLQ sources that also report counters
// (QueueDepth does): the collector then sends baldur_dlq_evicted_total and
// baldur_dlq_replays_resolved_total.
type DLQTotalsSource interface {
	DLQTotals(ctx context.Context) (DLQTotals, error)
}

func (d queueDepth) DLQTotals(ctx context.Context) (DLQTotals, error) {
	st, err := d.q.Stats(ctx)
	if err != nil {
		return DLQTotals{}, err
	}
	t := DLQTotals{Evicted: st.Evicted, Resolved: make(map[string]int64, len(st.Domains))}
	for _, g := range st.Domains {
		t.Resolved[g.Domain] = g.Resolved
	}
	return t, nil
}
