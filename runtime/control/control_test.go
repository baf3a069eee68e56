package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
	"github.com/baldur-go/baldur/runtime/store"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(fleetChild())
	}
	goleak.VerifyTestMain(m)
}

// target records what the Control applies and signals every change.
type target struct {
	mu      sync.Mutex
	enabled bool
	dryRun  bool
	changed chan struct{}
}

func newTarget() *target { return &target{enabled: true, changed: make(chan struct{}, 64)} }

func (t *target) SetEnabled(on bool) {
	t.mu.Lock()
	c := t.enabled != on
	t.enabled = on
	t.mu.Unlock()
	if c {
		t.changed <- struct{}{}
	}
}

func (t *target) SetDryRun(on bool) {
	t.mu.Lock()
	c := t.dryRun != on
	t.dryRun = on
	t.mu.Unlock()
	if c {
		t.changed <- struct{}{}
	}
}

func (t *target) get() (enabled, dryRun bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.enabled, t.dryRun
}

// waitFor waits until the target reads (enabled, dryRun), for at most d.
func (t *target) waitFor(tb testing.TB, enabled, dryRun bool, d time.Duration) {
	tb.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if e, r := t.get(); e == enabled && r == dryRun {
			return
		}
		select {
		case <-t.changed:
		case <-deadline.C:
			e, r := t.get()
			tb.Fatalf("target did not reach enabled=%v dry_run=%v within %s (has enabled=%v dry_run=%v)", enabled, dryRun, d, e, r)
		}
	}
}

// logSink captures JSON slog records.
type logSink struct{ logtest.Buffer }

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// events returns the records whose msg is event.
func (s *logSink) events(event string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == event {
			out = append(out, m)
		}
	}
	return out
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newControl(t *testing.T, opts control.Options) *control.Control {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = -1
	}
	c, err := control.New(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func TestDefaultsAreEnabledAndLive(t *testing.T) {
	tg := newTarget()
	tg.enabled, tg.dryRun = false, true // prove New applies the state, not just leaves it
	c := newControl(t, control.Options{Target: tg})
	assert.True(t, c.Enabled())
	assert.False(t, c.DryRun())
	e, r := tg.get()
	assert.True(t, e)
	assert.False(t, r)
	st := c.Status()
	assert.Equal(t, control.Enabled, st.KillSwitch)
	assert.Equal(t, control.Live, st.Mode)
	assert.Equal(t, "memory", st.Backend)
	assert.Empty(t, c.History())
}

func TestDisableNeedsAReason(t *testing.T) {
	for _, reason := range []string{"", " ", "   \t\n "} {
		tg := newTarget()
		c := newControl(t, control.Options{Target: tg})
		st, err := c.Disable(context.Background(), "alice", reason)
		require.ErrorIs(t, err, control.ErrReasonRequired, "reason %q", reason)
		assert.Contains(t, err.Error(), "reason is required")
		assert.Equal(t, control.Enabled, st.KillSwitch)
		assert.True(t, c.Enabled())
		e, _ := tg.get()
		assert.True(t, e, "target untouched")
		assert.Empty(t, c.History())
	}
}

func TestReasonTooLongIsRefused(t *testing.T) {
	c := newControl(t, control.Options{})
	_, err := c.Disable(context.Background(), "alice", strings.Repeat("x", control.MaxReasonLen+1))
	require.ErrorIs(t, err, control.ErrReasonTooLong)
	assert.True(t, c.Enabled())
}

func TestSwitchesAreOrthogonalAndAudited(t *testing.T) {
	ctx := context.Background()
	fc := clock.NewFake(t0)
	tg := newTarget()
	c := newControl(t, control.Options{Target: tg, Clock: fc, Node: "node-1"})

	st, err := c.Disable(ctx, "alice", "  incident 42  ")
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, st.KillSwitch)
	assert.Equal(t, control.Live, st.Mode)
	assert.Equal(t, "incident 42", st.Reason, "reason is trimmed")
	tg.waitFor(t, false, false, time.Second)

	fc.Advance(time.Minute)
	_, err = c.StartDryRun(ctx, "bob", "rehearsal")
	require.NoError(t, err)
	assert.False(t, c.Enabled())
	assert.True(t, c.DryRun(), "dry-run is independent of the kill switch")
	tg.waitFor(t, false, true, time.Second)

	fc.Advance(time.Minute)
	_, err = c.Enable(ctx, "carol", "")
	require.NoError(t, err)
	tg.waitFor(t, true, true, time.Second)

	fc.Advance(time.Minute)
	_, err = c.GoLive(ctx, "dave", control.Confirmation, "rehearsal done")
	require.NoError(t, err)
	tg.waitFor(t, true, false, time.Second)

	h := c.History()
	require.Len(t, h, 4)
	for i := range h {
		assert.NotEmpty(t, h[i].ID)
		assert.Equal(t, "node-1", h[i].Node)
		assert.False(t, h[i].Superseded)
		assert.Empty(t, h[i].Conflict)
		h[i].ID, h[i].Node = "", ""
	}
	assert.Equal(t, control.Change{At: t0.Add(3 * time.Minute), Who: "dave", Action: control.ActionGoLive,
		Reason: "rehearsal done", KillSwitch: control.Enabled, Mode: control.Live, Revision: 4}, h[0], "newest first")
	assert.Equal(t, control.Change{At: t0, Who: "alice", Action: control.ActionDisable,
		Reason: "incident 42", KillSwitch: control.Disabled, Mode: control.Live, Revision: 1}, h[3])
	assert.Equal(t, "bob", h[2].Who)
	assert.Equal(t, control.ActionDryRunOn, h[2].Action)
	assert.Equal(t, "carol", h[1].Who)
	st2 := c.Status()
	assert.Equal(t, "dave", st2.ChangedBy)
	assert.Equal(t, t0.Add(3*time.Minute), st2.ChangedAt)
	assert.Equal(t, uint64(4), st2.Revision)
}

