package peers

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/redis/rueidis"
)

// casScript is the completion script of baldur's Redis store
// (runtime/store/redis.go).
const casScript = `
local cur = redis.pcall('GET', KEYS[1])
if type(cur) ~= 'string' or cur ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl == -1 then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
elseif ttl > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`

const (
	running   = "r|0123456789abcdef|1764751234567" // about the size of the gate's records
	completed = "c|0123456789abcdef|1764751234567|1764751234890"
	ttl       = "60000"
)

func addr() string {
	if a := os.Getenv("BALDUR_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// pair is one claim + completion of key through some client.
type pair func(ctx context.Context, key string) error

// BenchmarkGoRedisPair: go-redis v9 with the full-duplex autopipeliner and
// retries off, as baldur's store configures it.
func BenchmarkGoRedisPair(b *testing.B) {
	run(b, func(b *testing.B) pair {
		c := redis.NewClient(&redis.Options{Addr: addr(), PoolSize: 128, MaxRetries: -1,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		apo := redis.DefaultBlockingAutoPipelineOptions()
		apo.FullDuplex = true
		ap, err := c.AutoPipelineWithOptions(apo)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ap.Close(); _ = c.Close() })
		cas := redis.NewScript(casScript)
		return func(ctx context.Context, key string) error {
			if err := ap.SetArgs(ctx, key, running, redis.SetArgs{Mode: "NX", TTL: time.Minute}).Err(); err != nil {
				return err
			}
			return cas.Run(ctx, ap, []string{key}, running, completed, ttl).Err()
		}
	})
}

// BenchmarkRueidisPair: rueidis with its defaults (auto-pipelining of
// concurrent commands, a synchronous round trip when only one is in flight).
func BenchmarkRueidisPair(b *testing.B) {
	run(b, func(b *testing.B) pair {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr()}, DisableCache: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		cas := rueidis.NewLuaScript(casScript)
		return func(ctx context.Context, key string) error {
			if err := c.Do(ctx, c.B().Set().Key(key).Value(running).Nx().Px(time.Minute).Build()).Error(); err != nil {
				return err
			}
			return cas.Exec(ctx, c, []string{key}, []string{running, completed, ttl}).Error()
		}
	})
}

var runs atomic.Int64

// run reports pairs per second at 1, 8 and 64 concurrent callers, each
// sub-benchmark on a fresh client and fresh keys, deleted afterwards.
func run(b *testing.B, open func(*testing.B) pair) {
	for _, callers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			do := open(b)
			ctx := context.Background()
			prefix := fmt.Sprintf("baldur-peers:%d:%d:", os.Getpid(), runs.Add(1))
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = prefix + strconv.Itoa(i)
			}
			b.Cleanup(func() { deleteKeys(b, keys) })
			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range callers {
				wg.Go(func() {
					for {
						i := int(next.Add(1) - 1)
						if i >= b.N {
							return
						}
						if err := do(ctx, keys[i]); err != nil {
							failed.CompareAndSwap(nil, err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func deleteKeys(b *testing.B, keys []string) {
	c := redis.NewClient(&redis.Options{Addr: addr(),
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	ctx := context.Background()
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
			b.Errorf("deleting the benchmark's keys: %v", err)
			return
		}
		keys = keys[n:]
	}
}
