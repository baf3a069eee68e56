package control_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/store"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

// A watching loop frozen through the watchdog's test hook is restarted: the
// stuck loop returns, a fresh one (with a fresh subscription) takes over and
// adopts what another process changes, and the watchdog sees it beat again.
func TestAFrozenWatchingLoopIsRestartedAndAdoptsChangesAgain(t *testing.T) {
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	dog := watchdog.New(watchdog.Options{Check: 10 * time.Millisecond, Logger: quietLogger()})
	t.Cleanup(dog.Close)
	var hb atomic.Pointer[watchdog.Heartbeat]
	const poll = 20 * time.Millisecond
	c := newControl(t, control.Options{Store: st, Target: newTarget(), PollInterval: poll, Node: "a",
		Beat: func() { hb.Load().Beat() }})
	h, err := dog.Register("control_watcher", poll, c.Restart)
	require.NoError(t, err)
	hb.Store(h)
	other := newControl(t, control.Options{Store: st, Target: newTarget(), Node: "b"})

	loop := func() watchdog.LoopStatus { return dog.Status()[0] }
	release := dog.Freeze("control_watcher")
	defer release()
	deadline := time.Now().Add(await.Deadline)
	for loop().Restarts < 1 || loop().State != watchdog.StateOK {
		require.True(t, time.Now().Before(deadline), "the frozen loop is not restarted and beating: %+v", loop())
		time.Sleep(5 * time.Millisecond)
	}

	_, err = other.Disable(context.Background(), "bob", "incident")
	require.NoError(t, err)
	for c.Enabled() {
		require.True(t, time.Now().Before(deadline), "the restarted loop does not adopt the fleet's change")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, c.Refresh(context.Background()), "the restarted loop serves refreshes")
}
