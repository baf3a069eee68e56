package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/leader"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/schedule"
	"github.com/baldur-go/baldur/runtime/store"
	"github.com/baldur-go/baldur/runtime/watchdog"
)

// Environment variables of the fleet coordination (README, Leader election).
const (
	EnvLeaderRedisURL = "BALDUR_LEADER_ELECTION_REDIS_URL"
	EnvLeaderLease    = "BALDUR_LEADER_LEASE"
)

// Names of the runtime's loops under the watchdog.
const (
	LoopLeaderRenewal = "leader_renewal"
	LoopScheduler     = "scheduler"
)

// LeaderConfig configures the election of the fleet's leader, which runs the
// leader-only scheduled tasks.
type LeaderConfig struct {
	// RedisURL, when set, runs the election on this Redis instead of the
	// runtime's (BALDUR_LEADER_ELECTION_REDIS_URL). Without any Redis the
	// process is alone on its embedded store and always leads.
	RedisURL string
	// Lease is how long a term lasts without renewal: how long a dead
	// leader leaves the fleet without one. Default 15s (BALDUR_LEADER_LEASE);
	// the leader renews every third of it.
	Lease time.Duration
	// Group names the election; runtimes sharing a store and a group elect
	// one leader. Default "fleet".
	Group string

	redisURLVar string
}

// Names of the runtime's other loops under the watchdog (on the real clock:
// with a fake one their tickers and the watchdog's sense of time part ways).
const (
	LoopDLQ            = "dlq"             // the queue's reaper, GC and sweeps (restart: re-arm and wake)
	LoopControlWatcher = "control_watcher" // kill switch and dry-run refresh (restart: a fresh run once the stuck one returned)
	LoopBreakerSync    = "breaker_sync"    // adopting the fleet's breaker states (restart: as the control watcher)
	LoopBreakerPublish = "breaker_publish" // publishing this process's transitions (restart: as the control watcher)
	LoopAuditSeal      = "audit_seal"      // sealing audit records into the chain
	LoopAuditDrain     = "audit_drain"     // draining the chain to PostgreSQL (also the audit_drain task)
	LoopNotifyGuards   = "notify_guards"   // the notifier's guards
	LoopPolicyWatcher  = "policy_watcher"  // adopting the fleet's policy overrides (restart: as the control watcher)
)

// syncBeatEvery is how often the breaker sync loops beat while idle.
const syncBeatEvery = 5 * time.Second

// loopBeat forwards a loop's heartbeats to the watchdog once the loop is
// watched; before that a beat does nothing.
type loopBeat struct {
	hb atomic.Pointer[watchdog.Heartbeat]
}

// Beat records that the loop is alive.
func (b *loopBeat) Beat() { b.hb.Load().Beat() }

type loopBeats struct{ dlq, control, sync, publish, seal, drain, notify, policy loopBeat }

// watchOwnLoops puts the loops built before the fleet under the watchdog.
func (rt *Runtime) watchOwnLoops(f *fleet) error {
	if !rt.cfg.realClock {
		return nil
	}
	for _, l := range []struct {
		name    string
		period  time.Duration
		restart func()
		beat    *loopBeat
	}{
		{LoopDLQ, cmp.Or(rt.cfg.DLQ.SweepInterval, dlq.DefaultSweepInterval), rt.dlq.q.Kick, &rt.beats.dlq},
		{LoopControlWatcher, controlPoll, rt.ctl.Restart, &rt.beats.control},
		{LoopBreakerSync, rt.sync.every, rt.sync.sync.Restart, &rt.beats.sync},
		{LoopBreakerPublish, rt.sync.every, rt.sync.publisher.Restart, &rt.beats.publish},
		{LoopNotifyGuards, cmp.Or(rt.cfg.loopBeat, notify.BeatEvery), rt.notifier.Restart, &rt.beats.notify},
		{LoopAuditSeal, cmp.Or(rt.cfg.loopBeat, audit.BeatEvery), func() { rt.audit.Restart("seal") }, &rt.beats.seal},
		{LoopAuditDrain, cmp.Or(rt.cfg.loopBeat, audit.BeatEvery), func() { rt.audit.Restart("drain") }, &rt.beats.drain},
	} {
		if (l.beat == &rt.beats.seal && rt.audit == nil) || (l.beat == &rt.beats.drain && !rt.audit.Drains()) {
			continue
		}
		hb, err := f.dog.Register(l.name, l.period, l.restart)
		if err != nil {
			return err
		}
		l.beat.hb.Store(hb)
	}
	return nil
}

