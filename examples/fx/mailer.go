// Command fx shows a baldur-protected dependency in a go.uber.org/fx app: the
// raw implementation is provided as usual, and fx.Decorate applies the
// generated ProtectMailer, so every consumer of Mailer receives the wrapper.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"sync/atomic"

	"go.uber.org/fx"

	"github.com/baldur-go/baldur/runtime"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Mailer sends transactional email.
//
//baldur:protect name=mailer retry=2 backoff=const(10ms) timeout=5s
type Mailer interface {
	Send(ctx context.Context, to, body string) error
}

// SMTPMailer is the raw Mailer; it can be taken down to simulate an outage.
type SMTPMailer struct {
	down     atomic.Bool
	attempts atomic.Int64
}

// NewSMTPMailer connects to the mail relay.
func NewSMTPMailer() *SMTPMailer { return &SMTPMailer{} }

var errRelayDown = errors.New("mail relay unreachable")

// Send implements Mailer.
func (m *SMTPMailer) Send(context.Context, string, string) error {
	m.attempts.Add(1)
	if m.down.Load() {
		return errRelayDown
	}
	return nil
}

// SetDown simulates an outage.
func (m *SMTPMailer) SetDown(down bool) { m.down.Store(down) }

// Signup is a consumer: it asks fx for a Mailer and gets the protected one.
type Signup struct{ mail Mailer }

// NewSignup builds the signup flow.
func NewSignup(m Mailer) *Signup { return &Signup{mail: m} }

// Register welcomes a new user.
func (s *Signup) Register(ctx context.Context, email string) error {
	if err := s.mail.Send(ctx, email, "Welcome!"); err != nil {
		return fmt.Errorf("register %s: %w", email, err)
	}
	return nil
}

// NewRuntime builds the baldur runtime from the BALDUR_* environment, logging
// to the app's logger, and closes it when the app stops.
func NewRuntime(lc fx.Lifecycle, logger *slog.Logger) (*runtime.Runtime, error) {
	cfg, err := runtime.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	// Not the start context: the runtime lives as long as the app.
	rt, err := runtime.New(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(rt.Close))
	return rt, nil
}

// Module provides the mailer and its consumer. The raw SMTPMailer is provided
// both as itself and as Mailer; fx.Decorate then replaces the Mailer with the
// generated ProtectMailer(inner, rt) before anyone receives it. It is
// fx.Options, not fx.Module, on purpose: a decorator in an fx.Module only
// reaches that module's scope, and every consumer in the app must get the
// protected Mailer.
var Module = fx.Options(
	fx.Provide(
		fx.Annotate(NewSMTPMailer, fx.As(fx.Self()), fx.As(new(Mailer))),
		NewSignup,
	),
	fx.Decorate(ProtectMailer),
)

func main() {
	ctx := context.Background()
	app := fx.New(
		Module,
		fx.Provide(NewRuntime),
		fx.Supply(slog.Default()),
		fx.Invoke(func(s *Signup) error { return s.Register(ctx, "ada@example.com") }),
	)
	if err := app.Start(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("welcome mail sent through the protected Mailer")
	if err := app.Stop(ctx); err != nil {
		log.Fatal(err)
	}
}
