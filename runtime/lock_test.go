package runtime

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

// within runs fn and fails the test if it has not returned after d: the
// runtime must not make fn wait on a lock held across I/O or a callback.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: it waits on a runtime lock held across a store read or a callback", what, d)
	}
}

// closeIfPassed closes rt unless the test failed: after a deadlock Close would
// wait on the lock forever and hide the failure's message.
func closeIfPassed(t *testing.T, rt *Runtime) {
	if !t.Failed() {
		assert.NoError(t, rt.Close())
	}
}

// seedOpen writes the shared record of service as another node's OPEN breaker.
func seedOpen(t *testing.T, st store.Store, service string) {
	t.Helper()
	rec := breakerRecord{state: breaker.Open, openedAt: time.Now(), node: "another-node"}
	require.NoError(t, st.HSet(context.Background(), breakerKey(service), rec.fields()))
}

func TestZoneRunsReentrantListenersOutsideTheRegistryLock(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	defer st.Close()
	seedOpen(t, st, "seeded")

	seen := make(chan []string, 4)
	cfg := Config{Store: st, Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()}
	var rt *Runtime
	cfg.OnBreakerChange = func(tr breaker.Transition) {
		if tr.To == breaker.Open {
			seen <- rt.BreakerNames() // calls back into the runtime from the listener
		}
	}
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	defer closeIfPassed(t, rt)
	var names []string
	rt.OnBreakerChange(func(breaker.Transition) { names = rt.BreakerNames() })

	var z *Zone
	within(t, 5*time.Second, "rt.Zone with a re-entrant listener", func() {
		z = rt.Zone(ZoneSpec{Service: "seeded", Method: "Get", Breaker: true})
	})
	assert.Equal(t, breaker.Open, z.breaker.State(), "the new breaker adopted the record another node wrote")
	select {
	case got := <-seen:
		assert.Equal(t, []string{"seeded"}, got, "Config.OnBreakerChange saw the registry from inside the callback")
	default:
		t.Fatal("Config.OnBreakerChange was not called for the adopted OPEN state")
	}
	assert.Equal(t, []string{"seeded"}, names, "the runtime's own listeners run too, and may call back")
}

// slowReads blocks reads of one key until released (at most 2 s, a Redis
// read timeout), and says when a read has started.
type slowReads struct {
	store.Store
	key     string
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *slowReads) HGetAll(ctx context.Context, key string) (map[string]string, error) {
	if key == s.key {
		s.once.Do(func() { close(s.started) })
		select {
		case <-s.release:
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.HGetAll(ctx, key)
}

func TestZonesAreBuiltAndServedWhileAStoreReadBlocks(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory()
	defer mem.Close()
	seedOpen(t, mem, "slow")
	st := &slowReads{Store: mem, key: breakerKey("slow"), started: make(chan struct{}), release: make(chan struct{})}
	rt, err := New(context.Background(), Config{Store: st, Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	require.NoError(t, err)
	defer closeIfPassed(t, rt)
	ctx := context.Background()
	served := rt.Zone(ZoneSpec{Service: "fast", Method: "Served", Breaker: true, Bulkhead: 4})

	slowDone := make(chan *Zone, 1)
	go func() { slowDone <- rt.Zone(ZoneSpec{Service: "slow", Method: "Get", Breaker: true}) }()
	select {
	case <-st.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow service's zone never read its shared breaker record")
	}

	// The slow read is in flight: nothing else may wait on it.
	within(t, time.Second, "building another service's zone", func() {
		z := rt.Zone(ZoneSpec{Service: "fast", Method: "Other", Breaker: true})
		assert.Same(t, served.breaker, z.breaker, "methods of one service share the breaker")
	})
	within(t, time.Second, "building a zone of a service with no breaker", func() {
		rt.Zone(ZoneSpec{Service: "plain", Method: "Get", Bulkhead: 1})
	})
	within(t, time.Second, "serving a call through a built zone", func() {
		p, err := served.Enter(ctx)
		require.NoError(t, err)
		served.Done(ctx, p, nil, 1)
	})
	within(t, time.Second, "reading the registry", func() {
		assert.Contains(t, rt.BreakerNames(), "fast")
		assert.NotEmpty(t, rt.Zones())
		rt.Snapshot()
		rt.CallStats()
	})
	close(st.release)
	select {
	case z := <-slowDone:
		assert.Equal(t, breaker.Open, z.breaker.State(), "once the read returns, the slow zone adopts the shared state")
	case <-time.After(5 * time.Second):
		t.Fatal("the slow zone did not return after its store read was released")
	}
}