func TestGoLiveNeedsConfirmation(t *testing.T) {
	ctx := context.Background()
	tg := newTarget()
	c := newControl(t, control.Options{Target: tg})
	_, err := c.StartDryRun(ctx, "bob", "")
	require.NoError(t, err)
	tg.waitFor(t, true, true, time.Second)
	for _, confirm := range []string{"", "confirm", "CONFIRM ", "yes"} {
		st, err := c.GoLive(ctx, "bob", confirm, "")
		require.ErrorIs(t, err, control.ErrConfirmationRequired, "confirm %q", confirm)
		assert.Contains(t, err.Error(), `"CONFIRM"`)
		assert.Equal(t, control.DryRun, st.Mode)
		assert.True(t, c.DryRun())
	}
	_, r := tg.get()
	assert.True(t, r, "target still in dry-run")
	assert.Len(t, c.History(), 1)
}

func TestHistoryIsBounded(t *testing.T) {
	ctx := context.Background()
	c := newControl(t, control.Options{HistoryLimit: 3})
	for i := range 5 {
		_, err := c.Disable(ctx, "alice", "reason "+string(rune('a'+i)))
		require.NoError(t, err)
	}
	h := c.History()
	require.Len(t, h, 3)
	assert.Equal(t, "reason e", h[0].Reason)
	assert.Equal(t, "reason c", h[2].Reason)
	assert.Equal(t, uint64(5), c.Status().Revision)
}

func TestNegativeHistoryLimitIsAnError(t *testing.T) {
	_, err := control.New(context.Background(), control.Options{HistoryLimit: -1})
	require.ErrorContains(t, err, "HistoryLimit")
}

func TestCheckManualRefusesWhileDisabled(t *testing.T) {
	ctx := context.Background()
	fc := clock.NewFake(t0)
	c := newControl(t, control.Options{Clock: fc})
	require.NoError(t, c.CheckManual("force-open payments", false))
	_, err := c.Disable(ctx, "alice", "incident 42")
	require.NoError(t, err)

	err = c.CheckManual("force-open payments", false)
	require.ErrorIs(t, err, control.ErrDisabled)
	var de *control.DisabledError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "incident 42", de.Reason)
	assert.Equal(t, "force-open payments refused: the kill switch is DISABLED (by alice at 2025-03-01T12:00:00Z: \"incident 42\"); enable it first, or pass the override to act anyway", err.Error())
	require.NoError(t, c.CheckManual("force-open payments", true), "override lets it through")
}