// fleet is the runtime's coordination: the elector, the scheduler and the
// watchdog over the runtime's own loops.
type fleet struct {
	elector    *leader.Elector
	electStore store.Store // the election's own Redis (LeaderConfig.RedisURL), closed with the runtime
	sched      *schedule.Scheduler
	dog        *watchdog.Watchdog
}

// openFleet starts the watchdog, the election (the first attempt is made
// before it returns) and the scheduler.
func (rt *Runtime) openFleet(ctx context.Context) error {
	cfg := rt.cfg.Leader
	f := &fleet{dog: watchdog.New(watchdog.Options{Clock: rt.clock, Logger: rt.log, OnEvent: rt.watchdogAlert})}
	mode, st := leader.ModeAlways, rt.store
	switch {
	case cfg.RedisURL != "":
		r, err := store.OpenRedis(ctx, cfg.RedisURL, store.RedisOptions{Prefix: rt.cfg.RedisPrefix, LazyConnect: true, Logger: rt.log})
		if err != nil {
			f.dog.Close()
			src := cmp.Or(cfg.redisURLVar, "Config.Leader.RedisURL")
			return fmt.Errorf("baldur: %s: %w", src, err)
		}
		mode, st, f.electStore = leader.ModeElect, r, r
	case rt.redis != nil:
		// Redis itself, never the failover store: in DEGRADED mode every
		// process would take the lease in its local store and lead.
		mode, st = leader.ModeElect, rt.redis
	default:
		if r, ok := rt.store.(*store.Redis); ok {
			mode, st = leader.ModeElect, r
		}
	}
	var renewal, ticks atomic.Pointer[watchdog.Heartbeat]
	e, err := leader.New(st, leader.Options{Mode: mode, Group: cfg.Group, Lease: cfg.Lease, ID: rt.node,
		Clock: rt.clock, Logger: rt.log, Beat: func() { renewal.Load().Beat() }})
	if err != nil {
		f.close(ctx)
		return fmt.Errorf("baldur: %w", err)
	}
	f.elector = e
	f.sched = schedule.New(schedule.Options{Clock: rt.clock, Logger: rt.log, Leader: e,
		Beat: func() { ticks.Load().Beat() }})
	hb, err := f.dog.Register(LoopLeaderRenewal, e.Renew(), e.Restart)
	if err == nil {
		renewal.Store(hb)
		hb, err = f.dog.Register(LoopScheduler, schedule.DefaultTick, f.sched.Restart)
		ticks.Store(hb)
	}
	if err == nil {
		err = rt.watchOwnLoops(f)
	}
	if err == nil {
		err = e.Start(ctx)
	}
	if err != nil {
		f.close(ctx)
		return fmt.Errorf("baldur: %w", err)
	}
	rt.fleet = f
	return rt.scheduleAuditAlerts()
}

// close stops the scheduler (waiting for running tasks, whose context it
// cancels), then the watchdog, then the election, whose lease it releases so
// that another process leads at once.
func (f *fleet) close(ctx context.Context) error {
	if f == nil {
		return nil
	}
	var errs []error
	if f.sched != nil {
		errs = append(errs, f.sched.Close(ctx))
	}
	f.dog.Close()
	if f.elector != nil {
		errs = append(errs, f.elector.Stop(ctx))
	}
	if f.electStore != nil {
		errs = append(errs, f.electStore.Close())
	}
	return errors.Join(errs...)
}

// Leader returns the runtime's elector: whether this process leads the
// fleet, its term's fencing token, the lease's holder.
func (rt *Runtime) Leader() *leader.Elector { return rt.fleet.elector }

// Schedule runs fn on spec: an interval ("90s", "@every 1h") or a cron
// expression ("0 3 * * *", "@daily"), on the fleet's leader only (the zero
// TaskOptions) or on every process. See package schedule. A task with
// opts.Automated is an automated action: the governance gate is asked
// before each run, and a run it blocks is skipped, its reason naming the
// check that refused.
func (rt *Runtime) Schedule(name, spec string, fn schedule.Func, opts schedule.TaskOptions) error {
	if opts.Automated && opts.Gate == nil {
		action := governance.Action{Name: "schedule." + name}
		opts.Gate = func(ctx context.Context) error { return rt.Governance().Check(ctx, action).Err() }
	}
	return rt.fleet.sched.Schedule(name, spec, fn, opts)
}

// Scheduler returns the runtime's scheduler, for its status.
func (rt *Runtime) Scheduler() *schedule.Scheduler { return rt.fleet.sched }

// Watchdog returns the watchdog over the runtime's background loops.
func (rt *Runtime) Watchdog() *watchdog.Watchdog { return rt.fleet.dog }

// fleetCloseTimeout bounds how long Close waits for running scheduled tasks.
const fleetCloseTimeout = 10 * time.Second
