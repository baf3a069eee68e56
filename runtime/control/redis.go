package control

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baldur-go/baldur/runtime/store"
)

// DefaultRedisPrefix starts every key and channel the Redis backend uses.
const DefaultRedisPrefix = "baldur:"

// redisTxRetries bounds optimistic-transaction retries when several processes
// flip the switch at the same instant.
const redisTxRetries = 20

// Redis keeps the state in one Redis key shared by the fleet and announces each
// change on a pub/sub channel, so that every process on the same Redis applies
// a flip within milliseconds (and, should a message be lost to a reconnect,
// at the next poll of the Control).
type Redis struct {
	client  redis.UniversalClient
	owned   bool
	key     string
	channel string
	now     func() time.Time
}

// NewRedis returns a backend on client, with keys under prefix (DefaultRedisPrefix
// when empty). Close does not close a client passed in.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{
		client: client,
		// The hash tag keeps the state and its set-aside copies in one Cluster slot,
		// which RENAME needs.
		key:     prefix + "{control}",
		channel: prefix + "control:changed",
		now:     time.Now,
	}
}

// OpenRedis connects to the Redis at url (redis:// or rediss://, read as the
// store reads it, with the same password-free errors) and returns a backend that owns the connection.
func OpenRedis(url, prefix string) (*Redis, error) {
	opt, err := store.ParseSingleRedisURL(url)
	if err != nil {
		return nil, fmt.Errorf("control %w", err)
	}
	r := NewRedis(redis.NewClient(opt), prefix)
	r.owned = true
	return r, nil
}

// Key is the Redis key holding the state.
func (r *Redis) Key() string { return r.key }

// Channel is the pub/sub channel announcing changes.
func (r *Redis) Channel() string { return r.channel }

// Describe implements Backend.
func (r *Redis) Describe() string { return "redis:" + r.key }

// Close implements Backend.
func (r *Redis) Close() error {
	if r.owned {
		return r.client.Close()
	}
	return nil
}

// Load implements Backend.
func (r *Redis) Load(ctx context.Context) (State, error) {
	b, err := r.client.Get(ctx, r.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Default(), nil
	}
	if err != nil {
		return State{}, fmt.Errorf("control redis: get %s: %w", r.key, err)
	}
	return r.decode(ctx, r.client, b)
}

func (r *Redis) decode(ctx context.Context, c redis.Cmdable, b []byte) (State, error) {
	s, derr := Decode(b)
	if derr == nil {
		return s, nil
	}
	aside := r.key + ":corrupt:" + strconv.FormatInt(r.now().UnixNano(), 10)
	if err := c.Rename(ctx, r.key, aside).Err(); err != nil {
		return State{}, fmt.Errorf("control redis: set aside corrupt %s: %w (state: %w)", r.key, err, derr)
	}
	return State{}, &CorruptError{Where: r.key, SetAside: aside, Err: derr}
}

// Update implements Backend with WATCH/MULTI: a concurrent writer makes the
// transaction fail and the update is retried on the fresh state.
func (r *Redis) Update(ctx context.Context, fn func(State) (State, error)) (State, error) {
	var next State
	txf := func(tx *redis.Tx) error {
		cur := Default()
		b, err := tx.Get(ctx, r.key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return fmt.Errorf("control redis: get %s: %w", r.key, err)
		default:
			if cur, err = r.decode(ctx, tx, b); err != nil {
				return err
			}
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		enc, err := next.Encode()
		if err != nil {
			return fmt.Errorf("control redis: encode: %w", err)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, r.key, enc, 0)
			p.Publish(ctx, r.channel, strconv.FormatUint(next.Revision, 10))
			return nil
		})
		return err
	}
	for range redisTxRetries {
		err := r.client.Watch(ctx, txf, r.key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return State{}, err
		}
		return next, nil
	}
	return State{}, fmt.Errorf("control redis: update %s: gave up after %d concurrent modifications", r.key, redisTxRetries)
}

// Watch implements Watcher: it subscribes to the change channel and returns
// once Redis has confirmed the subscription.
func (r *Redis) Watch(ctx context.Context, changed func()) (func(), error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("control redis: subscribe %s: %w", r.channel, err)
	}
	ch := ps.Channel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range ch {
			changed()
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			ps.Close() // closes ch
			wg.Wait()
		})
	}, nil
}

// PoolStats reports the Redis connection pool, for the admin server's
// health/pool/ page.
func (r *Redis) PoolStats() map[string]uint64 {
	s := r.client.PoolStats()
	return map[string]uint64{
		"hits": uint64(s.Hits), "misses": uint64(s.Misses), "timeouts": uint64(s.Timeouts),
		"total_conns": uint64(s.TotalConns), "idle_conns": uint64(s.IdleConns), "stale_conns": uint64(s.StaleConns),
	}
}

// Ping checks that Redis answers, for health checks.
func (r *Redis) Ping(ctx context.Context) error { return r.client.Ping(ctx).Err() }
