package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/control"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(redisChild())
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
	c := newControl(t, control.Options{Target: tg, Clock: fc})

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

// failingBackend answers every call with err.
type failingBackend struct{ err error }

func (f failingBackend) Load(context.Context) (control.State, error) { return control.State{}, f.err }
func (f failingBackend) Update(context.Context, func(control.State) (control.State, error)) (control.State, error) {
	return control.State{}, f.err
}
func (failingBackend) Describe() string { return "failing" }
func (failingBackend) Close() error     { return nil }

func TestUnreadableBackendMeansEnabledAndLiveAndIsLogged(t *testing.T) {
	var logs logSink
	tg := newTarget()
	tg.enabled = false
	c := newControl(t, control.Options{Backend: failingBackend{errors.New("disk on fire")}, Target: tg, Logger: logs.logger()})
	assert.True(t, c.Enabled())
	assert.False(t, c.DryRun())
	e, _ := tg.get()
	assert.True(t, e)
	st := c.Status()
	assert.Contains(t, st.StateError, "disk on fire")
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	assert.Equal(t, "ERROR", ev[0]["level"])
	assert.Equal(t, "ENABLED LIVE", ev[0]["using"])

	_, err := c.Disable(context.Background(), "alice", "incident")
	require.ErrorContains(t, err, "disk on fire")
	assert.True(t, c.Enabled(), "a failed write changes nothing")
}

func TestFilePersistsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".baldur")
	c1, err := control.New(ctx, control.Options{Backend: control.NewFileInDir(dir), PollInterval: -1})
	require.NoError(t, err)
	_, err = c1.Disable(ctx, "alice", "incident 42")
	require.NoError(t, err)
	_, err = c1.StartDryRun(ctx, "alice", "")
	require.NoError(t, err)
	require.NoError(t, c1.Close())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"control.json", "control.json.lock"}, names, "no temporary file left behind")

	tg := newTarget()
	c2 := newControl(t, control.Options{Backend: control.NewFileInDir(dir), Target: tg})
	assert.False(t, c2.Enabled())
	assert.True(t, c2.DryRun())
	tg.waitFor(t, false, true, time.Second)
	assert.Equal(t, "incident 42", c2.History()[1].Reason)
	assert.Equal(t, "file:"+filepath.Join(dir, "control.json"), c2.Status().Backend)
}

func TestFileLoadCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	s, err := control.NewFileInDir(dir).Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, control.Default(), s)
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestFileCorruptStateIsKeptAsideAndLogged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "control.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"schema":1,"kill_switch":"DISABL`), 0o600))

	var logs logSink
	c := newControl(t, control.Options{Backend: control.NewFile(path), Logger: logs.logger()})
	assert.True(t, c.Enabled())
	assert.False(t, c.DryRun())
	ev := logs.events("control.state_unreadable")
	require.Len(t, ev, 1)
	aside, _ := ev[0]["set_aside"].(string)
	require.NotEmpty(t, aside)
	b, err := os.ReadFile(aside)
	require.NoError(t, err)
	assert.Equal(t, `{"schema":1,"kill_switch":"DISABL`, string(b), "the bad bytes are kept")
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Corrupted again behind the Control's back: the next change logs, keeps it aside, then writes.
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	_, err = c.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	ev = logs.events("control.state_unreadable")
	require.Len(t, ev, 2)
	aside2, _ := ev[1]["set_aside"].(string)
	b, err = os.ReadFile(aside2)
	require.NoError(t, err)
	assert.Equal(t, "garbage", string(b))
	s, err := control.NewFile(path).Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, control.Disabled, s.KillSwitch)
}

func TestFileUnreadableKeepsDefaultsAndReportsIt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.json")
	require.NoError(t, os.Mkdir(path, 0o700)) // a directory where the file should be: unreadable
	var logs logSink
	c := newControl(t, control.Options{Backend: control.NewFile(path), Logger: logs.logger()})
	assert.True(t, c.Enabled())
	assert.NotEmpty(t, c.Status().StateError)
	require.Len(t, logs.events("control.state_unreadable"), 1)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, fi.IsDir(), "an unreadable (not corrupt) state is left where it is")
}

func TestFileSharedByTwoControlsSyncsOnRefresh(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := newControl(t, control.Options{Backend: control.NewFileInDir(dir)})
	tg := newTarget()
	var logs logSink
	b := newControl(t, control.Options{Backend: control.NewFileInDir(dir), Target: tg, Logger: logs.logger()})
	_, err := a.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	assert.True(t, b.Enabled(), "b has not looked yet")
	require.NoError(t, b.Refresh(ctx))
	assert.False(t, b.Enabled())
	tg.waitFor(t, false, false, time.Second)
	ev := logs.events("control.state_synced")
	require.Len(t, ev, 1)
	assert.Equal(t, "alice", ev[0]["changed_by"])
}

func TestPollingPicksUpChanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := newControl(t, control.Options{Backend: control.NewFileInDir(dir)})
	tg := newTarget()
	newControl(t, control.Options{Backend: control.NewFileInDir(dir), Target: tg, PollInterval: 10 * time.Millisecond})
	_, err := a.Disable(ctx, "alice", "incident")
	require.NoError(t, err)
	tg.waitFor(t, false, false, 5*time.Second)
}

func TestConcurrentChangesAreSerialised(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := newControl(t, control.Options{Backend: control.NewFileInDir(dir), HistoryLimit: 1000})
	b := newControl(t, control.Options{Backend: control.NewFileInDir(dir), HistoryLimit: 1000})
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
	wg.Wait()
	s, err := control.NewFileInDir(dir).Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(40), s.Revision, "no update lost")
	assert.Len(t, s.History, 40)
}
