package main

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConsumersReceiveTheProtectedMailer(t *testing.T) {
	t.Setenv("BALDUR_STATE_DIR", t.TempDir())
	t.Setenv("BALDUR_CB_FAILURE_THRESHOLD", "2")
	var (
		signup *Signup
		smtp   *SMTPMailer
		mailer Mailer
		rt     *runtime.Runtime
	)
	app := fxtest.New(t,
		Module,
		fx.Provide(NewRuntime),
		fx.Supply(slog.New(slog.DiscardHandler)),
		fx.Populate(&signup, &smtp, &mailer, &rt),
	)
	app.RequireStart()
	defer app.RequireStop()

	assert.IsType(t, &ProtectedMailer{}, mailer, "a consumer outside the module gets the wrapper")
	assert.IsType(t, &ProtectedMailer{}, signup.mail)
	require.NoError(t, signup.Register(t.Context(), "ada@example.com"))
	b, ok := rt.Breaker("mailer")
	require.True(t, ok, "the call went through the wrapper")

	smtp.SetDown(true)
	err := signup.Register(t.Context(), "bob@example.com")
	require.ErrorIs(t, err, errRelayDown)
	assert.Equal(t, int64(3), smtp.attempts.Load(), "one call, then two attempts (retry=2)")
	assert.Equal(t, breaker.Open, b.State(), "BALDUR_CB_FAILURE_THRESHOLD=2 reached")

	err = signup.Register(t.Context(), "eve@example.com")
	require.ErrorIs(t, err, runtime.ErrOpen)
	assert.Equal(t, int64(3), smtp.attempts.Load(), "rejected without reaching the relay")
}

func TestBadEnvironmentFailsTheApp(t *testing.T) {
	t.Setenv("BALDUR_CB_FAILURE_THRESHOLD", "many")
	app := fx.New(
		Module,
		fx.Provide(NewRuntime),
		fx.Supply(slog.New(slog.DiscardHandler)),
		fx.Invoke(func(*Signup) {}),
		fx.NopLogger,
	)
	require.Error(t, app.Err())
	assert.ErrorContains(t, app.Err(), `BALDUR_CB_FAILURE_THRESHOLD="many"`)
}
