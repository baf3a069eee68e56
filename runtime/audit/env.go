package audit

import (
	"strings"

	"github.com/baldur-go/baldur/internal/env"
)

// Environment variables the trail reads (README, environment table).
const (
	EnvEnabled = "BALDUR_AUDIT_ENABLED"
	EnvSQLDSN  = "BALDUR_SQL_DSN"
)

// Settings are the trail's part of the environment.
type Settings struct {
	// Enabled is true unless BALDUR_AUDIT_ENABLED says off: the trail is on
	// by default.
	Enabled bool
	// DSN is BALDUR_SQL_DSN: where records go after the store; empty keeps
	// them in the store only. Never print it: see internal/redact.DSN.
	DSN string
}

// ReadEnv reads the trail's variables through r, which collects a bad
// value's error (a malformed DSN is named with its password hidden).
func ReadEnv(r *env.Reader) Settings {
	s := Settings{Enabled: true}
	r.Bool(EnvEnabled, &s.Enabled)
	if v, ok := r.Lookup(EnvSQLDSN); ok && strings.TrimSpace(v) != "" {
		s.DSN = v
		if s.Enabled {
			r.Add(CheckDSN(v, EnvSQLDSN))
		}
	}
	return s
}

// CheckDSN reports whether dsn is a DSN pgx can use; the error names
// variable and shows dsn with its password hidden.
func CheckDSN(dsn, variable string) error {
	s, err := OpenSQL(dsn, variable)
	if err != nil {
		return err
	}
	s.Close()
	return nil
}
