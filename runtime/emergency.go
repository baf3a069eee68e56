package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/emergency"
	"github.com/baldur-go/baldur/runtime/governance"
	"github.com/baldur-go/baldur/runtime/store"
)

// Emergency mode and the governance gate in the runtime. The fleet's level
// lives in emergency.Emergency (on the runtime's store); the runtime keeps
// the level in force in one atomic that zones read, and acts on it. The
// README's table "What each emergency level does" is the contract:
//
//	ELEVATED  automatic DLQ replay paused; retries capped at elevatedAttempts in total
//	HIGH      retries off; every bulkhead at half its size; zones with criticality=low fail fast
//	CRITICAL  every zone not marked criticality=high fails fast
//
// Automatic DLQ sweeps also go through the governance gate (kill switch,
// emergency level, error budget, STRICT mode).

// elevatedAttempts caps retry= at ELEVATED: one retry at most.
const elevatedAttempts = 2

// Criticality values of the criticality= key.
const (
	CriticalityHigh   = "high"
	CriticalityNormal = "normal"
	CriticalityLow    = "low"
)

// ErrShed matches every *ShedError: a call refused by emergency mode.
var ErrShed = errors.New("call shed by emergency mode")

// ShedError is a call refused because the emergency level sheds its zone.
type ShedError struct {
	Service, Method string
	Level           emergency.Level
	Criticality     string
}

func (e *ShedError) Error() string {
	return fmt.Sprintf("%s.%s shed: emergency level %s fails fast calls of criticality %s", e.Service, e.Method, e.Level, e.Criticality)
}

// Is makes errors.Is(err, ErrShed) true.
func (e *ShedError) Is(target error) bool { return target == ErrShed }

// shedLevel is the level from which a zone of criticality c fails fast: low
// at HIGH, normal at CRITICAL, high never.
func shedLevel(c string) int32 {
	switch c {
	case CriticalityHigh:
		return int32(emergency.Critical) + 1
	case CriticalityLow:
		return int32(emergency.High)
	}
	return int32(emergency.Critical)
}

func criticalityOf(c string) string {
	if c == "" {
		return CriticalityNormal
	}
	return c
}

// emergencyParts is what the runtime keeps for emergency mode and governance.
type emergencyParts struct {
	level atomic.Int32 // the level in force: the one atomic the hot path reads
	em    *emergency.Emergency
	gov   *governance.Gate
	onSet atomic.Pointer[[]func(emergency.Level)]
	shed  atomic.Uint64 // calls refused by the level

	// The error-budget ledger: what this process counted since its last flush.
	ledger  *governance.Ledger
	flushMu sync.Mutex
	flushed map[string][2]uint64 // service → calls, failures at the last flush
	stop    chan struct{}
	done    chan struct{}

	// What the gate decided since the start, for metrics.
	govMu     sync.Mutex
	govCounts GovernanceCounts

	// The governance decision for automatic DLQ sweeps, asked before each
	// entry: kept briefly so that a sweep of many entries asks the store once.
	holdMu  sync.Mutex
	holdAt  time.Time
	holdWhy string
}

// holdFor is how long one governance decision stands for a sweep's entries.
const holdFor = time.Second

// ledgerFlush is how often this process adds its counts to the error-budget ledger.
const ledgerFlush = 30 * time.Second

