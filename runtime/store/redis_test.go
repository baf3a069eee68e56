package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
	"github.com/baldur-go/baldur/runtime/store/storetest"
)

func redisHarness(url string) storetest.Factory { return redisHarnessWith(url, store.RedisOptions{}) }

func redisHarnessWith(url string, opts store.RedisOptions) storetest.Factory {
	return func(t *testing.T) storetest.Harness {
		opts.Prefix = redistest.Prefix(t, url)
		s, err := store.OpenRedis(context.Background(), url, opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		// Redis expires keys on its own clock: let the time really pass.
		return storetest.Harness{Store: s, Advance: time.Sleep}
	}
}

func TestRedis_Conformance(t *testing.T) {
	storetest.Run(t, redisHarness(redistest.Shared(t)))
}

// The same suite with every command on a pooled connection of its own.
func TestRedis_NoAutoPipeline_Conformance(t *testing.T) {
	storetest.Run(t, redisHarnessWith(redistest.Shared(t), store.RedisOptions{NoAutoPipeline: true}))
}

// Concurrent callers share the autopipeline: each still gets its own reply.
func TestRedis_AutoPipelinedCallersGetTheirOwnReplies(t *testing.T) {
	s := redisHarness(redistest.Shared(t))(t).Store
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				k := fmt.Sprintf("own:%d:%d", g, i)
				ok, err := s.SetNX(ctx, k, []byte(k), time.Minute)
				if !assert.NoError(t, err) || !assert.True(t, ok) {
					return
				}
				v, err := s.Get(ctx, k)
				if !assert.NoError(t, err) || !assert.Equal(t, k, string(v)) {
					return
				}
				ok, err = s.CompareAndSet(ctx, k, []byte(k), []byte(k+"!"), time.Minute)
				if !assert.NoError(t, err) || !assert.True(t, ok) {
					return
				}
			}
		})
	}
	await.Wait(t, &wg, "the auto-pipelined callers")
}

// A frozen server: a command whose context allows less than the timeouts
// (500ms + 500ms) skips the autopipeline, which would not watch its context,
// and ends at its deadline; one without a deadline fails after one timeout,
// not after replays.
func TestRedis_FrozenServerHonoursDeadlines(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Prefix: "frozen:"})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Set(context.Background(), "k", []byte("v"), 0))
	srv.Pause()
	defer srv.Resume()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Get(ctx, "k")
	took := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, 400*time.Millisecond, "a 100ms deadline waited %v", took)

	start = time.Now()
	_, err = s.Get(context.Background(), "k")
	took = time.Since(start)
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.Less(t, took, 1500*time.Millisecond, "no deadline: one timeout, got %v", took)
}

// With the read timeout disabled nothing bounds a queued command, so the
// store does not autopipeline and the context alone ends the wait.
func TestRedis_NoReadTimeoutStillHonoursDeadlines(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Prefix: "frozen:", ReadTimeout: -1})
	require.NoError(t, err)
	defer s.Close()
	srv.Pause()
	defer srv.Resume()
	// Longer than read + write timeout: with a pipeline it would queue there.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := s.Get(ctx, "k"); done <- err }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2500*time.Millisecond)
	case <-time.After(5 * time.Second):
		srv.Resume() // lets the stuck command finish, so no goroutine leaks
		<-done
		t.Fatal("a 1.5s deadline still waiting after 5s")
	}
}

// A restarted server dropped the autopipeline's connection: the next
// command is retried on the plain client and succeeds.
func TestRedis_RestartedServerIsServedAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.OpenRedis(context.Background(), srv.URL(), store.RedisOptions{Prefix: "restart:"})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	require.NoError(t, s.Set(ctx, "k", []byte("v"), 0))
	srv.Restart()
	for i := range 3 {
		require.NoError(t, s.Set(ctx, "k", []byte("w"), 0), "write %d after the restart", i)
	}
	v, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "w", string(v))
}

