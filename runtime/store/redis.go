package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/baldur-go/baldur/internal/redact"
)

// DefaultRedisPrefix is put before every key and channel the Redis store uses.
const DefaultRedisPrefix = "baldur:"

// RedisOptions configure OpenRedis. The zero value is the production setting;
// timeouts given as URL query options (dial_timeout=...) win over the
// defaults below, and non-zero fields here win over both.
type RedisOptions struct {
	// Prefix is put before every key and channel. Default "baldur:". It may
	// contain a hash tag ("baldur{app}:") to put every key in one cluster slot.
	Prefix string
	// DialTimeout, ReadTimeout and WriteTimeout bound every connection and
	// command. Default 500ms each: a lost Redis must be noticed within a second.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// MaxRetries is how often a command failing on the network is retried.
	// Default 1 (it replaces a pooled connection a restarted server dropped);
	// -1 disables retries.
	MaxRetries int
	// PoolSize is the number of connections per node. Default: go-redis's, 10 per CPU.
	PoolSize int
	// TLSConfig replaces the TLS configuration of a rediss:// URL.
	TLSConfig *tls.Config
	// LazyConnect skips the PING at open, so that a store can be built while
	// Redis is down (Failover does this and starts DEGRADED).
	LazyConnect bool
	// Logger receives subscription problems. Default slog.Default().
	Logger *slog.Logger
	// NoAutoPipeline sends every command on a pooled connection of its own
	// and waits for its reply before the connection serves another. By
	// default, on a single node or behind Sentinel, the single-key commands
	// (GET, SET, SET NX, the compare-and-set and transaction scripts, INCR,
	// hashes, streams, PUBLISH) that goroutines issue at the same time share
	// one connection as a full-duplex pipeline (go-redis's AutoPipeline):
	// the same replies, without a pool checkout (and its health-check
	// syscall) per command. Measured on 2 cores: idempotency claim +
	// complete 1.4× faster at 1 caller and 1.5× at 64, about the same at 8
	// (README, Measured). Cluster clients, and stores with a read or write
	// timeout disabled, never autopipeline.
	NoAutoPipeline bool
}

const defaultRedisTimeout = 500 * time.Millisecond

// Redis is the fleet-wide store on Redis (single node, Sentinel or Cluster)
// through go-redis's UniversalClient. Keys live under one prefix; strings,
// hashes and streams are the Redis types of the same name, so a Redis
// operator sees "baldur:dlq:payments" as a stream. Several keys change
// together through Lua scripts, which on a cluster need a shared hash tag.
type Redis struct {
	client redis.UniversalClient
	// pipe autopipelines the single-key commands (nil with NoAutoPipeline
	// or on a cluster); see one. Multi-key pipelines, SCAN, PING and
	// subscriptions always use client.
	pipe       *redis.AutoPipeliner
	pipeClient *redis.Client // the client under pipe, with retries off
	pipeBound  time.Duration // how long a command can wait in pipe: write + read timeout
	prefix     string
	cluster    bool
	logger     *slog.Logger

	mu     sync.Mutex
	subs   map[*redisSub]struct{}
	closed bool
}

var _ Store = (*Redis)(nil)