// openEmergency builds emergency mode and the governance gate on the
// runtime's store.
func (rt *Runtime) openEmergency(ctx context.Context) error {
	p := &rt.emg
	opts := emergency.Options{Store: rt.store, Target: levelTarget{rt}, Source: emergency.SourceFunc(rt.emergencySample),
		Logger: rt.log, Clock: rt.clock, Node: rt.node, Where: rt.ctl.Status().Backend}
	rt.cfg.Emergency.Apply(&opts)
	em, err := emergency.New(ctx, opts)
	if err != nil {
		return fmt.Errorf("baldur: emergency mode: %w", err)
	}
	p.em = em
	p.ledger = &governance.Ledger{Store: rt.store}
	gopts := governance.Options{Store: rt.store, Logger: rt.log, Clock: rt.clock, Node: rt.node,
		KillSwitch: governance.KillSwitchFunc(rt.killSwitchForGovernance),
		Emergency:  governance.LevelFunc(rt.levelForGovernance),
		Counts:     p.ledger, Services: rt.BreakerNames, OnDecision: rt.countDecision,
		OnFailsafe: rt.governanceFailsafe}
	rt.cfg.Governance.Apply(&gopts)
	if p.gov, err = governance.New(gopts); err != nil {
		em.Close()
		return fmt.Errorf("baldur: governance: %w", err)
	}
	p.flushed = map[string][2]uint64{}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go rt.ledgerLoop()
	return nil
}

func (rt *Runtime) closeEmergency() error {
	p := &rt.emg
	if p.em == nil {
		return nil
	}
	close(p.stop)
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rt.flushLedger(ctx) // the last counts
	return errors.Join(p.em.Close(), p.gov.Close())
}

// Emergency returns the fleet's emergency mode: status, declare, release,
// force release.
func (rt *Runtime) Emergency() *emergency.Emergency { return rt.emg.em }

// Governance returns the gate automated actions ask before acting.
func (rt *Runtime) Governance() *governance.Gate { return rt.emg.gov }

// EmergencyLevel is the level in force in this process.
func (rt *Runtime) EmergencyLevel() emergency.Level { return emergency.Level(rt.emg.level.Load()) }

// OnEmergencyLevel adds a listener called with every new level (metrics).
// It runs on the emergency loop's goroutine and must return quickly.
func (rt *Runtime) OnEmergencyLevel(fn func(emergency.Level)) {
	for {
		old := rt.emg.onSet.Load()
		var next []func(emergency.Level)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if rt.emg.onSet.CompareAndSwap(old, &next) {
			return
		}
	}
}

// levelTarget is what emergency.Emergency drives: the level only changes
// through rt.Emergency() (declare, release, the signals), fleet-wide.
type levelTarget struct{ rt *Runtime }

func (t levelTarget) SetEmergencyLevel(l emergency.Level) { t.rt.setEmergencyLevel(l) }

// setEmergencyLevel puts l in force in this process: the zones read it at
// once, and the bulkheads shrink to half their size from HIGH (and grow
// back below it).
func (rt *Runtime) setEmergencyLevel(l emergency.Level) {
	prev := emergency.Level(rt.emg.level.Swap(int32(l)))
	if prev == l {
		return
	}
	rt.emergencyAlert(prev, l)
	rt.mu.Lock()
	comps := make([]*Bulkhead, 0, len(rt.compartments))
	for _, b := range rt.compartments {
		comps = append(comps, b)
	}
	rt.mu.Unlock()
	for _, b := range comps {
		b.emergencyLevel(l)
	}
	rt.shapeEmergency(l)
	if ls := rt.emg.onSet.Load(); ls != nil {
		for _, fn := range *ls {
			fn(l)
		}
	}
}

// emergencyLevel sizes the compartment for level l: half its size (at
// least 1) from HIGH, whole below.
func (b *Bulkhead) emergencyLevel(l emergency.Level) {
	b.reserveMu.Lock()
	defer b.reserveMu.Unlock()
	b.reserveLocked(emergencyReserve(b.max.Load(), l))
}

// emergencyReserve is the reserve of a compartment of size permits at level l.
func emergencyReserve(size int64, l emergency.Level) int64 {
	if l >= emergency.High {
		return size - max(1, size/2)
	}
	return 0
}

