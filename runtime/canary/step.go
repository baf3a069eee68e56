package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Step is the leader's turn: for every running rollout it sums the fleet's
// cohort figures for the stage, judges them, rolls back a failing canary at
// once, and promotes a passing one whose hold is over when the gates allow
// (at the last stage: commits it as a plain override). A stage past its
// deadline is rolled back (see Watchdog).
func (c *Controller) Step(ctx context.Context) error {
	rec, _, err := c.read(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rec.Rollouts {
		if r.Active() {
			errs = append(errs, c.stepOne(ctx, r))
		}
	}
	return errors.Join(errs...)
}

// Watchdog rolls back every running rollout whose stage is past its deadline
// and records, for the others, which gate (if any) would refuse a promotion
// now. It changes nothing else: it is the safe direction, not gated.
func (c *Controller) Watchdog(ctx context.Context) error {
	rec, _, err := c.read(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rec.Rollouts {
		if !r.Active() {
			continue
		}
		if !c.clock.Now().Before(r.Deadline) {
			errs = append(errs, c.stalled(ctx, r))
			continue
		}
		blocked := ""
		if blk := c.check(ctx, r.ID, r.Scope, r.Bypass); blk != nil {
			blocked = blk.Gate + ": " + blk.Reason
		}
		if blocked != r.Blocked {
			errs = append(errs, c.mutate(ctx, r, func(x *Rollout) { x.Blocked = blocked }))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) stalled(ctx context.Context, r Rollout) error {
	reason := fmt.Sprintf("watchdog: stage %d (%g %%) not promoted by its deadline %s", r.Stage+1, r.Percent(), r.Deadline.UTC().Format(time.RFC3339))
	if r.Blocked != "" {
		reason += " (blocked by " + r.Blocked + ")"
	}
	if err := c.rollback(ctx, r, reason); err != nil {
		return err
	}
	c.watchdog.Add(1)
	return nil
}

// errMoved: the rollout changed (another writer ended or promoted it) since
// it was read; the step leaves it.
var errMoved = errors.New("rollout moved on")

// mutate changes rollout r in the record if it is still running at the
// stage it was read at.
func (c *Controller) mutate(ctx context.Context, r Rollout, fn func(*Rollout)) error {
	_, err := c.update(ctx, func(rec *record) error {
		x := find(rec, r.ID)
		if x == nil || !x.Active() || x.Stage != r.Stage {
			return errMoved
		}
		fn(x)
		return nil
	})
	if errors.Is(err, errMoved) {
		return nil
	}
	return err
}

func (c *Controller) rollback(ctx context.Context, r Rollout, reason string) error {
	err := c.mutate(ctx, r, func(x *Rollout) {
		x.Verdict.Outcome = VerdictFail
		end(x, StateRolledBack, StateRolledBack, reason, c.clock.Now())
	})
	if err != nil {
		return err
	}
	c.rolledBack.Add(1)
	c.changed(r, "rolled back: "+reason)
	c.log.LogAttrs(ctx, slog.LevelWarn, "canary.rolled_back", slog.String("rollout", r.ID), slog.String("scope", r.Scope.String()),
		slog.Float64("percent", r.Percent()), slog.String("reason", reason))
	c.unstage(ctx, r, "canary")
	return nil
}

func (c *Controller) stepOne(ctx context.Context, r Rollout) error {
	now := c.clock.Now()
	if !now.Before(r.Deadline) {
		return c.stalled(ctx, r)
	}
	// The engine holds the stage's fraction (a staging that failed, or a
	// canary removed by hand, is staged again: the stage starts over).
	if f, ok := c.ov.Staged(r); !ok || permille(f) != permille(r.Percent()/100) {
		if now.Sub(r.StageStarted) < settle {
			return nil // another process staged it a moment ago: its change is on its way here
		}
		return c.restage(ctx, r)
	}
	canary, baseline, err := c.gather(ctx, r)
	if err != nil {
		return err
	}
	cf, bf := canary.Figures(), baseline.Figures()
	ref := bf
	if r.Percent() == 100 && r.Reference != nil {
		ref = *r.Reference
	}
	outcome, reason := Judge(c.cfg.Thresholds, cf, ref)
	if outcome == VerdictFail {
		r.Canary, r.Baseline = cf, bf
		return c.rollback(ctx, r, "bad cohort: "+reason)
	}
	if outcome == VerdictPass && now.Before(r.StageStarted.Add(r.Hold)) {
		outcome, reason = VerdictWait, fmt.Sprintf("holding until %s; so far %s", r.StageStarted.Add(r.Hold).UTC().Format(time.RFC3339), reason)
	}
	blocked := ""
	if outcome == VerdictPass {
		if blk := c.check(ctx, r.ID, r.Scope, r.Bypass); blk != nil {
			c.blocked.Add(1)
			blocked = blk.Gate + ": " + blk.Reason
			c.log.LogAttrs(ctx, slog.LevelWarn, "canary.blocked", slog.String("rollout", r.ID), slog.String("at", "promotion"),
				slog.String("gate", blk.Gate), slog.String("reason", blk.Reason))
		}
	}
	v := Verdict{Outcome: outcome, Reason: reason, At: now}
	if outcome != VerdictPass || blocked != "" {
		return c.mutate(ctx, r, func(x *Rollout) { x.Canary, x.Baseline, x.Verdict, x.Blocked = cf, bf, v, blocked })
	}
	if r.Stage == len(r.Stages)-1 {
		return c.complete(ctx, r, cf, bf, v)
	}
	err = c.mutate(ctx, r, func(x *Rollout) {
		x.Canary, x.Baseline, x.Verdict = cf, bf, v
		x.History = append(x.History, StageRecord{Percent: x.Percent(), Started: x.StageStarted, Ended: now,
			Outcome: "promoted", Canary: cf, Baseline: bf, Reason: reason})
		if bf.Calls > 0 {
			ref := bf
			x.Reference = &ref
		}
		x.Stage++
		x.StageStarted, x.Deadline = now, now.Add(c.cfg.StageDeadline)
		x.Canary, x.Baseline, x.Blocked = Figures{}, Figures{}, ""
		x.Verdict = Verdict{Outcome: VerdictWait, Reason: "stage started", At: now}
	})
	if err != nil {
		return err
	}
	c.promoted.Add(1)
	c.changed(r, fmt.Sprintf("promoted to %g%%", r.Stages[r.Stage+1]))
	c.log.LogAttrs(ctx, slog.LevelInfo, "canary.promoted", slog.String("rollout", r.ID), slog.String("scope", r.Scope.String()),
		slog.Float64("from", r.Percent()), slog.Float64("to", r.Stages[r.Stage+1]), slog.String("verdict", reason))
	if err := c.ov.Stage(ctx, r, r.Stages[r.Stage+1]/100); err != nil {
		return fmt.Errorf("canary: stage %s at %g %%: %w (staged again at the next step)", r.ID, r.Stages[r.Stage+1], err)
	}
	return nil
}

// restage stages r's current fraction again and restarts the stage's clock
// (its cohort counters started again).
func (c *Controller) restage(ctx context.Context, r Rollout) error {
	if err := c.ov.Stage(ctx, r, r.Percent()/100); err != nil {
		return fmt.Errorf("canary: stage %s at %g %%: %w", r.ID, r.Percent(), err)
	}
	now := c.clock.Now()
	return c.mutate(ctx, r, func(x *Rollout) {
		x.StageStarted = now
		x.Canary, x.Baseline = Figures{}, Figures{}
		x.Verdict = Verdict{Outcome: VerdictWait, Reason: "stage staged again: the engine did not hold it", At: now}
	})
}

// settle is how long after a stage began the leader waits for the engine
// to show it before staging it again (the policy overrides reach every
// process within about a second).
const settle = 5 * time.Second

// permille is a fraction in calls per thousand, as the engine stages it.
func permille(f float64) int { return int(math.Round(f * 1000)) }

// complete commits the override as a plain one, then ends the rollout (every
// process then clears the canary: the plain override serves every call).
func (c *Controller) complete(ctx context.Context, r Rollout, cf, bf Figures, v Verdict) error {
	if err := c.ov.Commit(ctx, r); err != nil {
		c.log.LogAttrs(ctx, slog.LevelError, "canary.commit_failed", slog.String("rollout", r.ID), slog.String("error", err.Error()))
		v = Verdict{Outcome: VerdictWait, Reason: "passed; committing the override failed, retried at the next step: " + err.Error(), At: v.At}
		return c.mutate(ctx, r, func(x *Rollout) { x.Canary, x.Baseline, x.Verdict = cf, bf, v })
	}
	err := c.mutate(ctx, r, func(x *Rollout) {
		x.Canary, x.Baseline, x.Verdict = cf, bf, v
		end(x, StateCompleted, StateCompleted, "passed at 100 %: now a plain override", v.At)
	})
	if err != nil {
		return err
	}
	c.completed.Add(1)
	c.changed(r, "completed: "+r.Directive+" is the override")
	c.log.LogAttrs(ctx, slog.LevelInfo, "canary.completed", slog.String("rollout", r.ID), slog.String("scope", r.Scope.String()),
		slog.String("directive", r.Directive))
	return nil
}

func stagePrefix(id string, stage int) string {
	return cohortPrefix + id + ":" + strconv.Itoa(stage) + ":"
}

// gather sums the figures every process published for r's current stage.
func (c *Controller) gather(ctx context.Context, r Rollout) (canary, baseline Cohort, err error) {
	keys, err := c.st.Keys(ctx, stagePrefix(r.ID, r.Stage))
	if err != nil || len(keys) == 0 {
		return canary, baseline, err
	}
	vals, err := c.st.GetMany(ctx, keys...)
	if err != nil {
		return canary, baseline, err
	}
	for _, v := range vals {
		var pf processFigures
		if v == nil || json.Unmarshal(v, &pf) != nil {
			continue
		}
		canary.Add(pf.Canary.cohort())
		baseline.Add(pf.Baseline.cohort())
	}
	return canary, baseline, nil
}

// Sync brings this process in line with the record: it removes the canary
// of a scope whose rollouts have all ended (what a rollback left behind in an
// engine of one process, or a removal that failed), and publishes this
// process's cohort figures for each running stage it holds.
func (c *Controller) Sync(ctx context.Context) error {
	rec, _, err := c.read(ctx)
	if err != nil {
		return err
	}
	if rec.Version > c.applied.Load() {
		c.applied.Store(rec.Version)
	}
	var errs []error
	for _, r := range rec.Rollouts {
		if r.Active() || r.State == StateCompleted {
			continue
		}
		if _, ok := c.ov.Staged(r); ok {
			if err := c.ov.Unstage(ctx, r, "canary"); err != nil {
				errs = append(errs, fmt.Errorf("canary: clear %s on %s: %w", r.ID, r.Scope, err))
			}
		}
	}
	now := c.clock.Now()
	for _, r := range rec.Rollouts {
		if !r.Active() {
			continue
		}
		f, ok := c.ov.Staged(r)
		if !ok || permille(f) != permille(r.Percent()/100) {
			continue // not (yet) the stage's fraction here: nothing of this stage to count
		}
		can, base, err := c.ov.Cohorts(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("canary: cohorts of %s: %w", r.Scope, err))
			continue
		}
		b, err := json.Marshal(processFigures{Node: c.node, At: now, Canary: can.wire(), Baseline: base.wire()})
		if err == nil {
			err = c.st.Set(ctx, stagePrefix(r.ID, r.Stage)+c.node, b, cohortTTL)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("canary: publish figures: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Follow starts following the change feed: every announced change is
// applied at once (Sync). Close stops it. Periodic Syncs are the caller's
// (a schedule), since the feed may drop a message.
func (c *Controller) Follow(ctx context.Context) error {
	sub, err := c.st.Subscribe(ctx, ChangedChannel)
	if err != nil {
		return fmt.Errorf("canary: follow: %w", err)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		defer sub.Close()
		for {
			select {
			case <-fctx.Done():
				return
			case m, ok := <-sub.C():
				if !ok {
					return
				}
				if v, err := strconv.ParseUint(strings.TrimSpace(string(m.Payload)), 10, 64); err == nil && v <= c.appliedVersion() {
					continue
				}
				if err := c.Sync(fctx); err != nil && fctx.Err() == nil {
					c.log.LogAttrs(fctx, slog.LevelWarn, "canary.sync_failed", slog.String("error", err.Error()))
				}
			}
		}
	}()
	return nil
}

func (c *Controller) appliedVersion() uint64 { return c.applied.Load() }

// Close stops following the change feed.
func (c *Controller) Close() {
	c.closeOnce.Do(func() {
		if c.stop != nil {
			c.stop()
			<-c.done
		}
	})
}
