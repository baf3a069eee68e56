// Package pgtest gives tests real PostgreSQL servers: a fresh database on the
// shared server (127.0.0.1:5432, user postgres, trust), and private servers
// (initdb + pg_ctl on a free loopback port in a temporary directory) that a
// test may stop and start.
//
// Without a server or the binaries the tests skip with a message, unless
// BALDUR_REQUIRE_POSTGRES=1 (set by CI), which turns the skip into a failure.
package pgtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SharedAddr is the PostgreSQL every test may use but never stop:
// 127.0.0.1:5432, or BALDUR_TEST_POSTGRES_ADDR when set.
var SharedAddr = cmp.Or(os.Getenv("BALDUR_TEST_POSTGRES_ADDR"), "127.0.0.1:5432")

// unavailable skips the test, or fails it when CI requires PostgreSQL.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("BALDUR_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("%s (BALDUR_REQUIRE_POSTGRES=1)", msg)
	}
	t.Skipf("%s; skipping (set BALDUR_REQUIRE_POSTGRES=1 to make this a failure)", msg)
}

// Database creates a database of its own on the server at addr (user
// postgres, trust), drops it when the test ends, and returns its DSN.
func Database(t testing.TB, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := "postgres://postgres@" + addr + "/postgres?sslmode=disable&connect_timeout=3"
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, "no PostgreSQL answers on %s: %v", addr, err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "baldur_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s on %s: %v", name, addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = c.Close(ctx)
		}
	})
	return "postgres://postgres@" + addr + "/" + name + "?sslmode=disable"
}

// Shared returns the DSN of a fresh database on the shared server.
func Shared(t testing.TB) string {
	t.Helper()
	return Database(t, SharedAddr)
}

// Conn opens a plain connection to dsn for the test to poke at, closed
// when the test ends.
func Conn(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Server is a private PostgreSQL the test owns and may stop.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	Port int
}

// Addr returns host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// binDir finds the directory holding initdb and pg_ctl: PATH, else
// Debian's /usr/lib/postgresql/<version>/bin.
func binDir(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		unavailable(t, "initdb and pg_ctl are not on PATH nor in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(matches[len(matches)-1])
}

// Start initialises a cluster in a temporary directory and starts it on a
// free loopback port (no fsync: a test server); the test's end stops it
// and removes the directory. PostgreSQL refuses to run as root, so as root
// the server runs as the user postgres (through runuser).
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: binDir(t)}
	dir, err := os.MkdirTemp("", "baldur-pg-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	s.dir = dir
	t.Cleanup(func() {
		s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "running as root and there is no user postgres to run a server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("chown %s: %v", dir, err)
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s.Port = freePort(t)
	s.StartAgain()
	return s
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, tool)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// StartAgain starts the stopped server on its port and waits until it answers.
func (s *Server) StartAgain() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", s.Port, s.dir)
	if out, err := s.run("pg_ctl", "-D", s.data(), "-o", opts, "-l", filepath.Join(s.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server (fast shutdown: connections are cut).
func (s *Server) Stop() {
	s.t.Helper()
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		s.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