func TestWhoDefaultsToUnknown(t *testing.T) {
	c := newControl(t, control.Options{})
	st, err := c.Disable(context.Background(), "  ", "why")
	require.NoError(t, err)
	assert.Equal(t, "unknown", st.ChangedBy)
}

func TestDecodeRejectsWhatItCannotVouchFor(t *testing.T) {
	for name, in := range map[string]string{
		"not json":        "{",
		"wrong schema":    `{"schema":2,"kill_switch":"ENABLED","mode":"LIVE"}`,
		"bad kill switch": `{"schema":1,"kill_switch":"OFF","mode":"LIVE"}`,
		"bad mode":        `{"schema":1,"kill_switch":"ENABLED","mode":"MAYBE"}`,
		"empty object":    `{}`,
	} {
		_, err := control.Decode([]byte(in))
		assert.ErrorIs(t, err, control.ErrCorrupt, name)
	}
	s, err := control.Decode([]byte(`{"schema":1,"kill_switch":"DISABLED","mode":"DRY_RUN","revision":7}`))
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
	assert.NotNil(t, s.History)
}

func TestReasonMustHoldALetterOrDigit(t *testing.T) {
	ctx := context.Background()
	for _, reason := range []string{"\u200b", "\x00", "\u200b\u200b \x00", "\u202e", "\ufeff", "---", "!?"} {
		c := newControl(t, control.Options{})
		_, err := c.Disable(ctx, "alice", reason)
		require.ErrorIs(t, err, control.ErrReasonRequired, "reason %q", reason)
		assert.True(t, c.Enabled(), "reason %q: nothing changed", reason)
		// An optional reason, when given, must say something too.
		_, err = c.StartDryRun(ctx, "alice", reason)
		require.ErrorIs(t, err, control.ErrReasonRequired, "optional reason %q", reason)
		assert.False(t, c.DryRun())
		assert.Empty(t, c.History())
	}
	_, err := control.CheckReason("\u200b", true)
	assert.EqualError(t, err, "a reason is required: the one given is blank or only invisible or control characters")
	_, err = control.CheckReason("---", true)
	assert.EqualError(t, err, `a reason is required: "---" holds no letter or digit`)
	r, err := control.CheckReason("", false)
	require.NoError(t, err, "an optional reason may be left out")
	assert.Empty(t, r)
	r, err = control.CheckReason("事故 7", true)
	require.NoError(t, err, "any script's letters count")
	assert.Equal(t, "事故 7", r)
}

func TestFormatAndControlCharactersAreStripped(t *testing.T) {
	c := newControl(t, control.Options{})
	st, err := c.Disable(context.Background(), "mallory\u202egnp.exe\u2066\x1b[2J", "incident\u200b 42\x00\u061c\nsee runbook")
	require.NoError(t, err)
	assert.Equal(t, "mallorygnp.exe[2J", st.ChangedBy)
	assert.Equal(t, "incident 42 see runbook", st.Reason)
	h := c.History()[0]
	assert.Equal(t, "mallorygnp.exe[2J", h.Who)
	assert.Equal(t, "incident 42 see runbook", h.Reason)
	st, err = c.Enable(context.Background(), "\u200b\u202e", "")
	require.NoError(t, err)
	assert.Equal(t, "unknown", st.ChangedBy, "a name of only invisible characters is no name")
}

// flakyStore fails every read and write with ErrUnavailable while down is set.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) fail() error { return fmt.Errorf("disk on fire: %w", store.ErrUnavailable) }

func (f *flakyStore) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, f.fail()
	}
	return f.Store.Get(ctx, key)
}

func (f *flakyStore) Range(ctx context.Context, stream string, from store.ID, n int) ([]store.Entry, error) {
	if f.down.Load() {
		return nil, f.fail()
	}
	return f.Store.Range(ctx, stream, from, n)
}

