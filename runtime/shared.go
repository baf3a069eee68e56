package runtime

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/internal/restart"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/store"
)

// Breaker state is shared through the store so that a breaker opened on one
// worker is open on every worker, and the embedded store's copy survives a
// restart. The hot path never waits for it: a transition marks the breaker
// dirty, a background goroutine writes the hash "cb:{service}" and publishes
// the service name on channelBreakers, and every runtime's subscriber
// re-reads the hash and applies it (most restrictive wins, see breaker.Apply).
const (
	channelBreakers = "cb"
	remoteReason    = "remote: "
)

func breakerKey(service string) string { return "cb:{" + service + "}" }

// openStore picks the store: the one given in Config, else Redis (behind a
// Failover onto the embedded store) when a Redis URL is configured, else the
// embedded store under StateDir. owned reports whether Close must close it.
func (rt *Runtime) openStore(ctx context.Context) (st store.Store, owned bool, err error) {
	cfg := rt.cfg
	if cfg.Store != nil {
		return cfg.Store, false, nil
	}
	stateDir := cfg.StateDir
	if cfg.RedisURL == "" {
		emb, err := store.OpenEmbedded(stateDir, store.EmbeddedOptions{Clock: rt.clock, Logger: rt.log})
		if err != nil {
			return nil, false, fmt.Errorf("baldur: embedded store in %s: %w", stateDir, err)
		}
		return emb, true, nil
	}
	// With Redis, the embedded store only holds what is written while degraded.
	local, err := store.OpenEmbedded(filepath.Join(stateDir, "degraded"), store.EmbeddedOptions{Clock: rt.clock, Logger: rt.log})
	if err != nil {
		return nil, false, fmt.Errorf("baldur: local store for DEGRADED mode in %s: %w", stateDir, err)
	}
	remote, err := store.OpenRedis(ctx, cfg.RedisURL, store.RedisOptions{Prefix: cfg.RedisPrefix, LazyConnect: true, Logger: rt.log})
	if err != nil {
		_ = local.Close()
		return nil, false, fmt.Errorf("baldur: %s: %w", cfg.redisURLSource(), err)
	}
	rt.redis = remote
	fo, err := store.NewFailover(ctx, remote, local, store.FailoverOptions{
		Logger:          rt.log,
		OnModeChange:    func(m store.Mode) { rt.degraded.Store(m == store.ModeDegraded) },
		ReconcileHashes: reconcileBreakers,
	})
	if err != nil {
		_ = remote.Close()
		_ = local.Close()
		return nil, false, fmt.Errorf("baldur: %w", err)
	}
	return fo, true, nil
}

// Store is the runtime's state store.
func (rt *Runtime) Store() store.Store { return rt.store }

// Degraded reports whether Redis is configured but unreachable, so that state
// is served from the local write-ahead-logged store.
func (rt *Runtime) Degraded() bool { return rt.degraded.Load() }

// breakerRecord is the shared form of a breaker's state.
type breakerRecord struct {
	state    breaker.State
	openedAt time.Time
	node     string
}

func (r breakerRecord) fields() map[string]string {
	return map[string]string{
		"state":     r.state.String(),
		"opened_at": strconv.FormatInt(unixNanos(r.openedAt), 10),
		"node":      r.node,
	}
}

// unixNanos is t in Unix nanoseconds, 0 for the zero time (never opened).
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func parseBreakerRecord(h map[string]string) (breakerRecord, error) {
	s, ok := breaker.ParseState(h["state"])
	if !ok {
		return breakerRecord{}, fmt.Errorf("unknown breaker state %q", h["state"])
	}
	r := breakerRecord{state: s, node: h["node"]}
	if v := h["opened_at"]; v != "" {
		ns, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return breakerRecord{}, fmt.Errorf("bad opened_at %q", v)
		}
		if ns > 0 {
			r.openedAt = time.Unix(0, ns)
		}
	}
	return r, nil
}

// moreRestrictive reports whether a should win over b: FORCED_OPEN beats OPEN
// beats HALF_OPEN beats CLOSED, and among equals the later opening wins.
func moreRestrictive(a, b breakerRecord) bool {
	ra, rb := a.state.Restriction(), b.state.Restriction()
	if ra != rb {
		return ra > rb
	}
	return a.openedAt.After(b.openedAt)
}

// reconcileBreakers merges the breaker hashes written while degraded into
// Redis, most restrictive wins. Other hashes are written as they are.
func reconcileBreakers(ctx context.Context, remote store.Store, hashes map[string]map[string]string) error {
	for key, local := range hashes {
		if !strings.HasPrefix(key, "cb:{") {
			if err := remote.HSet(ctx, key, local); err != nil {
				return err
			}
			continue
		}
		lr, lerr := parseBreakerRecord(local)
		cur, err := remote.HGetAll(ctx, key)
		if err != nil {
			return err
		}
		rr, rerr := parseBreakerRecord(cur)
		switch {
		case lerr != nil:
			continue // nothing usable was written locally
		case len(cur) == 0 || rerr != nil || moreRestrictive(lr, rr):
			if err := remote.HSet(ctx, key, lr.fields()); err != nil {
				return err
			}
		}
	}
	return nil
}

// breakerSync propagates local transitions and applies remote ones: two
// loops, each restartable by the watchdog (restart.Loop).
type breakerSync struct {
	rt        *Runtime
	dirty     chan struct{}
	mu        sync.Mutex
	queued    map[string]bool
	every     time.Duration // the loops' beat
	sync      *restart.Loop
	publisher *restart.Loop
}