// shed is the refusal of a zone the level sheds; in dry-run it is recorded
// as a would-have decision and the call goes on.
func (z *Zone) shed(ctx context.Context) (Permit, error) {
	lvl := emergency.Level(z.rt.emg.level.Load())
	if z.rt.wouldHave(z, "emergency", "reject", "emergency level "+lvl.String()+" sheds criticality "+criticalityOf(z.spec.Criticality)) {
		return z.enter(ctx, Permit{})
	}
	z.rt.emg.shed.Add(1)
	return Permit{}, &ShedError{Service: z.spec.Service, Method: z.spec.Method, Level: lvl, Criticality: criticalityOf(z.spec.Criticality)}
}

// attemptsNow is retry='s total attempts under the level in force:
// capped at ELEVATED, one (no retry) from HIGH.
func (z *Zone) attemptsNow(attempts int) int {
	switch lvl := emergency.Level(z.rt.emg.level.Load()); {
	case lvl >= emergency.High:
		return 1
	case lvl == emergency.Elevated:
		return min(attempts, elevatedAttempts)
	}
	return attempts
}

// emergencyHold says why automatic DLQ replay must wait, or "": paused from
// ELEVATED, and refused by the governance gate. Only the level is read on
// the breaker-transition path (hot = true); the gate reads the store.
func (rt *Runtime) emergencyHold(hot bool) string {
	if lvl := rt.EmergencyLevel(); lvl >= emergency.Elevated {
		return "emergency level " + lvl.String() + ": automatic DLQ replay is paused"
	}
	if hot || rt.emg.gov == nil {
		return ""
	}
	p := &rt.emg
	now := rt.clock.Now()
	p.holdMu.Lock()
	if !p.holdAt.IsZero() && now.Sub(p.holdAt) < holdFor && now.After(p.holdAt) {
		why := p.holdWhy
		p.holdMu.Unlock()
		return why
	}
	p.holdMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d := p.gov.Check(ctx, governance.Action{Name: "dlq.auto_replay"})
	why := ""
	if !d.Allowed {
		why = "governance: " + d.Err().Error()
	}
	p.holdMu.Lock()
	p.holdAt, p.holdWhy = now, why
	p.holdMu.Unlock()
	return why
}

// killSwitchForGovernance is the kill switch as the gate sees it: a switch
// this process knows is DISABLED blocks; an ENABLED one whose store is
// unreadable cannot be vouched for.
func (rt *Runtime) killSwitchForGovernance(context.Context) (bool, error) {
	st := rt.ctl.Status()
	if !st.Enabled {
		return false, nil
	}
	if st.StateError != "" {
		return true, errors.New(st.StateError)
	}
	return true, nil
}

// levelForGovernance is the emergency level as the gate sees it.
func (rt *Runtime) levelForGovernance(context.Context) (emergency.Level, error) {
	st := rt.emg.em.Status()
	if st.StateError != "" && st.Level < emergency.Critical {
		return st.Level, errors.New(st.StateError)
	}
	return st.Level, nil
}

// emergencySample is the runtime's side of the emergency signals: breakers,
// calls across every zone, time DEGRADED.
func (rt *Runtime) emergencySample(context.Context) (emergency.Sample, error) {
	var s emergency.Sample
	rt.mu.Lock()
	for _, b := range rt.breakers {
		s.Breakers++
		if st := b.State(); st == breaker.Open || st == breaker.ForcedOpen {
			s.BreakersOpen++
		}
	}
	rt.mu.Unlock()
	if fo, ok := rt.store.(*store.Failover); ok {
		s.DegradedSince = fo.Stats().DegradedSince
	}
	if !rt.cfg.CallStats {
		return s, errors.New("call counting is off (Config.CallStats, BALDUR_CALL_STATS): no error rate")
	}
	for _, cs := range rt.CallStats() {
		s.Calls += cs.Successes + cs.Failures
		s.Failures += cs.Failures
	}
	return s, nil
}

// ledgerLoop adds this process's counts to the error-budget ledger every
// ledgerFlush.
func (rt *Runtime) ledgerLoop() {
	p := &rt.emg
	defer close(p.done)
	t := time.NewTicker(ledgerFlush)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rt.flushLedger(ctx)
			cancel()
		}
	}
}

