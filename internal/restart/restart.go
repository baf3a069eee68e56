// Package restart runs a loop on one goroutine at a time, replaceable by
// the watchdog: the runtime's breaker sync loops and the policy overrides'
// watcher use it.
package restart

import (
	"context"
	"log/slog"
	"sync"
)

// Loop runs a loop on one goroutine at a time: Restart (the
// watchdog's remedy for a loop gone silent) cancels the current run's
// context and, once that run has returned, starts a fresh one. A run that
// never returns is left, and no second one starts beside it: the loop's
// state is its own, and two runs would share it.
type Loop struct {
	name    string
	parent  context.Context // what every run's context derives from, without its cancellation
	log     *slog.Logger
	run     func(ctx context.Context)
	closing chan struct{}

	mu         sync.Mutex
	cancel     context.CancelFunc
	done       chan struct{}
	restarting bool
	closed     bool
}

// Start starts the loop: run is called with a context that carries
// parent's values (not its cancellation) and that Restart and Close cancel,
// and must return once it is done.
func Start(parent context.Context, name string, log *slog.Logger, run func(ctx context.Context)) *Loop {
	r := &Loop{name: name, parent: context.WithoutCancel(parent), log: log, run: run, closing: make(chan struct{})}
	r.mu.Lock()
	r.startLocked()
	r.mu.Unlock()
	return r
}

func (r *Loop) startLocked() {
	ctx, cancel := context.WithCancel(r.parent)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	go func() {
		defer close(done)
		r.run(ctx)
	}()
}

// Restart cancels the current run and starts a fresh one once it returned.
func (r *Loop) Restart() {
	r.mu.Lock()
	if r.restarting || r.closed {
		r.mu.Unlock()
		return
	}
	r.restarting = true
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	cancel()
	go func() {
		select {
		case <-done:
		case <-r.closing:
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.restarting = false
		if r.closed {
			return
		}
		r.startLocked()
		r.log.Info("watchdog.loop_run_replaced", "loop", r.name)
	}()
}

// Close cancels the current run and waits for it.
func (r *Loop) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.closing)
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	cancel()
	<-done
}
