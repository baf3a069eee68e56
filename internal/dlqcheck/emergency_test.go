package dlqcheck

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// parkWhileOpen opens the breaker with two failed calls and parks their
// arguments, then lets the backend recover: the next probe closes the breaker.
func parkWhileOpen(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	e.inner.setFail(errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "a", "x"), errDown)
	require.ErrorIs(t, e.p.Tag(ctx, "b"), runtime.ErrOpen)
	require.Len(t, e.entries(t, dlq.Filter{State: dlq.StatePending}), 2)
	e.inner.setFail(nil)
	e.clk.Advance(time.Minute)
}

func breakerEnv(t *testing.T) *env {
	return newEnv(t, nil, runtime.Config{Breaker: runtime.BreakerConfig{
		FailureThreshold: 2, MinimumCalls: 2, RecoveryTimeout: time.Minute, HalfOpenMaxCalls: 1,
	}})
}

// Row "ELEVATED pauses automatic DLQ replay": the breaker closes, nothing is
// replayed; operators can still replay by hand.
func TestElevatedPausesAutomaticReplay(t *testing.T) {
	e := breakerEnv(t)
	ctx := context.Background()
	_, err := e.rt.Emergency().Declare(ctx, "op", emergency.Elevated, "three zones failing")
	require.NoError(t, err)
	parkWhileOpen(t, e)
	require.NoError(t, e.p.Tag(ctx, "probe"), "ELEVATED sheds nothing: the probe closes the breaker")

	es := e.entries(t, dlq.Filter{State: dlq.StatePending})
	rep, err := e.q.Replay(ctx, es[0].ID)
	require.NoError(t, err, "an operator's replay is not automatic")
	assert.Equal(t, dlq.StateResolved, rep.State)
	assert.Len(t, e.entries(t, dlq.Filter{State: dlq.StatePending}), 1)
	require.NoError(t, e.rt.Close())
	select {
	case r := <-e.batches:
		t.Errorf("an automatic sweep ran at ELEVATED: %+v", r)
	default:
	}
}

// Below ELEVATED the same closing sweeps the domain (the row's control).
func TestNormalReplaysAutomatically(t *testing.T) {
	e := breakerEnv(t)
	parkWhileOpen(t, e)
	require.NoError(t, e.p.Tag(context.Background(), "probe"))
	rep := await.Recv(t, e.batches, "the sweep after the breaker closed")
	assert.True(t, rep.Automatic)
	assert.Equal(t, 2, rep.Outcomes[dlq.OutcomeResolved], "%+v", rep)
}

// The governance gate stands in front of automatic sweeps: in STRICT mode
// the sweep stops before its first entry, naming the check.
func TestGovernanceHoldsAutomaticSweeps(t *testing.T) {
	e := breakerEnv(t)
	ctx := context.Background()
	_, err := e.rt.Governance().DeclareStrict(ctx, "op", "release freeze", time.Hour)
	require.NoError(t, err)
	parkWhileOpen(t, e)
	require.NoError(t, e.p.Tag(ctx, "probe"))
	rep := await.Recv(t, e.batches, "the held sweep's report")
	assert.Zero(t, rep.Replayed)
	assert.Contains(t, rep.Stopped, "held: governance: dlq.auto_replay blocked by governance check strict")
	assert.Len(t, e.entries(t, dlq.Filter{State: dlq.StatePending}), 2)

	// Break Glass lets the next sweep through.
	_, err = e.rt.Governance().OpenBreakGlass(ctx, "root", "drain refunds", control.Confirmation, time.Hour)
	require.NoError(t, err)
	e.clk.Advance(2 * time.Second) // past the one-second memory of the last decision
	b, _ := e.rt.Breaker("dlqcheck")
	b.ForceOpen("test")
	b.Auto("test")
	rep = await.Recv(t, e.batches, "the sweep through Break Glass")
	assert.Equal(t, 2, rep.Outcomes[dlq.OutcomeResolved], "%+v", rep)
}
