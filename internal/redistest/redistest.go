// Package redistest finds and starts real Redis servers for the tests: the shared server on 127.0.0.1:6379, private servers on free
// loopback ports that tests may kill, and three-node clusters.
//
// Without redis-server on PATH the tests skip with a message, unless
// BALDUR_REQUIRE_REDIS=1 (set by CI), which turns the skip into a failure.
package redistest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/baldur-go/baldur/runtime/store"
)

// SharedAddr is the Redis every test may use but never stop or flush:
// 127.0.0.1:6379, or BALDUR_TEST_REDIS_ADDR when set (bench/idem-redis.sh
// points it at a private server pinned to its own CPU).
var SharedAddr = cmp.Or(os.Getenv("BALDUR_TEST_REDIS_ADDR"), "127.0.0.1:6379")

// unavailable skips the test, or fails it when CI requires Redis.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("BALDUR_REQUIRE_REDIS") == "1" {
		t.Fatalf("%s (BALDUR_REQUIRE_REDIS=1)", msg)
	}
	t.Skipf("%s; skipping (set BALDUR_REQUIRE_REDIS=1 to make this a failure)", msg)
}

// RequireBinary returns the path of a Redis binary such as redis-server.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, "%s is not on PATH", name)
	}
	return path
}

// Client returns a raw go-redis client for addr, closed with the test.
func Client(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Shared returns the URL of the shared Redis after checking that it answers.
func Shared(t testing.TB) string {
	t.Helper()
	RequireBinary(t, "redis-server")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Client(t, SharedAddr).Ping(ctx).Err(); err != nil {
		unavailable(t, "no Redis answers on %s: %v", SharedAddr, err)
	}
	return "redis://" + SharedAddr
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Prefix returns a key prefix unique to the test, and deletes every key
// under it (on all masters of a cluster) when the test ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "baldurtest:" + unsafeChars.ReplaceAllString(t.Name(), "_") + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() { deletePrefix(url, prefix) })
	return prefix
}

func deletePrefix(url, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs := []string{strings.TrimPrefix(url, "redis://")}
	cluster := strings.HasPrefix(url, "redis+cluster://")
	if cluster {
		addrs = strings.Split(strings.TrimPrefix(url, "redis+cluster://"), ",")
	}
	var c redis.UniversalClient
	if cluster {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		c = redis.NewClient(&redis.Options{Addr: addrs[0], MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	}
	defer c.Close()
	del := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		return iter.Err()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		_ = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
		return
	}
	_ = del(ctx, c)
}

// FreePort returns a loopback port nobody listens on; with bus, port+10000
// (the cluster bus) is free too.
func FreePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !bus {
			return port
		}
		if port+10000 > 65535 {
			continue
		}
		if lb, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
			_ = lb.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// Server is a private redis-server the test owns and may kill.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	Port int
	args []string
	// argv, when set, replaces the default command line (sentinels).
	argv func() []string
	cmd  *exec.Cmd
}

// Addr returns host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL returns the redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Start starts a private redis-server on a free loopback port with no
// persistence, and kills it when the test ends.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: RequireBinary(t, "redis-server"), dir: t.TempDir(), Port: FreePort(t, false), args: extra}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir}, s.args...)
	if s.argv != nil {
		args = s.argv()
	}
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Dir = s.dir
	logf, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", time.Now().UnixNano())))
	if err != nil {
		s.t.Fatalf("redis log: %v", err)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	_ = logf.Close()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 10s", s.Addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill SIGKILLs the server (no clean shutdown) and waits for it to die.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies only once resumed
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause freezes the server with SIGSTOP: connections stay open and
// commands hang, the failure timeouts exist for.
func (s *Server) Pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// StartSentinel starts a redis-server in sentinel mode on a free loopback
// port, monitoring master under the name "mymaster".
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	s := &Server{t: t, bin: RequireBinary(t, "redis-server"), dir: t.TempDir(), Port: FreePort(t, false)}
	conf := filepath.Join(s.dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds mymaster 5000\n", s.Port, s.dir, master.Port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatalf("sentinel config: %v", err)
	}
	s.argv = func() []string { return []string{conf, "--sentinel"} }
	s.start()
	t.Cleanup(s.Kill)
	c := Client(t, s.Addr())
	deadline := time.Now().Add(10 * time.Second)
	for {
		addr, err := c.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", "mymaster").StringSlice()
		if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(master.Port) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel does not know mymaster within 10s: %v %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cluster is three private redis-servers joined into a Redis Cluster.
type Cluster struct {
	Nodes []*Server
}

// URL returns the redis+cluster:// URL of the cluster.
func (c *Cluster) URL() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return "redis+cluster://" + strings.Join(addrs, ",")
}

// StartCluster starts three cluster-enabled redis-servers on free loopback
// ports and joins them with redis-cli --cluster create.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli := RequireBinary(t, "redis-cli")
	c := &Cluster{}
	for range 3 {
		port := FreePort(t, true)
		n := &Server{t: t, bin: RequireBinary(t, "redis-server"), dir: t.TempDir(), Port: port}
		n.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(n.dir, "nodes.conf"),
			"--cluster-node-timeout", "2000"}
		n.start()
		t.Cleanup(n.Kill)
		c.Nodes = append(c.Nodes, n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.Nodes {
		rc := Client(t, n.Addr())
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ok within 20s: %v %s", n.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Reshard moves n slots from the first node to the second with redis-cli
// --cluster reshard, keys included, while the cluster keeps serving.
func (c *Cluster) Reshard(t testing.TB, n int) {
	t.Helper()
	cli := RequireBinary(t, "redis-cli")
	ids := make([]string, 2)
	for i := range ids {
		id, err := Client(t, c.Nodes[i].Addr()).Do(context.Background(), "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatalf("cluster myid: %v", err)
		}
		ids[i] = id
	}
	out, err := exec.Command(cli, "--cluster", "reshard", c.Nodes[0].Addr(), "--cluster-from", ids[0],
		"--cluster-to", ids[1], "--cluster-slots", strconv.Itoa(n), "--cluster-yes").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster reshard: %v\n%s", err, out)
	}
}

// SharedStore opens the shared Redis as a store under a prefix unique to the
// test (opts.Prefix is replaced), deletes every key under it when the test
// ends, and returns the store and the prefix.
func SharedStore(t testing.TB, opts store.RedisOptions) (*store.Redis, string) {
	t.Helper()
	url := Shared(t)
	opts.Prefix = Prefix(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := store.OpenRedis(ctx, url, opts)
	if err != nil {
		unavailable(t, "no Redis store at %s: %v", url, err)
	}
	t.Cleanup(func() { _ = st.Close() }) // runs before Prefix's clean-up
	return st, opts.Prefix
}