func (f *flakyStore) Append(ctx context.Context, stream string, v []byte) (store.ID, error) {
	if f.down.Load() {
		return store.ID{}, f.fail()
	}
	return f.Store.Append(ctx, stream, v)
}

func (f *flakyStore) Atomic(ctx context.Context, txn store.Txn) (store.TxnResult, error) {
	if f.down.Load() {
		return store.TxnResult{}, f.fail()
	}
	return f.Store.Atomic(ctx, txn)
}

func memStore(t *testing.T) store.Store {
	s := store.NewMemory()
	t.Cleanup(func() { s.Close() })
	return s
}

// At start, a state that cannot be read reads as enabled and live, and is logged.
func TestStartupUnreadableStateMeansEnabledAndLiveAndIsLogged(t *testing.T) {
	ctx := context.Background()
	shared := memStore(t)
	other := newControl(t, control.Options{Store: shared})
	_, err := other.Disable(ctx, "alice", "incident 42")
	require.NoError(t, err)

	fs := &flakyStore{Store: shared}
	fs.down.Store(true)
	var logs logSink
	tg := newTarget()
	tg.enabled = false
	c := newControl(t, control.Options{Store: fs, Target: tg, Logger: logs.logger(), RetryInterval: -1})
	assert.True(t, c.Enabled(), "unreadable at start: enabled")
	assert.False(t, c.DryRun(), "unreadable at start: live")
	e, _ := tg.get()
	assert.True(t, e)
	assert.Contains(t, c.Status().StateError, "disk on fire")
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	assert.Equal(t, "ERROR", ev[0]["level"])
	assert.Equal(t, "ENABLED LIVE", ev[0]["using"])

	fs.down.Store(false)
	require.NoError(t, c.Refresh(ctx))
	assert.False(t, c.Enabled(), "once readable, the stored state is adopted")
	assert.Empty(t, c.Status().StateError)
}

// Mid-run, a read failure keeps the last known state: a store blip must not
// re-arm automation an operator switched off. It is logged once per outage.
func TestMidRunReadFailureKeepsTheLastKnownState(t *testing.T) {
	ctx := context.Background()
	fs := &flakyStore{Store: memStore(t)}
	var logs logSink
	tg := newTarget()
	c := newControl(t, control.Options{Store: fs, Target: tg, Logger: logs.logger(), RetryInterval: -1})
	_, err := c.Disable(ctx, "alice", "incident 42")
	require.NoError(t, err)
	_, err = c.StartDryRun(ctx, "alice", "rehearsal")
	require.NoError(t, err)

	fs.down.Store(true)
	for range 3 {
		require.Error(t, c.Refresh(ctx))
	}
	assert.False(t, c.Enabled(), "still DISABLED")
	assert.True(t, c.DryRun(), "still DRY_RUN")
	tg.waitFor(t, false, true, time.Second)
	assert.Contains(t, c.Status().StateError, "disk on fire")
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1, "logged once, not at every retry")
	assert.Equal(t, "DISABLED DRY_RUN", ev[0]["using"])
}

// A change while the store refuses writes is in force in the process at once,
// pending for the fleet, and published by the retry loop once the store answers.
func TestChangeWhileStoreIsDownTakesEffectAndIsPublishedLater(t *testing.T) {
	ctx := context.Background()
	shared := memStore(t)
	fs := &flakyStore{Store: shared}
	tg := newTarget()
	var logs logSink
	c := newControl(t, control.Options{Store: fs, Target: tg, RetryInterval: 5 * time.Millisecond, Logger: logs.logger()})
	fs.down.Store(true)
	_, err := c.Disable(ctx, "alice", "incident 42")
	require.NoError(t, err, "the kill switch works while its store is down")
	assert.False(t, c.Enabled())
	tg.waitFor(t, false, false, time.Second)
	assert.True(t, c.Status().PendingFleet)

	fs.down.Store(false)
	require.Eventually(t, func() bool { return !c.Status().PendingFleet }, 5*time.Second, 5*time.Millisecond)
	ev := logs.events("control.pending_published")
	require.Len(t, ev, 1)
	assert.EqualValues(t, 1, ev[0]["decisions"])
	assert.Len(t, logs.events("control.state_unreadable"), 1, "the outage is logged once")
	b, err := shared.Get(ctx, control.StateKey)
	require.NoError(t, err)
	s, err := control.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
	assert.Equal(t, "incident 42", s.Reason)
}

