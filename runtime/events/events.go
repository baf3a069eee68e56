// Package events turns baldur's log events into what an operator expects: a
// slog.Handler wrapper that derives each event's level from its name and
// filters it by a global level and per-family overrides.
//
// Events are named {component}.{entity}_{action}, e.g. cb.state_changed or
// dlq.entry_parked; the family is the component (cb, dlq, store, ...), and
// replay for the dead-letter queue's replay events (see Family).
// The level comes from the action's suffix (LevelFor):
//
//	_failed, _blocked, _timeout, _exhausted  at least WARN
//	_error                                   ERROR
//	_changed, _updated                       INFO
//	anything else                            the level it was logged at
//
// slog asks Enabled before the record (and so its name) exists, and the
// suffix may raise any record to ERROR: Enabled therefore lets every record
// through to Handle, which derives the level and filters. A record below
// every threshold costs its construction (a few hundred nanoseconds) before
// it is dropped; the runtime logs at DEBUG only off the hot path.
//
// runtime.FromEnv installs New over a text handler on stderr when
// BALDUR_LOG_LEVEL or a family override is set, and Wrap over slog.Default's
// handler otherwise. A *slog.Logger passed in runtime.Config is used as it is:
// wrap its handler with Wrap (suffix rule) or New (rule and thresholds) to get
// the same behaviour.
//
// Errors: the package's only errors are about environment variables, and
// read `NAME="value": cause` like every other variable's (internal/env);
// ParseLevel returns the bare cause for its caller to name.
package events

import (
	"context"
	"log/slog"
	"strings"
)

// Family returns the family of an event name: its component, the part
// before the first dot ("cb" for "cb.state_changed"), except for the
// dead-letter queue's replay events (dlq.entry_replayed, dlq.replay_*,
// dlq.batch_*, dlq.sweep_*, dlq.lease_*, dlq.entry_redriven), whose family
// is "replay": a family within dlq, which takes dlq's threshold unless it
// has its own. A message that is not an event name (it has no dot, or
// contains a space) has no family: "".
func Family(name string) string {
	if !isEventName(name) {
		return ""
	}
	fam, _, _ := strings.Cut(name, ".")
	if fam == "dlq" && isReplayEvent(name) {
		return "replay"
	}
	return fam
}

// replayEvents are the prefixes of the dlq events that belong to "replay".
var replayEvents = []string{
	"dlq.replay_", "dlq.entry_replayed", "dlq.entry_redriven", "dlq.batch_", "dlq.sweep_", "dlq.lease_", "dlq.leases_",
}

