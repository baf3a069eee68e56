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
