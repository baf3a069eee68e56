package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	crashChildEnv = "BALDUR_STORE_CRASH_CHILD"
	crashRoundEnv = "BALDUR_STORE_CRASH_ROUND"
	permChildEnv  = "BALDUR_STORE_PERM_CHILD"

	crashStream  = "crash"
	crashWriters = 8
	crashPerRun  = 400 // appends per writer per child, to bound the state
)

// crashChild appends to the embedded store in dir from several goroutines
// until it is killed, printing one line per acknowledged operation:
//
//	ack <v>      Append of v returned nil
//	key <v>      Atomic that set key "k:<v>" together with its append returned nil
//	rm? <v>      Remove of v is about to start
//	rm <v>       Remove of v returned nil
//
// Lines go straight to a file with one write each, so a line on disk means
// the operation was acknowledged before the kill.
func crashChild(dir string) int {
	round := os.Getenv(crashRoundEnv)
	s, err := OpenEmbedded(dir, EmbeddedOptions{SegmentSize: 32 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			var ids []ID
			var vals []string
			for i := range crashPerRun {
				v := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				if i%5 == 0 {
					res, err := s.Atomic(ctx, Txn{Ops: []Op{AppendOp(crashStream, []byte(v)), SetOp("k:"+v, []byte(v), 0)}})
					if err != nil {
						fmt.Fprintln(os.Stderr, "atomic:", err)
						os.Exit(3)
					}
					ids, vals = append(ids, res.Results[0].ID), append(vals, v)
					say("ack %s", v)
					say("key %s", v)
					continue
				}
				id, err := s.Append(ctx, crashStream, []byte(v))
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(3)
				}
				ids, vals = append(ids, id), append(vals, v)
				say("ack %s", v)
				if i%7 == 3 && len(ids) > 4 { // remove an older entry of ours
					say("rm? %s", vals[0])
					if _, err := s.Remove(ctx, crashStream, ids[0]); err != nil {
						fmt.Fprintln(os.Stderr, "remove:", err)
						os.Exit(3)
					}
					say("rm %s", vals[0])
					ids, vals = ids[1:], vals[1:]
				}
			}
		})
	}
	wg.Wait()
	say("done")
	select {} // wait to be killed like the others
}

// TestEmbedded_SIGKILLChildProcess_KeepsAcknowledgedWrites runs a child
// process appending to the embedded store and SIGKILLs it at 50 random
// moments (during open and replay as well as mid-write and mid-compaction).
// After each kill the store is reopened here and every write the child
// acknowledged must be there, every acknowledged removal must be gone.
func TestEmbedded_SIGKILLChildProcess_KeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50 child processes")
	}
	dir := t.TempDir()
	outDir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	acked := map[string]bool{}    // appended and acknowledged
	keyed := map[string]bool{}    // "k:<v>" set and acknowledged
	removing := map[string]bool{} // removal started, maybe not finished
	removed := map[string]bool{}  // removal acknowledged
	roundsWithAcks, killedMidRun := 0, 0
	for round := range 50 {
		outPath := filepath.Join(outDir, fmt.Sprintf("round-%d.out", round))
		out, err := os.Create(outPath)
		require.NoError(t, err)
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		cmd.Stdout, cmd.Stderr = out, &stderr
		require.NoError(t, cmd.Start())
		if round%3 == 0 {
			// Every third child is first seen acknowledging a write, so that a
			// slow (loaded) machine still kills children mid-work; the others
			// may die anywhere, during open and replay too.
			waitForOutput(t, outPath, cmd)
		}
		// The random moment of the kill: not a synchronisation, the point of the test.
		time.Sleep(time.Duration(2+rng.IntN(120)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err = cmd.Wait()
		require.NoError(t, out.Close())
		status, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		require.True(t, status.Signaled(), "child ended on its own (%v): %s", err, stderr.String())

		lines := readLines(t, outPath)
		done := false
		for _, line := range lines {
			op, v, _ := strings.Cut(line, " ")
			switch op {
			case "ack":
				acked[v] = true
			case "key":
				keyed[v] = true
			case "rm?":
				removing[v] = true
			case "rm":
				removed[v] = true
			case "done":
				done = true
			}
		}
		if len(lines) > 0 {
			roundsWithAcks++
		}
		if !done {
			killedMidRun++
		}
		verifyCrashState(t, dir, round, acked, keyed, removing, removed)
	}
	t.Logf("acknowledged appends: %d, removals: %d, rounds with acks: %d, killed mid-run: %d",
		len(acked), len(removed), roundsWithAcks, killedMidRun)
	require.GreaterOrEqual(t, roundsWithAcks, 10, "the children must get work done before the kill")
	require.GreaterOrEqual(t, killedMidRun, 10, "most kills must land while writes are in flight")
}

// waitForOutput waits until the child has written its first line, or fails
// (killing the child) after a deadline.
func waitForOutput(t *testing.T, path string, cmd *exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the child wrote nothing to %s within 30s", path)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func verifyCrashState(t *testing.T, dir string, round int, acked, keyed, removing, removed map[string]bool) {
	t.Helper()
	s, err := OpenEmbedded(dir, EmbeddedOptions{SegmentSize: 32 << 10})
	require.NoError(t, err, "round %d: reopen", round)
	defer func() { require.NoError(t, s.Close()) }()
	ctx := context.Background()
	entries, err := s.Range(ctx, crashStream, ID{}, 0)
	require.NoError(t, err)
	present := make(map[string]bool, len(entries))
	for i, e := range entries {
		if i > 0 {
			require.True(t, entries[i-1].ID.Less(e.ID), "round %d: entries out of order", round)
		}
		require.False(t, present[string(e.Value)], "round %d: %s twice", round, e.Value)
		present[string(e.Value)] = true
	}
	for v := range acked {
		switch {
		case removed[v]:
			assert.False(t, present[v], "round %d: acknowledged removal of %s undone", round, v)
		case !removing[v]:
			assert.True(t, present[v], "round %d: acknowledged append %s lost", round, v)
		}
	}
	for v := range keyed {
		got, err := s.Get(ctx, "k:"+v)
		if assert.NoError(t, err, "round %d: acknowledged key k:%s lost", round, v) {
			assert.Equal(t, v, string(got))
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if len(data) > 0 && data[len(data)-1] != '\n' && len(lines) > 0 {
		lines = lines[:len(lines)-1] // a line cut by the kill proves nothing
	}
	return lines
}
