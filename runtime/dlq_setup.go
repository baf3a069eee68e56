package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/schedule"
)

// The dead-letter queue of a runtime: New builds it on the runtime's store
// with Config.DLQ (BALDUR_DLQ_* from the environment), wires the breakers to
// it so that a domain whose breaker closes again is swept, and Close stops it.
// Generated wrappers park and replay through their zones (zone_dlq.go).

// deadLetters is the runtime's queue and the domains this process can replay.
type deadLetters struct {
	rt *Runtime
	q  *dlq.Queue
	// domains holds the services with at least one registered replayer: a
	// breaker closing elsewhere triggers a sweep here only for those, since
	// an entry swept without its replayer would go to needs_review.
	domains sync.Map // service → true
}

// openDLQ builds the queue from rt.cfg.DLQ, filling in the runtime's clock
// and logger, and the runtime's "not now" errors as Postpone. It starts
// nothing: Start runs the background loop.
func openDLQ(rt *Runtime) (*deadLetters, error) {
	opts := rt.cfg.DLQ
	if opts.Clock == nil {
		opts.Clock = rt.clock
	}
	if opts.Logger == nil {
		opts.Logger = rt.log
	}
	if opts.Owner == "" {
		opts.Owner = rt.node
	}
	// Retention (the GC after the first) runs on the fleet's scheduler, on
	// the leader only: see scheduleDLQRetention.
	opts.GCOutside = true
	if user := opts.Beat; user != nil {
		opts.Beat = func() { rt.beats.dlq.Beat(); user() }
	} else {
		opts.Beat = rt.beats.dlq.Beat
	}
	user := opts.Postpone
	// A replay refused by the breaker or the bulkhead did not fail: the
	// domain is not ready yet, so the entry keeps its budget and the sweep
	// stops until the breaker closes again.
	opts.Postpone = func(err error) bool {
		return errors.Is(err, ErrOpen) || errors.Is(err, ErrBulkheadFull) || (user != nil && user(err))
	}
	userHold := opts.Hold
	opts.Hold = func() string {
		if why := rt.sweepHold(); why != "" {
			return why
		}
		if why := rt.emergencyHold(false); why != "" {
			return why
		}
		if userHold != nil {
			return userHold()
		}
		return ""
	}
	q, err := dlq.New(rt.store, opts)
	if err != nil {
		return nil, fmt.Errorf("baldur: dead-letter queue: %w", err)
	}
	d := &deadLetters{rt: rt, q: q}
	rt.OnBreakerChange(d.breakerChanged)
	return d, nil
}

// breakerChanged sweeps a domain when its breaker lets calls through again,
// unless sweeps are held (dry-run: recorded as a would-have decision; kill
// switch DISABLED: logged).
func (d *deadLetters) breakerChanged(t breaker.Transition) {
	passing := func(s breaker.State) bool { return s == breaker.Closed || s == breaker.ForcedClosed }
	if !passing(t.To) || passing(t.From) {
		return
	}
	if _, ok := d.domains.Load(t.Name); !ok {
		return
	}
	why := d.rt.sweepHold()
	if why == "" {
		why = d.rt.emergencyHold(true) // the level only: this runs on the transition's goroutine
	}
	switch {
	case why == "":
		d.q.BreakerClosed(t.Name)
	case d.rt.Enabled() && d.rt.recordWouldHave(t.Name, "", "dlq", "sweep",
		"breaker "+t.To.String()+": the pending entries of "+t.Name+" would have been replayed"):
	default:
		d.rt.log.LogAttrs(context.Background(), slog.LevelInfo, "dlq.sweep_held",
			slog.String("domain", t.Name), slog.String("reason", why))
	}
}

// start runs the queue's background loop: lease reaping, GC, sweeps. The
// queue refuses only once closed, which New has not done.
func (d *deadLetters) start() { _ = d.q.Start() }

// DLQRetentionTask is the scheduled task that drops stale index entries and
// trims the queue to its caps (dlq.Queue.GC), every Config.DLQ.GCInterval on
// the fleet's leader.
const DLQRetentionTask = "dlq.retention"

func (rt *Runtime) scheduleDLQRetention() error {
	every := cmp.Or(rt.cfg.DLQ.GCInterval, dlq.DefaultGCInterval)
	return rt.Schedule(DLQRetentionTask, every.String(), rt.dlq.q.GC, schedule.TaskOptions{})
}