func TestCorruptStateIsKeptAsideAndLogged(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	require.NoError(t, st.Set(ctx, control.StateKey, []byte("not json"), 0))
	var logs logSink
	c := newControl(t, control.Options{Store: st, Logger: logs.logger()})
	assert.True(t, c.Enabled())
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	aside, _ := ev[0]["set_aside"].(string)
	require.NotEmpty(t, aside)
	assert.Contains(t, ev[0]["error"], control.StateKey)
	v, err := st.Get(ctx, aside)
	require.NoError(t, err)
	assert.Equal(t, "not json", string(v), "the bad bytes are kept")
	_, err = c.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	b, err := st.Get(ctx, control.StateKey)
	require.NoError(t, err)
	s, err := control.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
}

// legacyState is a control.json as earlier versions wrote it.
const legacyState = `{
  "schema": 1,
  "kill_switch": "DISABLED",
  "mode": "DRY_RUN",
  "reason": "rehearsal",
  "changed_by": "bob",
  "changed_at": "2025-03-01T12:01:00Z",
  "revision": 2,
  "history": [
    {"at": "2025-03-01T12:00:00Z", "who": "alice", "action": "disable", "reason": "incident 42", "kill_switch": "DISABLED", "mode": "LIVE", "revision": 1},
    {"at": "2025-03-01T12:01:00Z", "who": "bob", "action": "dry_run_on", "reason": "rehearsal", "kill_switch": "DISABLED", "mode": "DRY_RUN", "revision": 2}
  ]
}
`

func TestLegacyStateFileIsMovedIntoTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "control.json")
	require.NoError(t, os.WriteFile(path, []byte(legacyState), 0o600))
	emb, err := store.OpenEmbedded(filepath.Join(dir, "store"), store.EmbeddedOptions{Logger: quietLogger()})
	require.NoError(t, err)
	var logs logSink
	c1, err := control.New(ctx, control.Options{Store: emb, LegacyFile: path, Logger: logs.logger(), PollInterval: -1})
	require.NoError(t, err)
	assert.False(t, c1.Enabled())
	assert.True(t, c1.DryRun())
	require.Len(t, c1.History(), 2)
	assert.Equal(t, "incident 42", c1.History()[1].Reason)
	require.Len(t, logs.events("control.state_migrated"), 1)
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	kept, err := os.ReadFile(path + ".migrated")
	require.NoError(t, err)
	assert.Equal(t, legacyState, string(kept), "the old file is kept, renamed")

	// A later change keeps the old history and decides against the migrated state.
	_, err = c1.Enable(ctx, "carol", "over")
	require.NoError(t, err)
	require.NoError(t, c1.Close())
	require.NoError(t, emb.Close())

	emb, err = store.OpenEmbedded(filepath.Join(dir, "store"), store.EmbeddedOptions{Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { emb.Close() })
	c2 := newControl(t, control.Options{Store: emb, LegacyFile: path})
	assert.True(t, c2.Enabled(), "the state survives a restart in the embedded store")
	assert.True(t, c2.DryRun())
	assert.Len(t, c2.History(), 3)
}

func TestCorruptLegacyStateFileIsSetAsideAndNamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"schema":1,"kill_switch":"DISABL`), 0o600))
	var logs logSink
	c := newControl(t, control.Options{Store: memStore(t), LegacyFile: path, Logger: logs.logger()})
	assert.True(t, c.Enabled())
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	assert.Equal(t, path, ev[0]["file"])
	assert.Contains(t, ev[0]["error"], path, "the error names the file")
	aside, _ := ev[0]["set_aside"].(string)
	b, err := os.ReadFile(aside)
	require.NoError(t, err)
	assert.Equal(t, `{"schema":1,"kill_switch":"DISABL`, string(b), "the bad bytes are kept")
}

