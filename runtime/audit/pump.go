package audit

import (
	"context"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// pump runs one kind of pass (sealing or draining) on its own goroutine,
// whenever it is kicked, asked to sync, or its retry timer fires. Passes
// never overlap, and no lock is held while one runs (they do I/O). After a
// failed pass it retries with a backoff on the trail's clock, doubling from
// RetryMin to RetryMax; a pass that works resets it.
type pump struct {
	name  string
	t     *Trail
	pass  func(context.Context) error
	kicks chan struct{}
	syncs chan chan error

	mu      sync.Mutex
	timer   clock.Timer
	backoff time.Duration
	failing bool

	// The run in force, restartable (restart): the trail's loop context it
	// derives from, its cancellation and the signal that it has returned.
	runMu      sync.Mutex
	parent     context.Context
	wg         *sync.WaitGroup
	stopRun    context.CancelFunc
	done       chan struct{}
	restarting bool
}

// start runs the pump under parent, counted in wg.
func (p *pump) start(parent context.Context, wg *sync.WaitGroup) {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	p.parent, p.wg = parent, wg
	p.launchLocked()
}

func (p *pump) launchLocked() {
	ctx, cancel := context.WithCancel(p.parent)
	done := make(chan struct{})
	p.stopRun, p.done = cancel, done
	p.wg.Add(1)
	go func() {
		defer close(done)
		defer cancel()
		p.run(ctx, p.wg)
	}()
}

// restart gives up on the run in force (the watchdog calls it when the
// loop has gone silent, as when a store or PostgreSQL call hangs): its
// pass is cancelled, and once it has returned another run starts, kicked,
// so that nothing left pending waits for the next record. Two runs never
// overlap; once the trail closes it does nothing.
func (p *pump) restart() {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.restarting || p.parent == nil || p.parent.Err() != nil {
		return
	}
	p.restarting = true
	cancel, done := p.stopRun, p.done
	cancel()
	p.wg.Add(1) // the run in force still counts: Close cannot be past its Wait
	go func() {
		defer p.wg.Done()
		<-done
		p.runMu.Lock()
		defer p.runMu.Unlock()
		p.restarting = false
		if p.parent.Err() != nil {
			return
		}
		p.launchLocked()
		p.kick()
		p.t.log.Info("audit.loop_restarted", "loop", p.name)
	}()
}

func (t *Trail) newPump(name string, pass func(context.Context) error) *pump {
	return &pump{name: name, t: t, pass: pass, kicks: make(chan struct{}, 1), syncs: make(chan chan error)}
}

// kick asks for a pass soon; kicks while one is queued fold into it.
func (p *pump) kick() {
	select {
	case p.kicks <- struct{}{}:
	default:
	}
}

// sync asks for a pass that starts after the call and returns its error.
func (p *pump) sync(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case p.syncs <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pump) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	defer p.stopTimer()
	var beatC <-chan time.Time
	if p.t.beat != nil {
		tk := time.NewTicker(p.t.beatEvery) // the watchdog's sense of time is the wall clock
		defer tk.Stop()
		beatC = tk.C
	}
	for {
		if p.t.beat != nil {
			p.t.beat(p.name)
		}
		var waiters []chan error
		select {
		case <-ctx.Done():
			return
		case <-beatC:
			continue
		case <-p.kicks:
		case w := <-p.syncs:
			waiters = append(waiters, w)
		}
		// Fold in whoever else asked meanwhile: one pass serves them all.
	more:
		for {
			select {
			case w := <-p.syncs:
				waiters = append(waiters, w)
			case <-p.kicks:
			default:
				break more
			}
		}
		err := p.pass(ctx)
		for _, w := range waiters {
			w <- err
		}
		p.after(ctx, err)
	}
}

// after logs a change between working and failing and arms the retry.
func (p *pump) after(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	wasFailing := p.failing
	p.failing = err != nil
	if err == nil {
		p.backoff = 0
		p.mu.Unlock()
		if wasFailing {
			p.t.log.Info("audit."+p.name+"_resumed", "backlog", p.t.backlog.Load())
		}
		if p.name == "drain" {
			p.t.drainErr.Store(nil)
		}
		return
	}
	if p.backoff == 0 {
		p.backoff = p.t.minB
	} else {
		p.backoff = min(2*p.backoff, p.t.maxB)
	}
	d := p.backoff
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = p.t.clk.AfterFunc(d, p.kick)
	p.mu.Unlock()
	msg := err.Error()
	if p.name == "drain" {
		p.t.drainErr.Store(&msg)
	}
	if !wasFailing {
		p.t.log.Warn("audit."+p.name+"_failed", "error", msg, "backlog", p.t.backlog.Load(), "retry_in", d.String())
	}
}

func (p *pump) stopTimer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
	}
}
