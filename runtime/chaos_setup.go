package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/chaos"
)

// openChaos builds fault injection on the runtime's store (README, Fault
// injection). It reads the emergency level in force: experiments are
// refused, and nothing is injected, from HIGH up.
func (rt *Runtime) openChaos(ctx context.Context) error {
	c, err := chaos.New(ctx, chaos.Options{
		Store: rt.store, Clock: rt.clock, Logger: rt.log, Node: rt.node, Disabled: rt.cfg.ChaosDisabled,
		Level: rt.EmergencyLevel, Known: rt.knownService,
		OnEvent: func(name string, e chaos.Experiment) {
			what := strings.TrimPrefix(name, "chaos.experiment_")
			if what == "started" {
				what = fmt.Sprintf("started: errors %g%%, latency %s on %g%%, until %s", e.ErrorPercent, e.Latency,
					e.LatencyPercent, e.Until.UTC().Format(time.RFC3339))
			}
			rt.annotate("experiment", e.Service, "fault injection "+what)
		},
	})
	if err != nil {
		return fmt.Errorf("baldur: fault injection: %w", err)
	}
	rt.chaos = c
	return nil
}

// Chaos is the process's fault injection: experiments in force, Start, Stop,
// and Active, a chaos guard for automation that must not read a rehearsal's
// failures as real ones.
func (rt *Runtime) Chaos() *chaos.Chaos { return rt.chaos }

// knownService reports whether a zone of this process declares service.
func (rt *Runtime) knownService(service string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for k := range rt.zones {
		if k.service == service {
			return true
		}
	}
	return false
}

// Inject is part of the generated-code surface (see the Zone type).
//
// Inject applies the service's fault-injection experiment, if any, to one
// attempt: it may add latency (bounded by ctx, the attempt's context, so
// timeout= still cuts it) and may return an error matching chaos.ErrInjected,
// which the wrapper returns in place of calling the method. Without an
// experiment it is one atomic load, inlined.
func (z *Zone) Inject(ctx context.Context) error {
	if f := z.chaos.Load(); f != nil {
		return z.chaos.Inject(ctx, f)
	}
	return nil
}

// injected reports whether err is a failure an experiment injected.
func injected(err error) bool { return errors.Is(err, chaos.ErrInjected) }