// OpenRedis connects to the Redis described by rawURL (see the package
// documentation for the URL forms) and checks it answers, unless
// opts.LazyConnect. A malformed URL is an error that says what is wrong.
func OpenRedis(ctx context.Context, rawURL string, opts RedisOptions) (*Redis, error) {
	target, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if strings.Count(opts.Prefix, "{") != strings.Count(opts.Prefix, "}") {
		return nil, fmt.Errorf("redis prefix %q: unbalanced hash tag braces: %w", opts.Prefix, ErrInvalid)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Redis{prefix: opts.Prefix, logger: opts.Logger, subs: make(map[*redisSub]struct{})}
	orDefault := func(d *time.Duration, override time.Duration) {
		switch {
		case override != 0:
			*d = override
		case *d == 0:
			*d = defaultRedisTimeout
		}
	}
	retries := func(n *int) {
		switch {
		case opts.MaxRetries != 0:
			*n = opts.MaxRetries
		case *n == 0:
			*n = 1
		}
	}
	noMaint := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// The three option types share these fields; tune sets them alike.
	tune := func(dial, read, write *time.Duration, maxRetries *int, ctxTimeout *bool, dialerRetries, pool *int, tlsConf **tls.Config) {
		orDefault(dial, opts.DialTimeout)
		orDefault(read, opts.ReadTimeout)
		orDefault(write, opts.WriteTimeout)
		retries(maxRetries)
		*ctxTimeout = true
		*dialerRetries = max(*dialerRetries, 1)
		if opts.PoolSize > 0 {
			*pool = opts.PoolSize
		}
		if opts.TLSConfig != nil && *tlsConf != nil {
			*tlsConf = opts.TLSConfig
		}
	}
	var pipeOpts func() *redis.Client // builds the autopipeliner's client; nil on a cluster
	switch {
	case target.single != nil:
		o := target.single
		tune(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries, &o.ContextTimeoutEnabled, &o.DialerRetries, &o.PoolSize, &o.TLSConfig)
		o.MaintNotificationsConfig = noMaint
		po := *o // before NewClient fills in defaults
		po.MaxRetries = -1
		pipeOpts = func() *redis.Client { return redis.NewClient(&po) }
		r.client = redis.NewClient(o)
	case target.failover != nil:
		o := target.failover
		tune(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries, &o.ContextTimeoutEnabled, &o.DialerRetries, &o.PoolSize, &o.TLSConfig)
		po := *o
		po.MaxRetries = -1
		pipeOpts = func() *redis.Client { return redis.NewFailoverClient(&po) }
		r.client = redis.NewFailoverClient(o)
	default:
		o := target.cluster
		tune(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries, &o.ContextTimeoutEnabled, &o.DialerRetries, &o.PoolSize, &o.TLSConfig)
		o.MaintNotificationsConfig = noMaint
		r.client = redis.NewClusterClient(o)
		r.cluster = true
	}
	if !opts.NoAutoPipeline && pipeOpts != nil {
		if err := r.openPipe(pipeOpts); err != nil {
			_ = r.client.Close()
			return nil, fmt.Errorf("open redis %s: autopipeline: %w", redact.URL(rawURL), err)
		}
	}
	if !opts.LazyConnect {
		if err := r.Ping(ctx); err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("open redis %s: %w", redact.URL(rawURL), err)
		}
	}
	return r, nil
}

// openPipe starts the autopipeliner on a client of its own, built from the
// same (tuned) options with go-redis's retries off: its full-duplex engine
// would replay a timed-out command on a new connection and keep a caller
// waiting for several timeouts while Redis hangs. one retries on the plain
// client instead, and only for errors that are not timeouts.
//
// With a read or write timeout disabled (≤ 0) nothing would bound how long a
// queued command waits, whatever its context says: the store then stays on
// the plain client.
func (r *Redis) openPipe(build func() *redis.Client) error {
	pc := build()
	o := pc.Options()
	if o.ReadTimeout <= 0 || o.WriteTimeout <= 0 {
		return pc.Close()
	}
	// Full duplex: one held connection with a writer and a reader
	// goroutine, so a command goes out while earlier replies are still
	// coming back; half duplex (one batch per round trip) phase-locks
	// callers that each wait for their reply before sending again.
	apo := redis.DefaultBlockingAutoPipelineOptions()
	apo.FullDuplex = true
	ap, err := pc.AutoPipelineWithOptions(apo)
	if err != nil {
		_ = pc.Close()
		return err
	}
	r.pipe, r.pipeClient, r.pipeBound = ap, pc, o.ReadTimeout+o.WriteTimeout
	return nil
}