func isReplayEvent(name string) bool {
	for _, p := range replayEvents {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// parentFamily is the family whose threshold a family within it falls back to.
func parentFamily(family string) string {
	if family == "replay" {
		return "dlq"
	}
	return ""
}

// isEventName reports whether msg looks like {component}.{entity}_{action}:
// free text such as "request failed" is left alone by the suffix rule.
func isEventName(msg string) bool {
	dot := strings.IndexByte(msg, '.')
	return dot > 0 && dot < len(msg)-1 && !strings.ContainsAny(msg, " \t\n")
}

// suffixes maps an action suffix to the level it implies and whether that
// level is a floor (at least) or exact.
var suffixes = []struct {
	suffix string
	level  slog.Level
	floor  bool
}{
	{"_failed", slog.LevelWarn, true},
	{"_blocked", slog.LevelWarn, true},
	{"_timeout", slog.LevelWarn, true},
	{"_exhausted", slog.LevelWarn, true},
	{"_error", slog.LevelError, false},
	{"_changed", slog.LevelInfo, false},
	{"_updated", slog.LevelInfo, false},
}

// LevelFor returns the level of event name logged at level: raised to WARN
// for _failed/_blocked/_timeout/_exhausted (an ERROR stays ERROR), ERROR for
// _error, INFO for _changed/_updated, and level itself for anything else
// (including messages that are not event names).
func LevelFor(name string, level slog.Level) slog.Level {
	if !isEventName(name) {
		return level
	}
	for _, s := range suffixes {
		if strings.HasSuffix(name, s.suffix) {
			if s.floor {
				return max(level, s.level)
			}
			return s.level
		}
	}
	return level
}

// Options are the thresholds New applies. The zero value applies none: the
// inner handler alone decides what is written.
type Options struct {
	// Level is the threshold of every event whose family has no override.
	// nil: no global threshold (the inner handler's own level applies).
	Level slog.Leveler
	// Families maps a family ("cb", "dlq", "replay", ...) to its own
	// threshold, which replaces Level for that family's events (it may be
	// lower or higher); replay events take dlq's when replay has none.
	Families map[string]slog.Leveler
}

// floor is the lowest threshold: below it nothing can be written.
func (o Options) floor() (slog.Level, bool) {
	var (
		lvl slog.Level
		set bool
	)
	if o.Level != nil {
		lvl, set = o.Level.Level(), true
	}
	for _, l := range o.Families {
		if l == nil {
			continue
		}
		if !set || l.Level() < lvl {
			lvl, set = l.Level(), true
		}
	}
	return lvl, set
}

// Floor returns the lowest threshold of o (INFO when o sets none): an inner
// handler built for New should let at least this level through.
func (o Options) Floor() slog.Level {
	if l, ok := o.floor(); ok {
		return l
	}
	return slog.LevelInfo
}

// Handler applies the suffix rule and the thresholds, then hands the record
// to the inner handler at its derived level. It is safe for concurrent use.
type Handler struct {
	inner slog.Handler
	opts  Options
}

// New wraps inner: each record gets the level its name implies (LevelFor),
// is dropped when that level is below its family's threshold (or the global
// one), and is passed on otherwise.
func New(inner slog.Handler, opts Options) *Handler {
	fams := make(map[string]slog.Leveler, len(opts.Families))
	for f, l := range opts.Families {
		if l != nil {
			fams[strings.ToLower(f)] = l
		}
	}
	opts.Families = fams
	return &Handler{inner: inner, opts: opts}
}

// Wrap applies the suffix rule only and leaves every threshold to inner: the
// way to give your own handler baldur's levels, e.g.
// slog.New(events.Wrap(slog.NewJSONHandler(os.Stdout, nil))).
func Wrap(inner slog.Handler) *Handler { return New(inner, Options{}) }

// Inner returns the wrapped handler.
func (h *Handler) Inner() slog.Handler { return h.inner }

// Enabled reports whether a record logged at level may be written once its
// name is known: true unless even an ERROR would be dropped (every threshold,
// or inner, above ERROR), since the suffix rule can raise any record to ERROR.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	if floor, ok := h.opts.floor(); ok {
		return level >= floor || floor <= slog.LevelError
	}
	return h.inner.Enabled(ctx, level) || h.inner.Enabled(ctx, slog.LevelError)
}

// threshold returns the threshold of family, and false when none applies.
func (h *Handler) threshold(family string) (slog.Level, bool) {
	for f := family; f != ""; f = parentFamily(f) {
		if l, ok := h.opts.Families[f]; ok {
			return l.Level(), true
		}
	}
	if h.opts.Level != nil {
		return h.opts.Level.Level(), true
	}
	return 0, false
}

// Handle derives the level, filters, and passes the record on.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	lvl := LevelFor(r.Message, r.Level)
	if th, ok := h.threshold(Family(r.Message)); ok && lvl < th {
		return nil
	}
	// Enabled did not ask inner about this level.
	if !h.inner.Enabled(ctx, lvl) {
		return nil
	}
	r.Level = lvl
	return h.inner.Handle(ctx, r)
}

// WithAttrs returns a Handler whose inner handler has attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), opts: h.opts}
}

// WithGroup returns a Handler whose inner handler opens group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), opts: h.opts}
}