func (rt *Runtime) startBreakerSync() error {
	s := &breakerSync{rt: rt, dirty: make(chan struct{}, 1), queued: map[string]bool{},
		every: cmp.Or(rt.cfg.syncBeat, syncBeatEvery)}
	sub, err := rt.store.Subscribe(context.Background(), channelBreakers)
	if err != nil {
		return fmt.Errorf("baldur: subscribing to breaker changes: %w", err)
	}
	first := sub
	s.publisher = restart.Start(context.Background(), LoopBreakerPublish, rt.log, s.publishLoop)
	s.sync = restart.Start(context.Background(), LoopBreakerSync, rt.log, func(ctx context.Context) {
		sub := first // the first run's; a restarted run subscribes again
		first = nil
		s.syncLoop(ctx, sub)
	})
	rt.sync = s
	return nil
}

// syncLoop adopts the states other processes publish. A subscription the
// store closed is made again at the next beat.
func (s *breakerSync) syncLoop(ctx context.Context, sub store.Subscription) {
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	if sub == nil {
		sub = s.subscribe(ctx)
	}
	beat := time.NewTicker(s.every)
	defer beat.Stop()
	for {
		var msgs <-chan store.Message
		if sub != nil {
			msgs = sub.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			s.rt.beats.sync.Beat()
			if sub == nil {
				sub = s.subscribe(ctx)
			}
		case m, ok := <-msgs:
			if !ok {
				_ = sub.Close()
				sub = nil
				continue
			}
			s.adopt(ctx, string(m.Payload))
		}
	}
}

func (s *breakerSync) subscribe(ctx context.Context) store.Subscription {
	sub, err := s.rt.store.Subscribe(ctx, channelBreakers)
	if err != nil {
		if ctx.Err() == nil {
			s.rt.log.Warn("cb.sync_subscribe_failed", "error", err.Error())
		}
		return nil
	}
	return sub
}

func (s *breakerSync) close() {
	s.sync.Close()
	s.publisher.Close()
}

// markDirty queues a service for publication; it never blocks.
func (s *breakerSync) markDirty(service string) {
	s.mu.Lock()
	s.queued[service] = true
	s.mu.Unlock()
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

func (s *breakerSync) publishLoop(ctx context.Context) {
	beat := time.NewTicker(s.every)
	defer beat.Stop()
	for {
		select {
		case <-beat.C:
			s.rt.beats.publish.Beat()
		case <-ctx.Done():
			// Closing: the last transitions still reach the store, so that a
			// restart does not adopt a state this process had already left.
			s.publishQueued(ctx)
			return
		case <-s.dirty:
			s.publishQueued(ctx)
		}
	}
}

func (s *breakerSync) publishQueued(ctx context.Context) {
	s.mu.Lock()
	names := make([]string, 0, len(s.queued))
	for n := range s.queued {
		names = append(names, n)
	}
	clear(s.queued)
	s.mu.Unlock()
	for _, name := range names {
		s.publish(ctx, name)
	}
}

func (s *breakerSync) publish(ctx context.Context, name string) {
	b, ok := s.rt.Breaker(name)
	if !ok {
		return
	}
	snap := b.Snapshot()
	rec := breakerRecord{state: snap.State, openedAt: snap.OpenedAt, node: s.rt.node}
	// Not cancelled by Close: a transition queued before Close is still written.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := s.rt.store.HSet(wctx, breakerKey(name), rec.fields())
	if err == nil {
		err = s.rt.store.Publish(wctx, channelBreakers, []byte(name))
	}
	if err != nil {
		s.rt.log.LogAttrs(ctx, slog.LevelWarn, "cb.share_failed",
			slog.String("service", name), slog.String("error", err.Error()))
	}
}

// adopt reads a breaker's shared record and applies it when it came from
// another node.
func (s *breakerSync) adopt(ctx context.Context, name string) {
	b, ok := s.rt.Breaker(name)
	if !ok {
		return // no wrapper uses this service here
	}
	s.rt.adoptShared(ctx, b)
}

// adoptShared applies the shared record of b, if another node wrote it.
// Callers hold no runtime lock: it reads the store and runs b's listeners.
func (rt *Runtime) adoptShared(ctx context.Context, b *breaker.Breaker) {
	if rec := rt.readShared(ctx, b.Name()); rec != nil {
		rt.applyShared(b, *rec)
	}
}

// readShared reads the service's shared breaker record (a store round trip,
// bounded to 2 s); nil when there is none, it is unreadable, or this node
// wrote it.
func (rt *Runtime) readShared(ctx context.Context, service string) *breakerRecord {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := rt.store.HGetAll(rctx, breakerKey(service))
	if err != nil || len(h) == 0 {
		return nil
	}
	rec, err := parseBreakerRecord(h)
	if err != nil {
		rt.log.LogAttrs(ctx, slog.LevelWarn, "cb.shared_state_unreadable",
			slog.String("service", service), slog.String("error", err.Error()))
		return nil
	}
	if rec.node == rt.node {
		return nil
	}
	return &rec
}

// applyShared applies a record another node wrote to b; b's OnStateChange
// (and so every listener) runs if the state changes.
func (rt *Runtime) applyShared(b *breaker.Breaker, rec breakerRecord) {
	b.Apply(rec.state, rec.openedAt, remoteReason+"node "+rec.node)
}

// newNodeID names this runtime in shared records: host, pid and start time.
func newNodeID() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}