// one runs a single-key command through the autopipeliner when there is
// one and ctx leaves the command time to wait there; otherwise, and once
// more when the pipeline failed on the network for another reason than a
// timeout (a connection a restarted server dropped), on the plain client.
// The autopipeliner does not watch ctx once a command is queued, so a
// deadline shorter than pipeBound goes to the plain client, which honours
// it; a cancellation without a deadline takes effect within pipeBound.
func one[T redis.Cmder](ctx context.Context, r *Redis, run func(redis.Cmdable) T) T {
	if r.pipe == nil {
		return run(r.client)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < r.pipeBound {
		return run(r.client)
	}
	res := run(r.pipe)
	if retryElsewhere(ctx, res.Err()) {
		res = run(r.client)
	}
	return res
}

// retryElsewhere reports whether err, from the autopipeliner, is a network
// failure that the plain client's reconnect may cure: not a server reply, not
// redis.Nil, not the caller's context, not a timeout (a hung server stays
// hung; the Failover store notices it).
func retryElsewhere(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return false
	}
	var nerr net.Error
	return !errors.As(err, &nerr) || !nerr.Timeout()
}

// Prefix returns the prefix of every key and channel.
func (r *Redis) Prefix() string { return r.prefix }

// Client returns the underlying go-redis client, for diagnostics (INFO
// commandstats); keys written through it bypass the prefix.
func (r *Redis) Client() redis.UniversalClient { return r.client }

func (r *Redis) key(k string) string { return r.prefix + k }

func (r *Redis) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// fail maps a go-redis error to the store's sentinels. Server replies that
// mean "cannot serve now" (LOADING, READONLY after a failover, CLUSTERDOWN...)
// count as unavailable like network failures do; so does anything that is not
// a server reply at all (timeouts, refused connections, garbage on the wire).
func (r *Redis) fail(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return ErrNotFound
	case r.isClosed():
		return errClosed
	case ctx.Err() != nil:
		return fmt.Errorf("redis %s: %w", op, ctx.Err())
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		switch {
		case strings.Contains(msg, "WRONGTYPE"), strings.Contains(msg, "not an integer"):
			return fmt.Errorf("redis %s: %w (%s)", op, ErrWrongType, msg)
		case strings.Contains(msg, "CROSSSLOT"):
			return fmt.Errorf("redis %s: %w (%s)", op, ErrCrossSlot, msg)
		case strings.Contains(msg, "overflow"):
			return fmt.Errorf("redis %s: %w (%s)", op, ErrInvalid, msg)
		}
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY",
			"NOREPLICAS", "MISCONF", "OOM", "NOAUTH", "WRONGPASS", "NOPERM", "MOVED", "ASK"} {
			if strings.HasPrefix(strings.TrimPrefix(msg, "ERR "), p) {
				return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
			}
		}
		return fmt.Errorf("redis %s: %w", op, err)
	}
	return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
}

// setArgs are the options of a typed SET (which the autopipeliner batches,
// where a raw Do would not be). Durations under a millisecond round up to
// one, as the other backends do.
func setArgs(mode string, ttl time.Duration) redis.SetArgs {
	a := redis.SetArgs{Mode: mode}
	switch {
	case ttl == KeepTTL:
		a.KeepTTL = true
	case ttl > 0:
		a.TTL = max(ttl, time.Millisecond)
	}
	return a
}

