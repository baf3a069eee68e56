package events_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/events"
)

func TestReplayEventsHaveTheirOwnFamilyWithinDLQ(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"dlq.entry_replayed":      "replay",
		"dlq.replay_duplicate":    "replay",
		"dlq.replay_outcome_lost": "replay",
		"dlq.batch_finished":      "replay",
		"dlq.sweep_held":          "replay",
		"dlq.lease_expired":       "replay",
		"dlq.entry_redriven":      "replay",
		"dlq.entry_parked":        "dlq",
		"dlq.entry_evicted":       "dlq",
		"cb.state_changed":        "cb",
	} {
		assert.Equal(t, want, events.Family(name), name)
	}

	written := func(opts events.Options) map[string]slog.Level {
		capt := newCapture(slog.LevelDebug)
		log := slog.New(events.New(capt, opts))
		log.Info("dlq.entry_replayed")
		log.Info("dlq.entry_parked")
		log.Info("cb.state_changed")
		return capt.levels()
	}
	// BALDUR_EVENT_LOGGING_REPLAY_LOG_LEVEL=debug under a WARN default: the
	// replay events are written, the other dlq events are not.
	got := written(events.Options{Level: slog.LevelWarn, Families: map[string]slog.Leveler{"replay": slog.LevelDebug}})
	assert.Equal(t, map[string]slog.Level{"dlq.entry_replayed": slog.LevelInfo}, got)
	// replay=error quiets them while dlq stays at its own level.
	got = written(events.Options{Families: map[string]slog.Leveler{"replay": slog.LevelError, "dlq": slog.LevelInfo}})
	assert.NotContains(t, got, "dlq.entry_replayed")
	assert.Contains(t, got, "dlq.entry_parked")
	// Without an override of its own, replay takes dlq's.
	got = written(events.Options{Level: slog.LevelInfo, Families: map[string]slog.Leveler{"dlq": slog.LevelError}})
	assert.Equal(t, map[string]slog.Level{"cb.state_changed": slog.LevelInfo}, got)
}

func TestAFamilyWithNoEventsIsRefused(t *testing.T) {
	t.Parallel()
	for _, fam := range []string{"SLA", "FALLBACK", "METRICS"} {
		name := "BALDUR_EVENT_LOGGING_" + fam + "_LOG_LEVEL"
		lookup := func(k string) (string, bool) {
			if k == name {
				return "debug", true
			}
			return "", false
		}
		_, _, err := events.FromEnv(lookup, []string{name + "=debug"})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name+`="debug": baldur `)
		assert.Contains(t, err.Error(), "so this override would do nothing: unset it")
	}
}

var eventName = regexp.MustCompile(`^[a-z]+\.[a-z]+_[a-z_]+$`)

// notEvents are literals shaped like event names that are not logged: the
// audit trail's action names for what it reads from events, and span event
// attributes.
var notEvents = map[string]bool{"breaker.state_changed": true, "baldur.delay_ms": true}

// TestEveryFamilyHasEvents scans the library's sources for event names and
// fails on a family in events.Families that none of them belongs to: an
// override of that family would be accepted and do nothing.
func TestEveryFamilyHasEvents(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && eventName.MatchString(s) && !notEvents[s] {
					seen[events.Family(s)] = true
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	for _, fam := range events.Families {
		assert.True(t, seen[fam], "family %q is in events.Families but no event of it is logged anywhere", fam)
	}
	// And the other way: an override of a family that logs events must be accepted.
	for fam := range seen {
		assert.True(t, slices.Contains(events.Families, fam),
			"events of family %q are logged, but BALDUR_EVENT_LOGGING_%s_LOG_LEVEL would be refused: add it to events.Families", fam, strings.ToUpper(fam))
	}
}
