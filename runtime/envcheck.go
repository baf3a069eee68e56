package runtime

import (
	"context"
	"log/slog"
	"os"

	"github.com/baldur-go/baldur/internal/env"
)

// logUnknownEnv warns, once per variable at start, about each BALDUR_*
// variable of the environment that baldur does not read (a typo that would
// otherwise be silently ignored), naming the nearest variable it does read.
// The list of known names is env.Vars, the one the README's table is
// checked against. Values are never logged: they may be secrets.
func (rt *Runtime) logUnknownEnv(ctx context.Context) {
	environ := rt.cfg.environ
	if environ == nil {
		environ = os.Environ
	}
	for _, s := range env.Unknown(environ()) {
		attrs := []slog.Attr{slog.String("variable", s.Name)}
		if s.Nearest != "" {
			attrs = append(attrs, slog.String("did_you_mean", s.Nearest))
		}
		rt.log.LogAttrs(ctx, slog.LevelWarn, "runtime.variable_unknown", attrs...)
	}
}
