package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime"
)

// DefaultAddr is where the admin server listens unless told otherwise:
// loopback only, so that nothing beyond the host reaches it by accident.
const DefaultAddr = "127.0.0.1:9090"

// ServerOptions configure a Server. Zero fields take the defaults beside them.
type ServerOptions struct {
	// Addr to listen on. Default DefaultAddr (BALDUR_ADMIN_ADDR). An address
	// beyond loopback needs at least one admin key.
	Addr string
	// DrainDelay is how long Drain keeps serving with readiness at 503 before it
	// stops accepting connections, so that load balancers notice. Default 5s;
	// negative: none (BALDUR_ADMIN_DRAIN_DELAY, where 0 means none).
	DrainDelay time.Duration
	// DrainTimeout bounds the whole drain: delay plus in-flight requests.
	// Default 30s (BALDUR_ADMIN_DRAIN_TIMEOUT).
	DrainTimeout time.Duration
	// TLSCertFile and TLSKeyFile, both or neither, are PEM files of the
	// server's certificate (chain) and private key: with them the server
	// speaks only https (TLS 1.2 or later), so that admin keys do not
	// travel in clear text (BALDUR_ADMIN_TLS_CERT, BALDUR_ADMIN_TLS_KEY).
	TLSCertFile, TLSKeyFile string
}

// ServerOptionsFromEnv reads BALDUR_ADMIN_ADDR, BALDUR_ADMIN_DRAIN_DELAY and
// BALDUR_ADMIN_DRAIN_TIMEOUT (Go durations or seconds), BALDUR_ADMIN_TLS_CERT
// and BALDUR_ADMIN_TLS_KEY (file paths, both or neither). A bad value is an
// error naming the variable and the value.
func ServerOptionsFromEnv() (ServerOptions, error) { return serverOptionsFromLookup(os.LookupEnv) }

func serverOptionsFromLookup(lookup env.Lookup) (ServerOptions, error) {
	var o ServerOptions
	r := env.New(lookup)
	if v, ok := r.Lookup("BALDUR_ADMIN_ADDR"); ok {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(v)); err != nil {
			r.Bad("BALDUR_ADMIN_ADDR", v, "host:port, e.g. 127.0.0.1:9090")
		}
		o.Addr = strings.TrimSpace(v)
	}
	if r.DurationOrZero("BALDUR_ADMIN_DRAIN_DELAY", &o.DrainDelay) && o.DrainDelay == 0 {
		o.DrainDelay = -1 // "0" in the environment means no delay, not the default
	}
	r.Duration("BALDUR_ADMIN_DRAIN_TIMEOUT", &o.DrainTimeout)
	r.String("BALDUR_ADMIN_TLS_CERT", nil, &o.TLSCertFile)
	r.String("BALDUR_ADMIN_TLS_KEY", nil, &o.TLSKeyFile)
	if err := checkTLSFiles(o.TLSCertFile, o.TLSKeyFile, "BALDUR_ADMIN_TLS_CERT", "BALDUR_ADMIN_TLS_KEY"); err != nil {
		r.Add(err)
	}
	if err := r.Err(); err != nil {
		return ServerOptions{}, fmt.Errorf("admin: bad environment: %w", err)
	}
	return o, nil
}

// checkTLSFiles wants both files or neither, each named by its setting.
func checkTLSFiles(cert, key, certName, keyName string) error {
	switch {
	case strings.TrimSpace(cert) != "" && strings.TrimSpace(key) == "":
		return fmt.Errorf("%s is set but %s is not: https needs both the certificate and its private key", certName, keyName)
	case strings.TrimSpace(cert) == "" && strings.TrimSpace(key) != "":
		return fmt.Errorf("%s is set but %s is not: https needs both the certificate and its private key", keyName, certName)
	}
	return nil
}