// ttlMillis encodes a TTL for the scripts: -1 keep, 0 none, else milliseconds.
func ttlMillis(ttl time.Duration) int64 {
	switch {
	case ttl == KeepTTL:
		return -1
	case ttl > 0:
		return max(ttl.Milliseconds(), 1)
	}
	return 0
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := one(ctx, r, func(c redis.Cmdable) *redis.StringCmd { return c.Get(ctx, r.key(key)) }).Bytes()
	if err != nil {
		return nil, r.fail(ctx, "get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// GetMany implements Store with one GET per key in one pipeline rather than
// an MGET, which Redis Cluster refuses across hash slots; go-redis splits
// the pipeline by node there.
func (r *Redis) GetMany(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := validKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	// The pipeline's own error is the first command's; each is read below.
	_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, r.key(k))
		}
		return nil
	})
	out := make([][]byte, len(keys))
	for i, c := range cmds {
		v, err := c.Bytes()
		switch {
		case err == nil:
			if v == nil {
				v = []byte{} // an empty value, not a missing one
			}
			out[i] = v
		case errors.Is(err, redis.Nil):
		default:
			if err = r.fail(ctx, "get", err); !errors.Is(err, ErrWrongType) {
				return nil, err
			}
		}
	}
	return out, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := SetOp(key, nil, ttl).validate(); err != nil {
		return err
	}
	if err := validValue(value); err != nil {
		return err
	}
	return r.fail(ctx, "set", one(ctx, r, func(c redis.Cmdable) *redis.StatusCmd {
		return c.SetArgs(ctx, r.key(key), value, setArgs("", ttl))
	}).Err())
}

// SetNX implements Store with one SET NX PX.
func (r *Redis) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := validKey(key); err != nil {
		return false, err
	}
	if err := validTTL(ttl, false); err != nil {
		return false, err
	}
	if err := validValue(value); err != nil {
		return false, err
	}
	err := one(ctx, r, func(c redis.Cmdable) *redis.StatusCmd {
		return c.SetArgs(ctx, r.key(key), value, setArgs("NX", ttl))
	}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, r.fail(ctx, "setnx", err)
	}
	return true, nil
}

// casScript is compare-and-set on one string key. It is what every
// idempotency completion runs, so it is a few lines rather than the general
// transaction script (measured ~3 µs of server time against ~15-20 µs).
// A key of another kind does not match, as in every backend.
var casScript = redis.NewScript(`
local cur = redis.pcall('GET', KEYS[1])
if type(cur) ~= 'string' or cur ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl == -1 then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
elseif ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`)

// CompareAndSet implements Store.
func (r *Redis) CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error) {
	if err := SetOp(key, newValue, ttl).validate(); err != nil {
		return false, err
	}
	n, err := one(ctx, r, func(c redis.Cmdable) *redis.Cmd {
		return casScript.Run(ctx, c, []string{r.key(key)}, old, newValue, ttlMillis(ttl))
	}).Int64()
	if err != nil {
		return false, r.fail(ctx, "compare-and-set", err)
	}
	return n == 1, nil
}

// Delete implements Store; several keys go out in one pipeline, one DEL per
// key, because on a cluster they may live on different nodes.
func (r *Redis) Delete(ctx context.Context, keys ...string) (int64, error) {
	for _, k := range keys {
		if err := validKey(k); err != nil {
			return 0, err
		}
	}
	switch len(keys) {
	case 0:
		return 0, nil
	case 1:
		n, err := one(ctx, r, func(c redis.Cmdable) *redis.IntCmd { return c.Del(ctx, r.key(keys[0])) }).Result()
		return n, r.fail(ctx, "delete", err)
	}
	cmds, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, r.key(k))
		}
		return nil
	})
	if err != nil {
		return 0, r.fail(ctx, "delete", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.(*redis.IntCmd).Val()
	}
	return n, nil
}

var incrScript = redis.NewScript(`
local existed = redis.call('EXISTS', KEYS[1])
redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('GET', KEYS[1])`)

// Incr implements Store with a script, so that the TTL is set only when the
// counter is created and the two happen together.
func (r *Redis) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := IncrOp(key, delta, ttl).validate(); err != nil {
		return 0, err
	}
	s, err := one(ctx, r, func(c redis.Cmdable) *redis.Cmd {
		return incrScript.Run(ctx, c, []string{r.key(key)}, delta, ttlMillis(ttl))
	}).Text()
	if err != nil {
		return 0, r.fail(ctx, "incr", err)
	}
	return strconv.ParseInt(s, 10, 64)
}

