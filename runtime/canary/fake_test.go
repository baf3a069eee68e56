package canary_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/canary"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakeEngine is one process's override engine: the canary staged per
// rollout, the counters the test feeds (they start again at each staging),
// and the overrides committed.
type fakeEngine struct {
	mu        sync.Mutex
	staged    map[string]fakeCanary // by rollout ID
	cohorts   map[string][2]canary.Cohort
	committed []string
	commitErr error
	changed   chan struct{}
}

type fakeCanary struct {
	scope    canary.Scope
	fraction float64
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{staged: map[string]fakeCanary{}, cohorts: map[string][2]canary.Cohort{}, changed: make(chan struct{}, 1)}
}

var keyTypes = map[string]string{
	"retry": canary.TypeRetry, "backoff": canary.TypeRetry, "timeout": canary.TypeTimeout,
	"breaker": canary.TypeBreaker, "cb_failure_threshold": canary.TypeBreaker, "bulkhead": canary.TypeBulkhead,
}

// Validate reads key=value pairs separated by spaces.
func (f *fakeEngine) Validate(_ canary.Scope, directive string) ([]string, error) {
	var types []string
	for i, kv := range strings.Fields(directive) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("key %d %q: want key=value", i+1, kv)
		}
		t, known := keyTypes[k]
		if !known {
			return nil, fmt.Errorf("key %q: not a policy key", k)
		}
		types = append(types, t)
	}
	return types, nil
}

func (f *fakeEngine) Stage(_ context.Context, r canary.Rollout, fraction float64) error {
	f.mu.Lock()
	f.staged[r.ID] = fakeCanary{scope: r.Scope, fraction: fraction}
	delete(f.cohorts, r.ID)
	f.mu.Unlock()
	f.signal()
	return nil
}

func (f *fakeEngine) Unstage(_ context.Context, r canary.Rollout, _ string) error {
	f.mu.Lock()
	delete(f.staged, r.ID)
	f.mu.Unlock()
	f.signal()
	return nil
}

func (f *fakeEngine) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeEngine) Staged(r canary.Rollout) (float64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.staged[r.ID]
	return v.fraction, ok
}

// stagedOn returns the fraction of the canary staged on scope s, if one is.
func (f *fakeEngine) stagedOn(s canary.Scope) (float64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.staged {
		if v.scope == s {
			return v.fraction, true
		}
	}
	return 0, false
}

func (f *fakeEngine) Cohorts(r canary.Rollout) (canary.Cohort, canary.Cohort, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cohorts[r.ID]
	return c[0], c[1], nil
}

func (f *fakeEngine) Commit(_ context.Context, r canary.Rollout) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commitErr != nil {
		return f.commitErr
	}
	delete(f.staged, r.ID)
	f.committed = append(f.committed, r.Scope.String()+": "+r.Directive)
	return nil
}

// feed adds calls to the cohorts of every canary staged on scope s:
// failures of calls, a latency sample for one call in four.
func (f *fakeEngine) feed(s canary.Scope, canaryCalls, canaryFails uint64, canaryLat time.Duration, baseCalls, baseFails uint64, baseLat time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, v := range f.staged {
		if v.scope == s {
			f.feedLocked(id, canaryCalls, canaryFails, canaryLat, baseCalls, baseFails, baseLat)
		}
	}
}

func (f *fakeEngine) feedLocked(id string, canaryCalls, canaryFails uint64, canaryLat time.Duration, baseCalls, baseFails uint64, baseLat time.Duration) {
	c := f.cohorts[id]
	c[0].Calls += canaryCalls
	c[0].Failures += canaryFails
	c[1].Calls += baseCalls
	c[1].Failures += baseFails
	for range canaryCalls / 4 {
		c[0].Latency.Observe(canaryLat)
	}
	for range baseCalls / 4 {
		c[1].Latency.Observe(baseLat)
	}
	f.cohorts[id] = c
}

func (f *fakeEngine) stagedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.staged)
}

func (f *fakeEngine) commits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.committed...)
}

type fakeChaos struct {
	mu     sync.Mutex
	active map[string]bool
}

func (c *fakeChaos) Active(service string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active[service]
}
