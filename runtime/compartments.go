package runtime

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
)

// Compartment is a named bulkhead that methods of any interface share
// (compartment=NAME): at most Active calls run at once, and at most Waiting
// more wait for a slot, each for at most MaxWait (or the method's
// bulkhead_wait=, or until its context ends, whichever comes first). A
// caller that finds every slot taken and the queue full is refused at once
// with ErrBulkheadFull.
type Compartment struct {
	// Active is the number of calls that run at once, ≥ 1.
	Active int
	// Waiting is the number of callers that may wait for a slot; 0: none
	// (a full compartment refuses at once).
	Waiting int
	// MaxWait bounds a queued caller's wait. 0: DefaultCompartmentWait.
	MaxWait time.Duration
}

// DefaultCompartmentWait is how long a queued caller waits for a slot of a
// named compartment when neither Compartment.MaxWait nor bulkhead_wait= says.
const DefaultCompartmentWait = 5 * time.Second

// DefaultCompartments are the compartments every runtime registers (Python
// Baldur's): Config.Compartments and BALDUR_BULKHEAD_<NAME> override them
// one by one and add others.
func DefaultCompartments() map[string]Compartment {
	return map[string]Compartment{
		"database":      {Active: 10},
		"cache":         {Active: 20},
		"external_api":  {Active: 5, Waiting: 10},
		"message_queue": {Active: 15},
	}
}

// envBulkheadPrefix starts BALDUR_BULKHEAD_<NAME>=active[+waiting].
const envBulkheadPrefix = "BALDUR_BULKHEAD_"

var compartmentName = regexp.MustCompile(`^[a-z0-9_.-]+$`)

// compartments returns the registered compartments: the defaults, then cfg's
// over them; every bad one is an error naming it.
func (c Config) compartments() (map[string]Compartment, error) {
	out := DefaultCompartments()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Compartments)) {
		cp := c.Compartments[name]
		switch {
		case !compartmentName.MatchString(name):
			errs = append(errs, fmt.Errorf("baldur: config: Compartments[%q]: want a name of a-z, 0-9, _, . and -", name))
		case cp.Active < 1 || cp.Waiting < 0 || cp.MaxWait < 0:
			errs = append(errs, fmt.Errorf("baldur: config: Compartments[%q]: want Active ≥ 1, Waiting ≥ 0, MaxWait ≥ 0 (got %d, %d, %s)", name, cp.Active, cp.Waiting, cp.MaxWait))
		default:
			out[name] = cp
		}
	}
	for name, cp := range out {
		if cp.MaxWait == 0 {
			cp.MaxWait = DefaultCompartmentWait
			out[name] = cp
		}
	}
	return out, errors.Join(errs...)
}

// compartmentsFromEnv reads every BALDUR_BULKHEAD_<NAME>=active[+waiting] of
// environ into cfg.Compartments (NAME lower-cased: BALDUR_BULKHEAD_EXTERNAL_API
// is external_api), recording a malformed one in r.
func compartmentsFromEnv(r *env.Reader, environ []string, cfg *Config) {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envBulkheadPrefix) {
			continue
		}
		v, ok := r.Lookup(name)
		if !ok {
			continue
		}
		comp := strings.ToLower(strings.TrimPrefix(name, envBulkheadPrefix))
		if !env.Known(name) || !compartmentName.MatchString(comp) {
			r.Bad(name, v, "a variable named BALDUR_BULKHEAD_<NAME> with NAME of A-Z, 0-9 and _")
			continue
		}
		cp, err := parseCompartment(v)
		if err != nil {
			r.Bad(name, v, err.Error())
			continue
		}
		if cfg.Compartments == nil {
			cfg.Compartments = map[string]Compartment{}
		}
		old := cfg.Compartments[comp]
		cp.MaxWait = old.MaxWait
		cfg.Compartments[comp] = cp
	}
}

// parseCompartment reads "active" or "active+waiting".
func parseCompartment(v string) (Compartment, error) {
	want := errors.New(`active calls, optionally +waiting callers: "10" or "5+10"`)
	a, w, queued := strings.Cut(strings.TrimSpace(v), "+")
	active, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil || active < 1 {
		return Compartment{}, want
	}
	cp := Compartment{Active: active}
	if queued {
		if cp.Waiting, err = strconv.Atoi(strings.TrimSpace(w)); err != nil || cp.Waiting < 0 {
			return Compartment{}, want
		}
	}
	return cp, nil
}

// ErrUnknownCompartment: a method names a compartment (compartment=) that the
// runtime has not registered (see *UnknownCompartmentError).
var ErrUnknownCompartment = errors.New("unknown compartment")

// UnknownCompartmentError names the compartment a method asked for and the
// ones the runtime has.
type UnknownCompartmentError struct {
	Service, Method, Compartment string
	Registered                   []string
}

func (e *UnknownCompartmentError) Error() string {
	return fmt.Sprintf("baldur: %s.%s: compartment %q is not registered; registered: %s "+
		"(add it to Config.Compartments or set BALDUR_BULKHEAD_%s=active[+waiting])",
		e.Service, e.Method, e.Compartment, strings.Join(e.Registered, ", "), strings.ToUpper(e.Compartment))
}

// Is makes errors.Is(err, ErrUnknownCompartment) true.
func (e *UnknownCompartmentError) Is(target error) bool { return target == ErrUnknownCompartment }

// bulkheadLocked returns the bulkhead of spec: a registered compartment for
// compartment=NAME (Compartment set, Bulkhead 0), else the compartment
// bulkhead= makes for the service or the method; nil when spec has neither.
// A name cannot be both a named compartment and a bulkhead= one. rt.mu is held.
func (rt *Runtime) bulkheadLocked(spec ZoneSpec) (*Bulkhead, error) {
	switch {
	case spec.Bulkhead > 0:
		name := spec.Compartment
		if name == "" {
			name = spec.Service
		}
		bh, ok := rt.compartments[name]
		if !ok {
			bh = newBulkhead(name, int64(spec.Bulkhead), spec.BulkheadWait)
			bh.emergencyLevel(rt.EmergencyLevel()) // built while the level halves compartments
			rt.compartments[name] = bh
		} else if _, named := rt.cfg.named[name]; named && bh.queue >= 0 {
			return nil, fmt.Errorf("baldur: %s.%s: bulkhead= makes a compartment named %q, which is the registered compartment of that name: "+
				"share it with compartment=%s instead, or give the service another name", spec.Service, spec.Method, name, name)
		}
		return bh, nil
	case spec.Compartment != "":
		name := spec.Compartment
		cp, ok := rt.cfg.named[name]
		if !ok {
			return nil, &UnknownCompartmentError{Service: spec.Service, Method: spec.Method, Compartment: name,
				Registered: slices.Sorted(maps.Keys(rt.cfg.named))}
		}
		bh, ok := rt.compartments[name]
		if !ok {
			bh = newBulkhead(name, int64(cp.Active), cp.MaxWait)
			bh.emergencyLevel(rt.EmergencyLevel()) // built while the level halves compartments
			bh.queue = int64(cp.Waiting)
			rt.compartments[name] = bh
		} else if bh.queue < 0 {
			return nil, fmt.Errorf("baldur: %s.%s: compartment=%s: a bulkhead= of service %q already made a compartment of that name: rename the service or share the registered one",
				spec.Service, spec.Method, name, name)
		}
		return bh, nil
	}
	return nil, nil
}