// TTL implements Store.
func (r *Redis) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := one(ctx, r, func(c redis.Cmdable) *redis.DurationCmd { return c.PTTL(ctx, r.key(key)) }).Result()
	if err != nil {
		return 0, r.fail(ctx, "ttl", err)
	}
	switch d { // go-redis passes PTTL's -2 (no key) and -1 (no expiry) through as they are
	case -2:
		return 0, ErrNotFound
	case -1:
		return 0, nil
	}
	return d, nil
}

// Keys implements Store with SCAN (on every master of a cluster).
func (r *Redis) Keys(ctx context.Context, prefix string) ([]string, error) {
	pattern := globEscape(r.key(prefix)) + "*"
	var mu sync.Mutex
	seen := map[string]bool{}
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			seen[strings.TrimPrefix(iter.Val(), r.prefix)] = true
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, r.client)
	}
	if err != nil {
		return nil, r.fail(ctx, "keys", err)
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// HSet implements Store.
func (r *Redis) HSet(ctx context.Context, key string, fields map[string]string) error {
	if err := HSetOp(key, fields).validate(); err != nil {
		return err
	}
	args := make([]any, 0, 2*len(fields))
	for f, v := range fields {
		args = append(args, f, v)
	}
	return r.fail(ctx, "hset", one(ctx, r, func(c redis.Cmdable) *redis.IntCmd { return c.HSet(ctx, r.key(key), args...) }).Err())
}

// HGetAll implements Store.
func (r *Redis) HGetAll(ctx context.Context, key string) (map[string]string, error) {
	m, err := one(ctx, r, func(c redis.Cmdable) *redis.MapStringStringCmd { return c.HGetAll(ctx, r.key(key)) }).Result()
	if err != nil {
		return nil, r.fail(ctx, "hgetall", err)
	}
	return m, nil
}

// streamField is the one field of each Redis stream entry.
const streamField = "v"

// Append implements Store with XADD.
func (r *Redis) Append(ctx context.Context, stream string, value []byte) (ID, error) {
	if err := AppendOp(stream, value).validate(); err != nil {
		return ID{}, err
	}
	s, err := one(ctx, r, func(c redis.Cmdable) *redis.StringCmd {
		return c.XAdd(ctx, &redis.XAddArgs{Stream: r.key(stream), Values: []any{streamField, value}})
	}).Result()
	if err != nil {
		return ID{}, r.fail(ctx, "append", err)
	}
	return ParseID(s)
}

// Range implements Store with XRANGE.
func (r *Redis) Range(ctx context.Context, stream string, from ID, count int) ([]Entry, error) {
	var msgs []redis.XMessage
	var err error
	if count > 0 {
		msgs, err = one(ctx, r, func(c redis.Cmdable) *redis.XMessageSliceCmd {
			return c.XRangeN(ctx, r.key(stream), from.String(), "+", int64(count))
		}).Result()
	} else {
		msgs, err = one(ctx, r, func(c redis.Cmdable) *redis.XMessageSliceCmd {
			return c.XRange(ctx, r.key(stream), from.String(), "+")
		}).Result()
	}
	if err != nil {
		return nil, r.fail(ctx, "range", err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		id, err := ParseID(m.ID)
		if err != nil {
			return nil, fmt.Errorf("redis range: %w", err)
		}
		v, _ := m.Values[streamField].(string)
		out = append(out, Entry{ID: id, Value: []byte(v)})
	}
	return out, nil
}

// Remove implements Store with XDEL.
func (r *Redis) Remove(ctx context.Context, stream string, ids ...ID) (int64, error) {
	if err := validKey(stream); err != nil || len(ids) == 0 {
		return 0, err
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	n, err := one(ctx, r, func(c redis.Cmdable) *redis.IntCmd { return c.XDel(ctx, r.key(stream), strs...) }).Result()
	return n, r.fail(ctx, "remove", err)
}

// Len implements Store with XLEN.
func (r *Redis) Len(ctx context.Context, stream string) (int64, error) {
	n, err := one(ctx, r, func(c redis.Cmdable) *redis.IntCmd { return c.XLen(ctx, r.key(stream)) }).Result()
	return n, r.fail(ctx, "len", err)
}

// Publish implements Store; channels carry the key prefix too, so two
// deployments sharing a Redis do not hear each other.
func (r *Redis) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := PublishOp(channel, payload).validate(); err != nil {
		return err
	}
	return r.fail(ctx, "publish", one(ctx, r, func(c redis.Cmdable) *redis.IntCmd {
		return c.Publish(ctx, r.key(channel), payload)
	}).Err())
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error {
	if r.isClosed() {
		return errClosed
	}
	return r.fail(ctx, "ping", r.client.Ping(ctx).Err())
}

// Close implements Store.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	subs := slices.Collect(maps.Keys(r.subs))
	r.mu.Unlock()
	for _, s := range subs {
		_ = s.Close()
	}
	if r.pipe != nil {
		_ = r.pipe.Close() // flushes what is queued and stops its goroutines
		_ = r.pipeClient.Close()
	}
	return r.client.Close()
}

// Subscribe implements Store with Redis pub/sub. It returns once Redis has
// confirmed every channel, so a message published after it returns arrives.
// A lost connection is re-established and re-subscribed by go-redis; messages
// published meanwhile are lost, as the change feed allows.
func (r *Redis) Subscribe(ctx context.Context, channels ...string) (Subscription, error) {
	return r.subscribe(ctx, true, channels)
}

func (r *Redis) subscribe(ctx context.Context, confirm bool, channels []string) (Subscription, error) {
	if len(channels) == 0 {
		return nil, fmt.Errorf("subscribe without channels: %w", ErrInvalid)
	}
	full := make([]string, 0, len(channels))
	for _, c := range slices.Compact(slices.Sorted(slices.Values(channels))) {
		if err := validKey(c); err != nil {
			return nil, err
		}
		full = append(full, r.key(c))
	}
	if r.isClosed() {
		return nil, errClosed
	}
	ps := r.client.Subscribe(ctx, full...)
	if confirm {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		for range full {
			msg, err := ps.Receive(cctx)
			if err == nil {
				if _, ok := msg.(*redis.Subscription); !ok {
					err = fmt.Errorf("unexpected %T while subscribing", msg)
				}
			}
			if err != nil {
				_ = ps.Close()
				return nil, r.fail(ctx, "subscribe", err)
			}
		}
	}
	s := &redisSub{r: r, ps: ps, ch: make(chan Message, subscriptionBuffer), done: make(chan struct{}), exited: make(chan struct{})}
	in := ps.Channel(redis.WithChannelSize(subscriptionBuffer))
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ps.Close()
		return nil, errClosed
	}
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	go s.forward(in)
	return s, nil
}

type redisSub struct {
	r      *Redis
	ps     *redis.PubSub
	ch     chan Message
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func (s *redisSub) C() <-chan Message { return s.ch }

// forward strips the prefix and hands messages on without ever blocking on
// a slow reader.
func (s *redisSub) forward(in <-chan *redis.Message) {
	defer close(s.exited)
	defer close(s.ch)
	for {
		select {
		case <-s.done:
			return
		case m, ok := <-in:
			if !ok {
				return
			}
			msg := Message{Channel: strings.TrimPrefix(m.Channel, s.r.prefix), Payload: []byte(m.Payload)}
			select {
			case s.ch <- msg:
			default: // the reader is behind: drop, like the in-process feed
			}
		}
	}
}

func (s *redisSub) Close() error {
	s.once.Do(func() {
		close(s.done)
		_ = s.ps.Close()
		<-s.exited
		s.r.mu.Lock()
		delete(s.r.subs, s)
		s.r.mu.Unlock()
	})
	return nil
}
