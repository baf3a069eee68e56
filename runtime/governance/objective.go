package governance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/store"
)

// EnvObjectivePrefix starts the variables that set a service's objective:
// BALDUR_SLO_<SERVICE>, the service name upper-cased with every character
// other than a letter or digit as "_" (payments-v2: BALDUR_SLO_PAYMENTS_V2).
const EnvObjectivePrefix = "BALDUR_SLO_"

// DefaultObjectiveWindow is the window of an objective written without one.
const DefaultObjectiveWindow = 30 * 24 * time.Hour

// maxObjectiveWindow bounds a window: the ledger keeps one bucket per day.
const maxObjectiveWindow = 366 * 24 * time.Hour

// Objective is a service's availability objective: the share of calls that
// must succeed over a rolling window, e.g. 99.9 % over 30 days. Its error
// budget is the failures that share allows.
type Objective struct {
	Target float64       `json:"target"` // 0 < Target < 1, e.g. 0.999
	Window time.Duration `json:"window"` // whole days
}

// String writes the objective as it is read: "99.9%/30d".
func (o Objective) String() string {
	return strconv.FormatFloat(o.Target*100, 'f', -1, 64) + "%/" + strconv.Itoa(int(o.Window/(24*time.Hour))) + "d"
}

// ParseObjective reads "99.9%", "99.9" or "99.9%/7d": a percentage strictly
// between 0 and 100, and a window of whole days (1d to 366d, default 30d).
func ParseObjective(s string) (Objective, error) {
	pct, win, hasWin := strings.Cut(strings.TrimSpace(s), "/")
	pct = strings.TrimSuffix(strings.TrimSpace(pct), "%")
	v, err := strconv.ParseFloat(pct, 64)
	if err != nil || math.IsNaN(v) || v <= 0 || v >= 100 {
		return Objective{}, errors.New(`want a percentage between 0 and 100 with an optional window of days, such as "99.9%" or "99.5%/7d"`)
	}
	o := Objective{Target: v / 100, Window: DefaultObjectiveWindow}
	if hasWin {
		days, ok := strings.CutSuffix(strings.TrimSpace(win), "d")
		n, err := strconv.Atoi(days)
		if !ok || err != nil || n < 1 || time.Duration(n)*24*time.Hour > maxObjectiveWindow {
			return Objective{}, fmt.Errorf("window %q: want whole days from 1d to 366d, such as \"30d\"", win)
		}
		o.Window = time.Duration(n) * 24 * time.Hour
	}
	return o, nil
}

// EnvName returns the variable that sets service's objective.
func EnvName(service string) string {
	return EnvObjectivePrefix + envKey(service)
}

func envKey(service string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, service)
}

// Objectives are the objectives by service; read them with ObjectivesFromEnv.
type Objectives map[string]Objective // keyed by the variable's suffix (see EnvName)

// For returns service's objective.
func (o Objectives) For(service string) (Objective, bool) {
	v, ok := o[envKey(service)]
	return v, ok
}

// ObjectivesFromEnv reads every BALDUR_SLO_<SERVICE> of environ (KEY=VALUE
// lines, as os.Environ returns) through r, which collects a bad value as an
// error naming the variable and the value.
func ObjectivesFromEnv(r *env.Reader, environ []string) Objectives {
	out := Objectives{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		key, ok := strings.CutPrefix(name, EnvObjectivePrefix)
		if !ok {
			continue
		}
		var raw string
		if key == "" {
			r.Add(fmt.Errorf("%s: want %s<SERVICE>, the service name upper-cased", name, EnvObjectivePrefix))
			continue
		}
		if r.String(name, func(v string) error { _, err := ParseObjective(v); return err }, &raw) {
			o, _ := ParseObjective(raw)
			out[key] = o
		}
	}
	return out
}

// Ledger counts calls and failures per service and day in a store, so that
// an error budget over 30 days survives restarts and adds up the fleet:
// every process adds what it counted since its last flush.
type Ledger struct {
	Store store.Store
	// Retention is how long a day's bucket is kept. Default 367 days (the
	// longest window plus one).
	Retention time.Duration
}

func bucketKeys(service string, day time.Time) (calls, failures string) {
	d := day.UTC().Format("20060102")
	tag := "{budget:" + service + "}"
	return tag + ":calls:" + d, tag + ":failures:" + d
}

// Add counts calls and failures (deltas) for service on the day of at.
func (l *Ledger) Add(ctx context.Context, service string, at time.Time, calls, failures uint64) error {
	if calls == 0 && failures == 0 {
		return nil
	}
	if calls > math.MaxInt64 || failures > math.MaxInt64 {
		return fmt.Errorf("budget ledger: delta %d/%d too large", calls, failures)
	}
	keep := l.Retention
	if keep <= 0 {
		keep = maxObjectiveWindow + 24*time.Hour
	}
	ck, fk := bucketKeys(service, at)
	_, err := l.Store.Atomic(ctx, store.Txn{Ops: []store.Op{
		store.IncrOp(ck, int64(calls), keep), store.IncrOp(fk, int64(failures), keep)}})
	if err != nil {
		return fmt.Errorf("budget ledger: add for %s: %w", service, err)
	}
	return nil
}

// Window returns the calls and failures of service over the window days
// ending with the day of now (today counts in full as far as it has gone).
func (l *Ledger) Window(ctx context.Context, service string, now time.Time, window time.Duration) (calls, failures uint64, err error) {
	days := int(window / (24 * time.Hour))
	if days < 1 {
		days = 1
	}
	keys := make([]string, 0, 2*days)
	for i := range days {
		ck, fk := bucketKeys(service, now.AddDate(0, 0, -i))
		keys = append(keys, ck, fk)
	}
	vals, err := l.Store.GetMany(ctx, keys...)
	if err != nil {
		return 0, 0, fmt.Errorf("budget ledger: read %s: %w", service, err)
	}
	for i, v := range vals {
		if v == nil {
			continue
		}
		n, perr := strconv.ParseUint(string(v), 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("budget ledger: %s holds %q, not a count", keys[i], v)
		}
		if i%2 == 0 {
			calls += n
		} else {
			failures += n
		}
	}
	return calls, failures, nil
}

// Budget is an error budget evaluated over its window.
type Budget struct {
	Service   string    `json:"service"`
	Objective Objective `json:"objective"`
	Calls     uint64    `json:"calls"`
	Failures  uint64    `json:"failures"`
	// Allowed is the failures the objective allows over these calls.
	Allowed float64 `json:"allowed"`
	// Remaining is the share of the budget left: 1 untouched, 0 or less spent.
	Remaining float64 `json:"remaining"`
}

// Exhausted reports whether the failures reached what the objective allows
// (within a rounding error: 99.9 % of 10 000 calls allows 10 failures, not
// 10.000000000000009).
func (b Budget) Exhausted() bool {
	return b.Failures > 0 && float64(b.Failures) >= b.Allowed*(1-1e-9)
}

// NewBudget evaluates o over calls and failures.
func NewBudget(service string, o Objective, calls, failures uint64) Budget {
	b := Budget{Service: service, Objective: o, Calls: calls, Failures: failures, Remaining: 1}
	b.Allowed = (1 - o.Target) * float64(calls)
	if calls > 0 && b.Allowed > 0 {
		b.Remaining = 1 - float64(failures)/b.Allowed
	} else if failures > 0 {
		b.Remaining = 0
	}
	if b.Exhausted() {
		b.Remaining = min(b.Remaining, 0)
	}
	return b
}