// TestRedisCluster_ThreeNodes_Conformance starts three cluster-enabled
// redis-servers, joins them with redis-cli --cluster create, and runs the
// same suite through a redis+cluster:// URL: keys spread over the nodes,
// and multi-key operations work because their keys share hash tags.
func TestRedisCluster_ThreeNodes_Conformance(t *testing.T) {
	cluster := redistest.StartCluster(t)
	storetest.Run(t, redisHarness(cluster.URL()))

	t.Run("KeysSpreadOverNodes", func(t *testing.T) {
		s := redisHarness(cluster.URL())(t).Store
		ctx := context.Background()
		for i := range 60 {
			require.NoError(t, s.Set(ctx, "spread:"+string(rune('a'+i%26))+string(rune('a'+i/26)), []byte("v"), 0))
		}
		holding := 0
		for _, n := range cluster.Nodes {
			if size, err := redistest.Client(t, n.Addr()).DBSize(ctx).Result(); err == nil && size > 0 {
				holding++
			}
		}
		assert.Equal(t, 3, holding, "every node holds some keys")
		keys, err := s.Keys(ctx, "spread:")
		require.NoError(t, err)
		assert.Len(t, keys, 60, "Keys scans every master")
		n, err := s.Delete(ctx, keys...)
		require.NoError(t, err)
		assert.Equal(t, int64(60), n, "Delete of keys on several nodes")
	})
	t.Run("CrossSlotAtomicIsRefused", func(t *testing.T) {
		s := redisHarness(cluster.URL())(t).Store
		_, err := s.Atomic(context.Background(), store.Txn{Ops: []store.Op{
			store.SetOp("dlq:payments", []byte("1"), 0), store.SetOp("dlq:orders", []byte("1"), 0)}})
		require.ErrorIs(t, err, store.ErrCrossSlot)
	})
}

// TestRedisSentinel_PrivateServers_Conformance starts a private master and a
// sentinel monitoring it, and runs the suite through a redis+sentinel:// URL.
func TestRedisSentinel_PrivateServers_Conformance(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master)
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		s, err := store.OpenRedis(context.Background(), "redis+sentinel://"+sentinel.Addr()+"/mymaster",
			store.RedisOptions{Prefix: "sentinel:" + t.Name() + ":"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return storetest.Harness{Store: s, Advance: time.Sleep}
	})
}

// TestRedisCluster_SlotsMoveUnderLoad_NoAcknowledgedWriteLost reshards
// half of a node's slots while writers run: every error must be
// ErrUnavailable (a retryable "try again", never a wrong answer) and every
// acknowledged write must read back afterwards.
func TestRedisCluster_SlotsMoveUnderLoad_NoAcknowledgedWriteLost(t *testing.T) {
	cluster := redistest.StartCluster(t)
	s := redisHarness(cluster.URL())(t).Store
	ctx := context.Background()
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		other []error
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("move:{%d-%d}", w, i)
				_, err := s.Atomic(ctx, store.Txn{Conds: []store.Cond{store.IfAbsent(k)},
					Ops: []store.Op{store.SetOp(k, []byte(k), 0), store.AppendOp(k+":log", []byte(k))}})
				mu.Lock()
				switch {
				case err == nil:
					acked[k] = true
				case !errors.Is(err, store.ErrUnavailable):
					other = append(other, err)
				}
				mu.Unlock()
			}
		})
	}
	cluster.Reshard(t, 2000)
	close(stop)
	await.Wait(t, &wg, "the writers, stopped")
	require.Empty(t, other, "slot moves only ever look like a passing outage")
	require.NotEmpty(t, acked)
	for k := range acked {
		got, err := s.Get(ctx, k)
		require.NoError(t, err, k)
		require.Equal(t, k, string(got))
		n, err := s.Len(ctx, k+":log")
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "the claim and its log entry moved together")
	}
	t.Logf("%d acknowledged writes checked after moving 2000 slots", len(acked))
}

func TestRedis_CrossSlotAtomicIsRefusedOnASingleNodeToo(t *testing.T) {
	s := redisHarness(redistest.Shared(t))(t).Store
	_, err := s.Atomic(context.Background(), store.Txn{Ops: []store.Op{
		store.SetOp("a", []byte("1"), 0), store.SetOp("b", []byte("1"), 0)}})
	require.ErrorIs(t, err, store.ErrCrossSlot, "code that passes on one node must pass on a cluster")
}

func TestRedis_KeysLiveUnderThePrefix(t *testing.T) {
	url := redistest.Shared(t)
	prefix := redistest.Prefix(t, url)
	s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{Prefix: prefix})
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	require.NoError(t, s.Set(ctx, "kill-switch", []byte("enabled"), 0))
	_, err = s.Append(ctx, "dlq:payments", []byte("entry"))
	require.NoError(t, err)
	raw := redistest.Client(t, redistest.SharedAddr)
	assert.Equal(t, "enabled", raw.Get(ctx, prefix+"kill-switch").Val())
	assert.Equal(t, "stream", raw.Type(ctx, prefix+"dlq:payments").Val(), "a DLQ is a Redis stream an operator can inspect")
}

