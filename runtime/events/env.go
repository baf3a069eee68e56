package events

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// Environment variables read by FromEnv.
const (
	// EnvLevel is the global threshold: debug, info, warn (or warning), error.
	EnvLevel = "BALDUR_LOG_LEVEL"
	// envFamilyPrefix and envFamilySuffix frame a per-family override:
	// BALDUR_EVENT_LOGGING_<FAMILY>_LOG_LEVEL.
	envFamilyPrefix = "BALDUR_EVENT_LOGGING_"
	envFamilySuffix = "_LOG_LEVEL"
)

// Families are the event families baldur emits, the ones a per-family
// override may name. cb: breakers; dlq: dead-letter queue; replay: its
// replays (see Family); the others are named after their package. Every one
// has events (a test scans the sources for them).
var Families = []string{
	"admin", "audit", "cache", "canary", "cb", "chaos", "concurrency", "control", "dlq", "dryrun", "emergency", "governance", "hedge", "idem",
	"leader", "notify", "policy", "protect", "rate", "replay", "report", "retry", "runtime", "schedule", "store",
	"throttle", "watchdog",
}

// silentFamilies are families an operator may expect (Python Baldur has
// them) for which baldur logs nothing: an override naming one would do
// nothing, so it is refused with the reason.
var silentFamilies = map[string]string{
	"sla":      "baldur has no latency objectives (SLA) and logs no sla events",
	"fallback": "baldur logs no fallback events (a fallback's answer is counted in baldur_calls_total{outcome=\"fallback\"})",
	"metrics":  "baldur logs no metrics events (the collector reads counters at scrape time)",
	"bulkhead": "baldur logs no bulkhead events (a refusal is counted in baldur_calls_total{outcome=\"rejected_bulkhead\"})",
	"timeout":  "baldur logs no timeout events (a timed-out attempt is counted in baldur_timeouts_total)",
}

// FamilyVar returns the override variable of family, e.g.
// BALDUR_EVENT_LOGGING_CB_LOG_LEVEL for "cb".
func FamilyVar(family string) string {
	return envFamilyPrefix + strings.ToUpper(family) + envFamilySuffix
}

// ParseLevel reads a level name: debug, info, warn or warning, error (any case).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("want debug, info, warn or error")
}

// FromEnv reads BALDUR_LOG_LEVEL and the per-family overrides
// BALDUR_EVENT_LOGGING_<FAMILY>_LOG_LEVEL. lookup reads a variable; environ
// lists the environment as KEY=VALUE (os.Environ()) so that an override
// naming no known family, such as BALDUR_EVENT_LOGGING_CBB_LOG_LEVEL, is an
// error instead of being silently ignored. set reports whether any of the
// variables is present. Every bad variable is named in the error, with its value.
func FromEnv(lookup func(string) (string, bool), environ []string) (opts Options, set bool, err error) {
	var errs []error
	level := func(name string) (slog.Level, bool) {
		v, ok := lookup(name)
		if !ok {
			return 0, false
		}
		set = true
		l, perr := ParseLevel(v)
		if perr != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, perr))
			return 0, false
		}
		return l, true
	}
	if l, ok := level(EnvLevel); ok {
		opts.Level = l
	}
	known := map[string]bool{}
	for _, f := range Families {
		known[FamilyVar(f)] = true
		if l, ok := level(FamilyVar(f)); ok {
			if opts.Families == nil {
				opts.Families = map[string]slog.Leveler{}
			}
			opts.Families[f] = l
		}
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envFamilyPrefix) && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for i, name := range unknown {
		if i > 0 && unknown[i-1] == name {
			continue
		}
		v, ok := lookup(name)
		if !ok {
			continue // listed but not visible through lookup: not ours to judge
		}
		set = true
		hint := fmt.Sprintf("no event family %q; known families: %s", familyOf(name), strings.Join(Families, ", "))
		if why, ok := silentFamilies[familyOf(name)]; ok {
			hint = why + ", so this override would do nothing: unset it (known families: " + strings.Join(Families, ", ") + ")"
		}
		if !strings.HasSuffix(name, envFamilySuffix) {
			hint = "not a baldur variable; per-family overrides are named " + envFamilyPrefix + "<FAMILY>" + envFamilySuffix
		}
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, v, hint))
	}
	if len(errs) > 0 {
		return Options{}, true, errors.Join(errs...)
	}
	return opts, set, nil
}

// familyOf extracts <FAMILY> from BALDUR_EVENT_LOGGING_<FAMILY>_LOG_LEVEL, lower-cased.
func familyOf(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(name, envFamilyPrefix), envFamilySuffix))
}
