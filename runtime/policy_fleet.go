package runtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime/backoff"
)

// The fleet's protected methods, for checking an override (README, "Policy
// overrides"): every process publishes what an override of each of its
// methods meets (zoneFacts) under its own key, and a change is checked
// against the methods of every process that published, not only those of
// the process that takes it, so that an operator may tune a service from
// any process's admin server.
const (
	// PolicyZonesTask publishes this process's methods, on every process.
	PolicyZonesTask = "policy_zones"
	// policyZonesPrefix + node holds a process's zoneFacts (JSON).
	policyZonesPrefix = "policy:zones:"
	// policyZonesEvery is how often a process publishes; a record lives
	// three times as long, so a process that stopped drops out.
	policyZonesEvery = 10 * time.Second
	policyZonesTTL   = 3 * policyZonesEvery
)

// zoneFacts is what an override of one method meets: the directive's
// values of the keys an override checks against, and which policies the
// generated code and the runtime gave the method.
type zoneFacts struct {
	Service  string         `json:"service"`
	Method   string         `json:"method"`
	Attempts int            `json:"attempts,omitempty"`
	Backoff  backoff.Policy `json:"backoff,omitzero"`
	Timeout  time.Duration  `json:"timeout,omitempty"`
	Deadline time.Duration  `json:"deadline,omitempty"`
	Bulkhead int            `json:"bulkhead,omitempty"` // the compartment's size; 0: none
	// Bounded: the generated code bounds attempts (timeout=, or the default
	// timeout applies). OwnCompartment: the compartment is the one
	// bulkhead= made (not a registered one).
	Bounded        bool `json:"bounded,omitempty"`
	Breaker        bool `json:"breaker,omitempty"`
	OwnCompartment bool `json:"own_compartment,omitempty"`
}

func (f *zoneFacts) name() string { return f.Service + "." + f.Method }

// factsOf is what an override of z meets.
func factsOf(z *Zone) zoneFacts {
	s := z.spec
	f := zoneFacts{Service: s.Service, Method: s.Method, Attempts: s.Attempts, Backoff: s.Backoff, Timeout: s.Timeout,
		Deadline: s.Deadline, Bounded: z.bounded, Breaker: z.breaker != nil, OwnCompartment: ownCompartment(z)}
	if z.bulkhead != nil {
		f.Bulkhead = int(z.bulkhead.Max())
	}
	return f
}

// basePolicy is what a method's directive says for the keys an override
// meets.
func basePolicy(f *zoneFacts) annotations.Policy {
	var b annotations.Policy
	if f.Attempts > 0 {
		b.Retry = annotations.Opt[int]{Set: true, Val: f.Attempts}
		if f.Attempts == 1 {
			b.Retry.Val = 0 // retry=off
		}
	}
	if f.Backoff != (backoff.Policy{}) {
		b.Backoff = annotations.Opt[backoff.Policy]{Set: true, Val: f.Backoff}
	}
	if f.Timeout > 0 {
		b.Timeout = annotations.Opt[time.Duration]{Set: true, Val: f.Timeout}
	}
	if f.Deadline > 0 {
		b.Deadline = annotations.Opt[time.Duration]{Set: true, Val: f.Deadline}
	}
	if f.Bulkhead > 0 {
		b.Bulkhead = annotations.Opt[int]{Set: true, Val: f.Bulkhead}
	}
	return b
}

// publishedZones is one process's record.
type publishedZones struct {
	Node  string      `json:"node"`
	At    time.Time   `json:"at"`
	Zones []zoneFacts `json:"zones"`
}

// publishZones is PolicyZonesTask: this process's methods, for the fleet's
// checks.
func (rt *Runtime) publishZones(ctx context.Context) error {
	zs := rt.zonesSorted()
	rec := publishedZones{Node: rt.node, At: rt.clock.Now().UTC(), Zones: make([]zoneFacts, 0, len(zs))}
	for _, z := range zs {
		rec.Zones = append(rec.Zones, factsOf(z))
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return rt.store.Set(ctx, policyZonesPrefix+rt.node, b, policyZonesTTL)
}

// fleetFacts returns the facts of this process's methods and of the
// methods only other processes published, sorted by service and method. A
// store that cannot be read leaves this process's (logged): the check is
// then this process's alone, as it was before the fleet published.
func (rt *Runtime) fleetFacts(ctx context.Context) []zoneFacts {
	var out []zoneFacts
	seen := map[string]bool{}
	for _, z := range rt.zonesSorted() {
		f := factsOf(z)
		seen[f.name()] = true
		out = append(out, f)
	}
	keys, err := rt.store.Keys(ctx, policyZonesPrefix)
	if err == nil {
		keys = slices.DeleteFunc(keys, func(k string) bool { return k == policyZonesPrefix+rt.node })
		var raws [][]byte
		if len(keys) > 0 {
			raws, err = rt.store.GetMany(ctx, keys...)
		}
		for _, raw := range raws {
			var rec publishedZones
			if raw == nil || json.Unmarshal(raw, &rec) != nil {
				continue // expired meanwhile, or written by another version
			}
			for _, f := range rec.Zones {
				if !seen[f.name()] {
					seen[f.name()] = true
					out = append(out, f)
				}
			}
		}
	}
	if err != nil {
		rt.log.LogAttrs(ctx, slog.LevelWarn, "policy.fleet_methods_unreadable", slog.String("error", err.Error()),
			slog.String("note", "the change is checked against this process's methods only"))
	}
	slices.SortFunc(out, func(a, b zoneFacts) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return out
}
