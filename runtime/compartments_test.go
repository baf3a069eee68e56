package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/store"
)

func newTestRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	cfg.Store = store.NewMemory()
	cfg.environ = func() []string { return nil }
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rt, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

func TestANamedCompartmentIsSharedAcrossInterfaces(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{Compartments: map[string]Compartment{"database": {Active: 2}}})
	orders := rt.Zone(ZoneSpec{Service: "orders", Method: "Save", Compartment: "database"})
	ledger := rt.Zone(ZoneSpec{Service: "ledger", Method: "Post", Compartment: "database"})
	require.Same(t, orders.bulkhead, ledger.bulkhead, "one compartment for both interfaces")
	assert.Equal(t, []string{"bulkhead"}, orders.Spec().Policies())

	ctx := context.Background()
	p1, err := orders.Enter(ctx)
	require.NoError(t, err)
	p2, err := ledger.Enter(ctx)
	require.NoError(t, err)
	_, err = orders.Enter(ctx)
	var full *BulkheadFullError
	require.ErrorAs(t, err, &full, "the third call across both interfaces is refused")
	assert.Equal(t, "database", full.Compartment)
	assert.EqualError(t, err, `bulkhead "database" is full (2/2 active)`)
	orders.Done(ctx, p1, nil, 1)
	ledger.Done(ctx, p2, nil, 1)
	assert.EqualValues(t, 0, orders.bulkhead.Active())

	// The seed's defaults where Config says nothing.
	cache := rt.Zone(ZoneSpec{Service: "orders", Method: "Get", Compartment: "cache"})
	assert.EqualValues(t, 20, cache.bulkhead.Max())
	ext := rt.Zone(ZoneSpec{Service: "maps", Method: "Route", Compartment: "external_api"})
	assert.EqualValues(t, 5, ext.bulkhead.Max())
	assert.EqualValues(t, 10, ext.bulkhead.MaxWaiting())
	mq := rt.Zone(ZoneSpec{Service: "mail", Method: "Send", Compartment: "message_queue"})
	assert.EqualValues(t, 15, mq.bulkhead.Max())
}

func TestACompartmentsWaitingQueueIsBounded(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{Compartments: map[string]Compartment{"q": {Active: 1, Waiting: 1, MaxWait: time.Minute}}})
	z := rt.Zone(ZoneSpec{Service: "s", Method: "M", Compartment: "q"})
	ctx := context.Background()
	held, err := z.Enter(ctx)
	require.NoError(t, err)

	waiter := make(chan error, 1)
	go func() {
		p, err := z.Enter(ctx)
		if err == nil {
			z.Done(ctx, p, nil, 1)
		}
		waiter <- err
	}()
	require.Eventually(t, func() bool { return z.bulkhead.Waiting() == 1 }, await.Deadline, time.Millisecond, "the second caller queues")

	start := time.Now()
	_, err = z.Enter(ctx)
	var full *BulkheadFullError
	require.ErrorAs(t, err, &full, "the queue holds one: the third caller is refused")
	assert.Less(t, time.Since(start), 30*time.Second, "refused at once, not after MaxWait")
	assert.EqualError(t, err, `bulkhead "q" is full (1/1 active, 1/1 waiting)`)

	z.Done(ctx, held, nil, 1)
	require.NoError(t, await.Recv(t, waiter, "the queued caller"), "the queued caller gets the freed slot")
}

func TestACompartmentWithoutAQueueRefusesAtOnce(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{Compartments: map[string]Compartment{"database": {Active: 1}}})
	z := rt.Zone(ZoneSpec{Service: "s", Method: "M", Compartment: "database", BulkheadWait: time.Minute})
	ctx := context.Background()
	_, err := z.Enter(ctx)
	require.NoError(t, err)
	_, err = z.Enter(ctx)
	require.ErrorIs(t, err, ErrBulkheadFull, "Waiting 0: no caller queues, whatever bulkhead_wait= says")
}

func TestAnUnregisteredCompartmentIsAnErrorListingTheRegisteredOnes(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, Config{Compartments: map[string]Compartment{"search": {Active: 3}}})
	_, err := rt.NewZone(ZoneSpec{Service: "orders", Method: "Save", Compartment: "databse"})
	require.ErrorIs(t, err, ErrUnknownCompartment)
	assert.EqualError(t, err, `baldur: orders.Save: compartment "databse" is not registered; registered: cache, database, external_api, message_queue, search `+
		`(add it to Config.Compartments or set BALDUR_BULKHEAD_DATABSE=active[+waiting])`)
	assert.PanicsWithError(t, err.Error(), func() { rt.Zone(ZoneSpec{Service: "orders", Method: "Save", Compartment: "databse"}) })
	assert.Empty(t, rt.Zones(), "nothing is registered for the refused zone")

	// A bulkhead= compartment may not take a registered name in use, nor the reverse.
	rt.Zone(ZoneSpec{Service: "cache", Method: "Get", Bulkhead: 4})
	_, err = rt.NewZone(ZoneSpec{Service: "web", Method: "Get", Compartment: "cache"})
	assert.ErrorContains(t, err, `compartment=cache: a bulkhead= of service "cache" already made a compartment of that name`)
	rt.Zone(ZoneSpec{Service: "x", Method: "Y", Compartment: "database"})
	_, err = rt.NewZone(ZoneSpec{Service: "database", Method: "Get", Bulkhead: 4})
	assert.ErrorContains(t, err, `bulkhead= makes a compartment named "database", which is the registered compartment of that name`)
}

func TestNewRefusesABadCompartment(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), Config{Store: store.NewMemory(), Compartments: map[string]Compartment{
		"Bad Name": {Active: 1}, "zero": {Active: 0}, "neg": {Active: 1, Waiting: -1},
	}})
	require.Error(t, err)
	for _, want := range []string{`Compartments["Bad Name"]: want a name`, `Compartments["zero"]: want Active ≥ 1`, `Compartments["neg"]: want Active ≥ 1, Waiting ≥ 0`} {
		assert.ErrorContains(t, err, want)
	}
}

func TestCompartmentsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	environ := []string{"BALDUR_BULKHEAD_DATABASE=3+2", "BALDUR_BULKHEAD_PAYMENTS= 4 ", "BALDUR_BULKHEAD_CACHE=0",
		"BALDUR_BULKHEAD_EXTERNAL_API=5+x", "BALDUR_BULKHEAD_db=1", "BALDUR_CB_WINDOW=1m"}
	m := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	r := env.New(env.Map(m))
	var cfg Config
	compartmentsFromEnv(r, environ, &cfg)
	assert.Equal(t, map[string]Compartment{"database": {Active: 3, Waiting: 2}, "payments": {Active: 4}}, cfg.Compartments)
	err := r.Err()
	require.Error(t, err)
	for _, want := range []string{
		`BALDUR_BULKHEAD_CACHE="0": want active calls, optionally +waiting callers: "10" or "5+10"`,
		`BALDUR_BULKHEAD_EXTERNAL_API="5+x": want active calls`,
		`BALDUR_BULKHEAD_db="1": want a variable named BALDUR_BULKHEAD_<NAME>`,
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.False(t, errors.Is(err, ErrBulkheadFull))
}
