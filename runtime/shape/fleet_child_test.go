package shape

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/store"
)

const (
	fleetChildEnv = "BALDUR_SHAPE_FLEET_CHILD" // the Redis URL
	fleetKeyEnv   = "BALDUR_SHAPE_FLEET_KEY"
	fleetStartEnv = "BALDUR_SHAPE_FLEET_START" // Unix ns: every child starts calling then
	fleetRunEnv   = "BALDUR_SHAPE_FLEET_RUN"   // how long they call

	fleetRate     = 200 // per second
	fleetBurst    = 20
	fleetBatch    = 20
	fleetCallers  = 4
	fleetChildren = 3
)

// fleetChild is one process of the fleet test: from the agreed start, four
// goroutines call a fleet-wide 200/s limiter (waiting up to 50ms for a
// token) for the agreed time, then the limiter gives back what it did not
// spend. It prints "admitted <n> leases <n> returned <n> errors <n>".
func fleetChild() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 2 }
	start, run, st, err := childFleet(fleetChildEnv)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	l, err := NewLimiter(LimiterSettings{Rate: Rate{fleetRate, time.Second}, Burst: fleetBurst, Wait: 50 * time.Millisecond,
		Fleet: &FleetSettings{Store: st, Key: os.Getenv(fleetKeyEnv), Batch: fleetBatch}})
	if err != nil {
		return fail(err)
	}
	time.Sleep(time.Until(start))
	end := start.Add(run)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range fleetCallers {
		wg.Go(func() {
			for {
				err := l.Take(context.Background())
				if time.Now().After(end) {
					return // a token granted after the end is not counted
				}
				if err == nil {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		return fail(err)
	}
	s := l.Stats()
	fmt.Printf("admitted %d leases %d returned %d errors %d\n", admitted.Load(), s.Leases, s.Returned, s.LeaseErrors)
	return 0
}

// TestFleetRateAcrossThreeProcessesOnAPrivateRedis starts three processes
// sharing one 200/s limit on a private redis-server and checks that together
// they admit no more than the limit plus one batch per process, and not
// much less than the limit.
func TestFleetRateAcrossThreeProcessesOnAPrivateRedis(t *testing.T) {
	srv := redistest.Start(t)
	run := 3 * time.Second
	start := time.Now().Add(2 * time.Second) // time for the three to start and connect
	var total, leases int64
	lines := runFleetChildren(t, fleetChildren, "fleet child", start, run, fleetChildEnv+"="+srv.URL(), fleetKeyEnv+"=rate:{fleet-test}")
	for i, line := range lines {
		f := strings.Fields(line)
		require.Len(t, f, 8, "child said %q", line)
		n, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		l, _ := strconv.ParseInt(f[3], 10, 64)
		assert.Equal(t, "0", f[7], "no lease failed: %s", line)
		t.Logf("process %d: %s", i, line)
		total += n
		leases += l
	}
	limit := int64(fleetBurst + fleetRate*run.Seconds())
	bound := limit + fleetChildren*(fleetBatch-1)
	t.Logf("fleet admitted %d in %s at %d/s burst %d: limit %d, bound with one batch per process %d, %d leases",
		total, run, fleetRate, fleetBurst, limit, bound, leases)
	assert.LessOrEqual(t, total, bound)
	assert.GreaterOrEqual(t, total, limit*7/10, "the fleet should get most of its limit")
	assert.Less(t, leases, total/fleetBatch*2+fleetChildren*2, "tokens move in batches, not a call at a time")
}

// childFleet reads what a child process of the fleet tests is given: when
// every child starts and for how long it runs, and the private Redis (its
// URL in urlEnv), opened.
func childFleet(urlEnv string) (start time.Time, run time.Duration, st *store.Redis, err error) {
	ns, err := strconv.ParseInt(os.Getenv(fleetStartEnv), 10, 64)
	if err != nil {
		return start, run, nil, err
	}
	if run, err = time.ParseDuration(os.Getenv(fleetRunEnv)); err != nil {
		return start, run, nil, err
	}
	st, err = store.OpenRedis(context.Background(), os.Getenv(urlEnv), store.RedisOptions{})
	return time.Unix(0, ns), run, st, err
}

// runFleetChildren starts n child processes of this test binary with env,
// all starting at start and running for run, and returns the last line each
// printed ("failed: ..." for one that failed), in the order they ended.
func runFleetChildren(t *testing.T, n int, what string, start time.Time, run time.Duration, env ...string) []string {
	t.Helper()
	results := make(chan string, n)
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(append(os.Environ(), env...),
			fleetStartEnv+"="+strconv.FormatInt(start.UnixNano(), 10), fleetRunEnv+"="+run.String())
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		await.KillAfter(t, cmd, fmt.Sprintf("%s %d", what, i))
		go func() {
			sc := bufio.NewScanner(out)
			line := ""
			for sc.Scan() {
				line = sc.Text()
			}
			if err := cmd.Wait(); err != nil {
				line = "failed: " + err.Error()
			}
			results <- line
		}()
	}
	lines := make([]string, n)
	for i := range lines {
		lines[i] = await.Recv(t, results, fmt.Sprintf("%s %d's figures", what, i))
	}
	return lines
}