// tlsConfig loads the server's key pair; nil when TLS is not configured.
func (o ServerOptions) tlsConfig() (*tls.Config, error) {
	if err := checkTLSFiles(o.TLSCertFile, o.TLSKeyFile, "TLSCertFile", "TLSKeyFile"); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if o.TLSCertFile == "" {
		return nil, nil
	}
	// The error names the files, never their content.
	pair, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("admin: https certificate %q and key %q: %w", o.TLSCertFile, o.TLSKeyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// Server runs a Handler on its own listener and drains it gracefully.
type Server struct {
	h      *Handler
	ln     net.Listener
	srv    *http.Server
	opts   ServerOptions
	log    *slog.Logger
	served chan struct{}
	https  bool

	drainOnce sync.Once
	drainErr  error
}

// Listen opens the listener and builds the Handler for it (the port it got is
// the one the default host and origin gates allow). Call Serve next.
func Listen(opts Options, sopts ServerOptions) (*Server, error) {
	if sopts.Addr == "" {
		sopts.Addr = DefaultAddr
	}
	if sopts.DrainDelay == 0 {
		sopts.DrainDelay = 5 * time.Second
	}
	if sopts.DrainTimeout <= 0 {
		sopts.DrainTimeout = 30 * time.Second
	}
	host, _, err := net.SplitHostPort(sopts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen address %q: want host:port", sopts.Addr)
	}
	if !loopbackHost(host) && len(opts.Security.Keys) == 0 {
		return nil, fmt.Errorf("admin: listen address %q reaches beyond loopback: configure an admin key (BALDUR_ADMIN_KEY or BALDUR_ADMIN_KEYS) first", sopts.Addr)
	}
	tlsConf, err := sopts.tlsConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", sopts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	opts.Port = port
	h, err := New(opts)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{
		h: h, ln: ln, opts: sopts, log: h.log, served: make(chan struct{}), https: tlsConf != nil,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		},
	}
	return s, nil
}

// FromEnv is Listen with SecurityFromEnv and ServerOptionsFromEnv: the server
// runtime.FromEnv users want. Everything else comes from the runtime: its
// kill switch and dry-run (rt.Control()) and its dead-letter queue (rt.DLQ()).
// gatherer may be nil.
func FromEnv(rt *runtime.Runtime, gatherer prometheus.Gatherer, logger *slog.Logger) (*Server, error) {
	sec, err := SecurityFromEnv()
	if err != nil {
		return nil, err
	}
	sopts, err := ServerOptionsFromEnv()
	if err != nil {
		return nil, err
	}
	return Listen(Options{Runtime: rt, Gatherer: gatherer, Security: sec, Logger: logger}, sopts)
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Handler is the server's handler.
func (s *Server) Handler() *Handler { return s.h }

// Addr is the address the server listens on (with the real port when :0 was asked).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the console's address, e.g. http://127.0.0.1:9090/ (https:// with TLS).
func (s *Server) URL() string {
	if s.https {
		return "https://" + s.Addr() + "/"
	}
	return "http://" + s.Addr() + "/"
}

// Serve answers requests until Shutdown, Drain or Close; it returns nil after
// a graceful stop.
func (s *Server) Serve() error {
	defer close(s.served)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "admin.server_started",
		slog.String("addr", s.Addr()), slog.String("console", s.URL()),
		slog.Bool("unlocked", s.h.gates.unlocked), slog.Int("keys", len(s.h.gates.keys)), slog.Bool("https", s.https))
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Drain stops the server gracefully: readiness answers 503 with Retry-After
// (liveness and ping stay 200) for DrainDelay, then the listener closes and
// in-flight requests finish, all within DrainTimeout (or ctx, if sooner).
// Past the bound, remaining connections are closed and the error says so.
// Calling it again returns the first call's result.
func (s *Server) Drain(ctx context.Context) error {
	s.drainOnce.Do(func() { s.drainErr = s.drain(ctx) })
	return s.drainErr
}

func (s *Server) drain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.DrainTimeout)
	defer cancel()
	s.h.SetDraining(true)
	s.log.LogAttrs(ctx, slog.LevelInfo, "admin.drain_started",
		slog.Duration("delay", s.opts.DrainDelay), slog.Duration("timeout", s.opts.DrainTimeout))
	if s.opts.DrainDelay > 0 {
		t := time.NewTimer(s.opts.DrainDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		err = fmt.Errorf("admin: drain: in-flight requests cut off: %w", err)
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "admin.drain_finished", slog.Bool("clean", err == nil))
	return err
}

// Shutdown stops accepting connections at once and waits for in-flight
// requests (http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close stops the server at once, cutting in-flight requests.
func (s *Server) Close() error { return s.srv.Close() }

// ServeUntilSignal serves until ctx is done or one of sigs arrives (default:
// SIGTERM and Interrupt), then drains. A second signal during the drain stops
// the server at once. It returns Serve's error or the drain's.
func ServeUntilSignal(ctx context.Context, s *Server, sigs ...os.Signal) error {
	if len(sigs) == 0 {
		sigs = defaultSignals
	}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, sigs...)
	defer signal.Stop(ch)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve() }()
	select {
	case err := <-serveErr:
		return err
	case sig := <-ch:
		s.log.LogAttrs(ctx, slog.LevelInfo, "admin.signal_received", slog.String("signal", sig.String()),
			slog.String("note", "draining; send the signal again to stop at once"))
	case <-ctx.Done():
	}
	drained := make(chan error, 1)
	go func() { drained <- s.Drain(context.WithoutCancel(ctx)) }()
	var err error
	select {
	case err = <-drained:
	case <-ch:
		_ = s.Close()
		err = errors.Join(errors.New("admin: stopped at once by a second signal"), <-drained)
	}
	return errors.Join(err, <-serveErr)
}