// flushLedger adds the calls and failures counted since the last flush, per
// service; a failed add is retried with the next flush (the counts stay).
func (rt *Runtime) flushLedger(ctx context.Context) {
	p := &rt.emg
	if !rt.cfg.CallStats {
		return
	}
	now := map[string][2]uint64{}
	for _, cs := range rt.CallStats() {
		v := now[cs.Service]
		v[0] += cs.Successes + cs.Failures
		v[1] += cs.Failures
		now[cs.Service] = v
	}
	// Each delta is claimed under the lock before the store is written
	// (never under it), and given back if the write fails, so that two
	// flushes never add the same calls twice.
	type delta struct {
		svc   string
		d     [2]uint64
		reset bool
	}
	var todo []delta
	p.flushMu.Lock()
	for svc, v := range now {
		last := p.flushed[svc]
		if v[0] < last[0] || v[1] < last[1] {
			last = [2]uint64{}
		}
		if d := [2]uint64{v[0] - last[0], v[1] - last[1]}; d != ([2]uint64{}) {
			todo = append(todo, delta{svc: svc, d: d})
			p.flushed[svc] = v
		}
	}
	p.flushMu.Unlock()
	for _, t := range todo {
		err := p.ledger.Add(ctx, t.svc, rt.clock.Now(), t.d[0], t.d[1])
		if err == nil {
			continue
		}
		rt.log.LogAttrs(ctx, slog.LevelWarn, "governance.ledger_flush_failed",
			slog.String("service", t.svc), slog.String("error", err.Error()))
		p.flushMu.Lock()
		f := p.flushed[t.svc]
		p.flushed[t.svc] = [2]uint64{f[0] - min(f[0], t.d[0]), f[1] - min(f[1], t.d[1])}
		p.flushMu.Unlock()
	}
}

// GovernanceCounts is what the governance gate decided since the runtime
// started: decisions by outcome, refusals and FAILSAFEs by check.
type GovernanceCounts struct {
	Allowed    uint64            `json:"allowed"`
	Blocked    map[string]uint64 `json:"blocked"`     // by check
	BreakGlass uint64            `json:"break_glass"` // allowed only through Break Glass
	Failsafe   map[string]uint64 `json:"failsafe"`    // by check
}

func (rt *Runtime) countDecision(d governance.Decision) {
	p := &rt.emg
	p.govMu.Lock()
	defer p.govMu.Unlock()
	switch {
	case !d.Allowed:
		if p.govCounts.Blocked == nil {
			p.govCounts.Blocked = map[string]uint64{}
		}
		p.govCounts.Blocked[string(d.BlockedBy)]++
	case d.BreakGlass:
		p.govCounts.BreakGlass++
	default:
		p.govCounts.Allowed++
	}
}

func (rt *Runtime) countFailsafe(f governance.Failure) {
	p := &rt.emg
	p.govMu.Lock()
	defer p.govMu.Unlock()
	if p.govCounts.Failsafe == nil {
		p.govCounts.Failsafe = map[string]uint64{}
	}
	p.govCounts.Failsafe[string(f.Check)]++
}

// GovernanceCounts returns what the governance gate decided since the start.
func (rt *Runtime) GovernanceCounts() GovernanceCounts {
	p := &rt.emg
	p.govMu.Lock()
	defer p.govMu.Unlock()
	return GovernanceCounts{Allowed: p.govCounts.Allowed, BreakGlass: p.govCounts.BreakGlass,
		Blocked: maps.Clone(p.govCounts.Blocked), Failsafe: maps.Clone(p.govCounts.Failsafe)}
}

// ShedCalls is how many calls the emergency level refused since the start.
func (rt *Runtime) ShedCalls() uint64 { return rt.emg.shed.Load() }

// FlushLedger adds the calls counted since the last flush to the
// error-budget ledger now (it happens every 30s and at Close).
func (rt *Runtime) FlushLedger(ctx context.Context) { rt.flushLedger(ctx) }
