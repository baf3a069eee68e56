// Package await bounds a test's waits on concurrent work: a receive, a
// WaitGroup, a function running elsewhere. When the deadline passes the test
// fails with a message naming what it waited for, instead of hanging until
// go test's own timeout kills the whole binary. Use it from the test's own
// goroutine (it calls t.Fatalf).
package await

import (
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Deadline is how long a wait may take: far beyond any healthy wait, even on
// a loaded CI machine under the race detector, and far below go test's
// -timeout.
const Deadline = 30 * time.Second

// Recv returns the next value received from ch, or fails the test if none
// comes within Deadline (or ch is closed).
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return recv(t, ch, what, Deadline)
}

func recv[T any](t testing.TB, ch <-chan T, what string, deadline time.Duration) T {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel was closed without a value", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing came within %s", what, deadline)
	}
	var zero T
	return zero
}

// Signal waits for ch to yield a value or be closed, or fails the test
// after Deadline.
func Signal[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	timer := time.NewTimer(Deadline)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("%s: not done within %s", what, Deadline)
	}
}

// Wait waits for wg, or fails the test after Deadline.
func Wait(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	Done(t, wg.Wait, what)
}

// Done runs fn on another goroutine and waits for it to return, or fails the
// test after Deadline (fn is then left running: the test has failed).
func Done(t testing.TB, fn func(), what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	Signal(t, done, what)
}

// Hold blocks until ch is closed (or yields a value), for at most Deadline.
// Fakes and handlers that a test holds on purpose call it on the goroutines
// of the code under test, where failing the test is not possible: if the test
// fails before it releases them, they still return, and nothing waiting on
// them (a Close, a server shutdown) hangs. It reports whether ch was released.
func Hold[T any](ch <-chan T) bool {
	timer := time.NewTimer(Deadline)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// ProcessDeadline bounds a child process, which may run a whole workload
// (a test binary under the race detector on a loaded machine).
const ProcessDeadline = 5 * time.Minute

// KillAfter bounds a started child process: if it is still running
// ProcessDeadline from now, it is killed (so that whatever reads its output or
// waits for it returns) and the test fails naming what. Call it right after
// cmd.Start.
func KillAfter(t testing.TB, cmd *exec.Cmd, what string) {
	t.Helper()
	timer := time.AfterFunc(ProcessDeadline, func() {
		if cmd.Process.Kill() == nil { // it had not exited
			t.Errorf("%s: still running after %s, killed", what, ProcessDeadline)
		}
	})
	t.Cleanup(func() { timer.Stop() })
}