func TestRedis_UnreachableIsUnavailable(t *testing.T) {
	port := redistest.FreePort(t, false)
	url := "redis://127.0.0.1:" + itoa(port)
	_, err := store.OpenRedis(context.Background(), url, store.RedisOptions{})
	require.ErrorIs(t, err, store.ErrUnavailable)

	s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{LazyConnect: true})
	require.NoError(t, err, "LazyConnect builds the store while Redis is down")
	defer s.Close()
	start := time.Now()
	err = s.Set(context.Background(), "k", []byte("v"), 0)
	require.ErrorIs(t, err, store.ErrUnavailable)
	t.Logf("failed after %v", time.Since(start))
}

// fakeRedis answers every command with reply, whatever it is asked.
func fakeRedis(t *testing.T, reply string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = l.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go func() {
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "redis://" + l.Addr().String()
}

func TestRedis_GarbageAndErrorRepliesNeverPanic(t *testing.T) {
	for _, tc := range []struct{ name, reply string }{
		{"garbage", "this is not RESP\r\n"},
		{"loading", "-LOADING Redis is loading the dataset in memory\r\n"},
		{"truncated bulk", "$10\r\nabc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fakeRedis(t, tc.reply)
			s, err := store.OpenRedis(context.Background(), url, store.RedisOptions{LazyConnect: true, MaxRetries: -1})
			require.NoError(t, err)
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = s.Get(ctx, "k")
			require.ErrorIs(t, err, store.ErrUnavailable)
			_, err = s.SetNX(ctx, "k", []byte("v"), time.Second)
			require.ErrorIs(t, err, store.ErrUnavailable)
			_, err = s.Atomic(ctx, store.Txn{Ops: []store.Op{store.SetOp("k", []byte("v"), 0)}})
			require.ErrorIs(t, err, store.ErrUnavailable)
		})
	}
}

func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct{ url, err string }{
		{"redis://127.0.0.1:6379", ""},
		{"redis://user:secret@localhost:6380/2?dial_timeout=1s&pool_size=5", ""},
		{"rediss://cache.example.com", ""},
		{"redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/1", ""},
		{"redis+sentinel://10.0.0.1,[::1]:26380/mymaster?sentinel_password=s3", ""},
		{"redis+cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002", ""},
		{"rediss+cluster://user:pw@10.0.0.1:7000", ""},
		{"", "empty"},
		{"127.0.0.1:6379", "missing scheme"},
		{"http://localhost", `unsupported scheme "http"`},
		{"redis+mesh://localhost", `unsupported scheme "redis+mesh"`},
		{"redis://", "missing host"},
		{"redis://localhost:notaport", `invalid port "notaport"`},
		{"redis://localhost:70000", `invalid port "70000"`},
		{"redis://localhost/abc", "invalid database number"},
		{"redis://localhost/1/2", "invalid URL path"},
		{"redis://a:1,b:2", "2 hosts for a single node"},
		{"redis://localhost?bogus=1", "unexpected option"},
		{"redis+sentinel://10.0.0.1:26379", "missing master name"},
		{"redis+cluster://10.0.0.1:7000/3", "a cluster has no database number"},
		{"redis+cluster://10.0.0.1:7000,,10.0.0.2:7000", "empty host"},
		{"redis://user:p%zzword@localhost", "the user name or password is not valid in a URL"},
		{"redis://user:pa/ss@localhost", `an "@" after the first "/"`},
		{"redis://localhost/0#frag", "unexpected fragment"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := store.ParseRedisURL(tc.url)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.True(t, strings.HasPrefix(err.Error(), "redis url "), err.Error())
		})
	}
}

func TestParseRedisURL_NeverRepeatsThePassword(t *testing.T) {
	for _, url := range []string{
		"redis://user:hunter2@localhost/abc",
		"redis://user:hunter2@localhost?bogus=1",
		"redis://localhost?password=hunter2&bogus=1",
		"redis+sentinel://user:hunter2@h1,h2",
		"redis://user:hunter2/x@localhost:6379/0",
		"redis://user:x/hunter2@localhost:6379/0",
		"redis://user:hunter2#x@localhost:6379/0",
		"redis://user:x#hunter2@localhost:6379/0",
		"redis://user:hunter2?x@localhost:6379/0",
		"redis://user:x?hunter2@localhost:6379/0",
		"redis://user:hunter2@x@localhost:notaport/0",
		"redis://user:hunter2@localhost:notaport/0",
		"redis://localhost/m?sentinel_password=hunter2#x",
	} {
		err := store.ParseRedisURL(url)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
