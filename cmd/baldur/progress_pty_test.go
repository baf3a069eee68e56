//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

// TestBatchProgressOnAPseudoTerminal runs the CLI with its stdout on a real
// pseudo-terminal against a live admin server: the replay and the purge
// draw their bar, from 0 to every entry, with a rate, before the answer.
func TestBatchProgressOnAPseudoTerminal(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	mem := store.NewMemory()
	defer mem.Close()
	q, err := dlq.New(mem, dlq.Options{Logger: quiet, ReplayRate: -1})
	require.NoError(t, err)
	defer q.Close()
	q.Register("payments", "Charge", "sig1", func(context.Context, []byte) error { return nil })
	park := func(orders ...string) {
		for _, order := range orders {
			_, err := q.Park(ctx, dlq.Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
				Args: []byte(`{"order":"` + order + `"}`), Err: errors.New("down"), Attempts: 3})
			require.NoError(t, err)
		}
	}
	park("o-1", "o-2", "o-3", "o-4", "o-5")
	srv, err := admin.Listen(admin.Options{Runtime: rt, Control: rt.Control(), Queue: q, Logger: quiet,
		Security: admin.Security{Unlocked: true, Keys: []admin.Key{{Role: admin.RoleAdmin, Secret: adminKey}}}},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	defer func() {
		srv.Close()
		await.Recv(t, served, "the admin server to stop")
	}()
	env := map[string]string{"BALDUR_ADMIN_ADDR": srv.Addr(), "BALDUR_ADMIN_KEY": adminKey, "BALDUR_OPERATOR": "tty"}

	onTTY := func(args ...string) (string, int) {
		ptmx, tty, err := pty.Open()
		require.NoError(t, err)
		defer ptmx.Close()
		read := make(chan []byte, 1)
		go func() {
			var b bytes.Buffer
			_, _ = io.Copy(&b, ptmx) // ends with EIO once the terminal side is closed
			read <- b.Bytes()
		}()
		var stderr bytes.Buffer
		code := run(args, tty, &stderr, func(k string) string { return env[k] })
		require.NoError(t, tty.Close())
		out := string(await.Recv(t, read, "the pseudo-terminal's output"))
		return out + stderr.String(), code
	}

	out, code := onTTY("dlq", "replay", "--domain", "payments", "--limit", "3")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "replaying [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 0/3", "the bar starts at 0 of the batch")
	assert.Regexp(t, `replaying \[█{30}\] 3/3  [0-9.]+/s  done in`, out, "and ends with every entry and the rate")
	assert.Less(t, strings.Index(out, "3/3"), strings.Index(out, "replayed 3 entries"), "the bar comes before the answer")

	out, code = onTTY("dlq", "purge", "--domain", "payments", "--confirm")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "purging [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 0/2")
	assert.Regexp(t, `purging \[█{30}\] 2/2 `, out)
	assert.Contains(t, out, "purged 2 entries by tty (admin)")

	// --operation: the bar counts the operation's entries (the stats'
	// operation counters), not the domain's.
	park("o-8", "o-9")
	for _, order := range []string{"r-1", "r-2", "r-3"} {
		_, err := q.Park(ctx, dlq.Capture{Domain: "payments", Method: "Refund", Signature: "sig1",
			Args: []byte(`{"order":"` + order + `"}`), Err: errors.New("down"), Attempts: 3})
		require.NoError(t, err)
	}
	q.Register("payments", "Refund", "sig1", func(context.Context, []byte) error { return nil })
	out, code = onTTY("dlq", "replay", "--domain", "payments", "--operation", "Refund")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "replaying [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 0/3", "3 Refund entries, not the domain's 5")
	assert.Regexp(t, `replaying \[█{30}\] 3/3 `, out)
	out, code = onTTY("dlq", "purge", "--domain", "payments", "--operation", "Charge", "--confirm")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "purging [░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 0/2", "the 2 Charge entries left")

	park("o-6", "o-7")
	out, code = onTTY("--json", "dlq", "purge", "--domain", "payments", "--confirm")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, `"purged": 2`)
	assert.NotContains(t, out, "░", "--json draws no bar, even on a terminal")
}

// TestTopRedrawsOnAPseudoTerminal runs baldur top with its stdout on a
// pseudo-terminal: it clears the screen and redraws every --interval until
// interrupted, then exits 0.
func TestTopRedrawsOnAPseudoTerminal(t *testing.T) {
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	srv, err := admin.Listen(admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet,
		Security: admin.Security{Keys: []admin.Key{{Role: admin.RoleViewer, Secret: viewerKey}}}},
		admin.ServerOptions{Addr: "127.0.0.1:0", DrainDelay: -1})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	defer func() {
		srv.Close()
		await.Recv(t, served, "the admin server to stop")
	}()
	env := map[string]string{"BALDUR_ADMIN_ADDR": srv.Addr(), "BALDUR_ADMIN_KEY": viewerKey}

	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	frames := make(chan string, 64)
	go func() {
		defer close(frames)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				frames <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	exited := make(chan int, 1)
	go func() {
		exited <- run([]string{"top", "--interval", "100ms"}, tty, io.Discard, func(k string) string { return env[k] })
	}()
	var seen strings.Builder
	for strings.Count(seen.String(), "\x1b[2J") < 2 {
		seen.WriteString(await.Recv(t, frames, "a frame of baldur top"))
	}
	assert.Contains(t, seen.String(), "payments", "each frame lists the services")
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT), "ctrl-c")
	assert.Equal(t, exitOK, await.Recv(t, exited, "baldur top to stop on ctrl-c"))
	require.NoError(t, tty.Close())
	drained := make(chan struct{})
	go func() {
		for range frames { // ends with EIO once the terminal side is closed
		}
		close(drained)
	}()
	await.Signal(t, drained, "the pseudo-terminal reader to end")
}