func TestUnreadableLegacyStateFileIsLeftAndNamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.json")
	require.NoError(t, os.Mkdir(path, 0o700)) // a directory where the file should be
	var logs logSink
	c := newControl(t, control.Options{Store: memStore(t), LegacyFile: path, Logger: logs.logger()})
	assert.True(t, c.Enabled())
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	assert.Contains(t, ev[0]["error"], path)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, fi.IsDir(), "an unreadable (not corrupt) file is left where it is")
}

func TestTwoControlsOnOneStoreFollowEachOther(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	a := newControl(t, control.Options{Store: st})
	tg := newTarget()
	var logs logSink
	b := newControl(t, control.Options{Store: st, Target: tg, Logger: logs.logger()}) // polling off: the change feed only
	_, err := a.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	tg.waitFor(t, false, false, time.Second)
	assert.Equal(t, "alice", b.Status().ChangedBy)
	// The target is set just before the event is logged.
	require.Eventually(t, func() bool { return len(logs.events("control.state_synced")) > 0 }, time.Second, time.Millisecond)
	assert.Equal(t, "alice", logs.events("control.state_synced")[0]["changed_by"])
	_, err = b.StartDryRun(ctx, "bob", "")
	require.NoError(t, err)
	require.Eventually(t, a.DryRun, time.Second, time.Millisecond)
	assert.Len(t, a.History(), 2)
}

func TestPollingPicksUpChanges(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	a := newControl(t, control.Options{Store: st})
	tg := newTarget()
	// A store whose change feed is silent: only polling can tell.
	newControl(t, control.Options{Store: silentFeed{st}, Target: tg, PollInterval: 10 * time.Millisecond})
	_, err := a.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	tg.waitFor(t, false, false, 5*time.Second)
}

type silentFeed struct{ store.Store }

func (silentFeed) Subscribe(context.Context, ...string) (store.Subscription, error) {
	return nil, fmt.Errorf("no feed here: %w", store.ErrUnavailable)
}

func TestConcurrentChangesAreSerialised(t *testing.T) {
	ctx := context.Background()
	st := memStore(t)
	a := newControl(t, control.Options{Store: st, HistoryLimit: 1000})
	b := newControl(t, control.Options{Store: st, HistoryLimit: 1000})
	var wg sync.WaitGroup
	for i := range 40 {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Disable(ctx, "alice", "r")
			assert.NoError(t, err)
		}()
	}
	await.Wait(t, &wg, "the concurrent control changes")
	raw, err := st.Get(ctx, control.StateKey)
	require.NoError(t, err)
	s, err := control.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, uint64(40), s.Revision, "no change lost")
	assert.Len(t, s.History, 40)
	n, err := st.Len(ctx, control.DecisionsKey)
	require.NoError(t, err)
	assert.Zero(t, n, "every journaled decision folded")
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// gatedStore blocks every Get while gate is closed, as a Redis that hangs.
type gatedStore struct {
	store.Store
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedStore) Get(ctx context.Context, key string) ([]byte, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Store.Get(ctx, key)
}

// No lock is held across a store call: while a refresh hangs on the store,
// the kill switch still takes effect in the process at once.
func TestAChangeTakesEffectWhileTheStoreHangs(t *testing.T) {
	ctx := context.Background()
	g := &gatedStore{Store: memStore(t), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	close(g.gate) // open for New
	c := newControl(t, control.Options{Store: g, RetryInterval: -1})
	g.gate = make(chan struct{}) // the store goroutine reads g.gate only after the next request
	refreshed := make(chan error, 1)
	go func() { refreshed <- c.Refresh(ctx) }()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not reach the store within 5s")
	}
	changed := make(chan error, 1)
	go func() { _, err := c.Disable(ctx, "alice", "incident 42"); changed <- err }()
	require.Eventually(t, func() bool { return !c.Enabled() }, 5*time.Second, time.Millisecond,
		"the kill switch waited for the hung store")
	assert.True(t, c.Status().PendingFleet)
	close(g.gate)
	for _, ch := range []chan error{refreshed, changed} {
		select {
		case err := <-ch:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("a call did not return within 5s of the store answering")
		}
	}
	assert.False(t, c.Enabled(), "the refresh that ran meanwhile did not undo the change")
	assert.False(t, c.Status().PendingFleet)
}