// close stops the background loop and waits for running sweeps.
func (d *deadLetters) close() error { return d.q.Close() }

// DLQ returns the runtime's dead-letter queue: list, get, replay, batch
// replay, redrive, purge and stats for the admin server and the CLI. Replays
// run the replayers the generated constructors registered in this process.
func (rt *Runtime) DLQ() *dlq.Queue { return rt.dlq.q }

// Environment variables of the dead-letter queue (see dlq.Options).
const (
	EnvDLQMaxSize           = "BALDUR_DLQ_MAX_SIZE"           // int ≥ 1 (100000)
	EnvDLQDomainMaxSize     = "BALDUR_DLQ_DOMAIN_MAX_SIZE"    // int ≥ 1 (= max size)
	EnvDLQDomainCaps        = "BALDUR_DLQ_DOMAIN_CAPS"        // domain=n,domain=n
	EnvDLQOverflow          = "BALDUR_DLQ_OVERFLOW"           // drop_oldest|reject|compress_oldest (drop_oldest)
	EnvDLQReplayBudget      = "BALDUR_DLQ_REPLAY_BUDGET"      // int ≥ 1 (5)
	EnvDLQReplayRate        = "BALDUR_DLQ_REPLAY_RATE"        // entries/s > 0, or off (100)
	EnvDLQReplayConcurrency = "BALDUR_DLQ_REPLAY_CONCURRENCY" // int ≥ 1 (4)
	EnvDLQLease             = "BALDUR_DLQ_LEASE"              // duration or secs (5m)
	EnvDLQRetention         = "BALDUR_DLQ_RETENTION"          // duration or secs (24h)
)

// dlqFromEnv reads the BALDUR_DLQ_* variables into o and records in r one
// error per malformed value, naming the variable and the value. Unset
// variables leave o's fields as they are (zero: the queue's default).
func dlqFromEnv(r *env.Reader, o *dlq.Options) {
	r.Int(EnvDLQMaxSize, 1, &o.MaxSize)
	r.Int(EnvDLQDomainMaxSize, 1, &o.DomainMaxSize)
	r.Int(EnvDLQReplayBudget, 1, &o.ReplayBudget)
	r.Int(EnvDLQReplayConcurrency, 1, &o.ReplayConcurrency)
	r.Duration(EnvDLQLease, &o.Lease)
	r.Duration(EnvDLQRetention, &o.Retention)
	if v, ok := r.Lookup(EnvDLQOverflow); ok {
		s, err := dlq.ParseStrategy(strings.TrimSpace(v))
		if err != nil || strings.TrimSpace(v) == "" {
			r.Bad(EnvDLQOverflow, v, "drop_oldest, reject or compress_oldest")
		} else {
			o.Overflow = s
		}
	}
	if v, ok := r.Lookup(EnvDLQReplayRate); ok {
		switch t := strings.ToLower(strings.TrimSpace(v)); t {
		case "off", "unlimited":
			o.ReplayRate = -1
		default:
			rate, err := strconv.ParseFloat(t, 64)
			if err != nil || !(rate > 0) || rate > 1e9 {
				r.Bad(EnvDLQReplayRate, v, "entries per second > 0, or off for no cap")
				break
			}
			o.ReplayRate = rate
		}
	}
	if v, ok := r.Lookup(EnvDLQDomainCaps); ok {
		caps, err := parseDomainCaps(v)
		if err != nil {
			r.Add(fmt.Errorf("%s=%q: %w", EnvDLQDomainCaps, v, err))
		} else {
			o.DomainCaps = caps
		}
	}
}

// parseDomainCaps reads "payments=1000,mailer=50".
func parseDomainCaps(v string) (map[string]int, error) {
	caps := make(map[string]int)
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		domain, n, ok := strings.Cut(part, "=")
		domain = strings.TrimSpace(domain)
		size, err := strconv.Atoi(strings.TrimSpace(n))
		switch {
		case !ok || domain == "":
			return nil, fmt.Errorf("%q: want domain=cap, such as payments=1000", part)
		case err != nil || size < 1:
			return nil, fmt.Errorf("%q: the cap of %s must be a whole number ≥ 1", part, domain)
		}
		if _, dup := caps[domain]; dup {
			return nil, fmt.Errorf("domain %s is listed twice", domain)
		}
		caps[domain] = size
	}
	if len(caps) == 0 {
		return nil, errors.New("want domain=cap pairs separated by commas, such as payments=1000,mailer=50")
	}
	return caps, nil
}
