package runtime

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/runtime/audit"
)

// AuditConfig configures the audit trail (README, Audit trail): who did
// what, why and when, for every operator action, refused attempt and
// automated action, hash-chained in the runtime's store and, with SQLDSN,
// drained to PostgreSQL. The zero value is on, in the store only.
type AuditConfig struct {
	// Disabled turns the trail off (BALDUR_AUDIT_ENABLED=false).
	Disabled bool
	// SQLDSN, when set, is the PostgreSQL the trail drains to, a postgres://
	// URL or a keyword/value string (BALDUR_SQL_DSN). A malformed one fails
	// New, named with its password hidden.
	SQLDSN string

	sqlDSNVar string // the variable SQLDSN came from, for error messages
}

func (c *AuditConfig) dsnSource() string {
	if c.sqlDSNVar != "" {
		return c.sqlDSNVar
	}
	return "Config.Audit.SQLDSN"
}

// auditFromEnv reads BALDUR_AUDIT_ENABLED and BALDUR_SQL_DSN.
func auditFromEnv(r *env.Reader, c *AuditConfig) {
	s := audit.ReadEnv(r)
	c.Disabled, c.SQLDSN = !s.Enabled, s.DSN
	if s.DSN != "" {
		c.sqlDSNVar = audit.EnvSQLDSN
	}
}

// check reports a malformed DSN before anything opens.
func (c *AuditConfig) check() error {
	if c.Disabled || c.SQLDSN == "" {
		return nil
	}
	if err := audit.CheckDSN(c.SQLDSN, c.dsnSource()); err != nil {
		return fmt.Errorf("baldur: config: %w", err)
	}
	return nil
}

// tapAudit puts the trail's watcher in front of the runtime's logger, before
// the store opens (its DEGRADED events are automated actions too).
func (rt *Runtime) tapAudit() {
	if rt.cfg.Audit.Disabled {
		return
	}
	h, attach := audit.NewTap(rt.log.Handler())
	rt.log = slog.New(h)
	rt.cfg.Logger = rt.log
	rt.attachAudit = attach
}

// openAudit starts the trail on the runtime's store.
func (rt *Runtime) openAudit(ctx context.Context) error {
	if rt.cfg.Audit.Disabled {
		return nil
	}
	var sql *audit.SQL
	if dsn := rt.cfg.Audit.SQLDSN; dsn != "" {
		var err error
		if sql, err = audit.OpenSQL(dsn, rt.cfg.Audit.dsnSource()); err != nil {
			return fmt.Errorf("baldur: %w", err)
		}
	}
	tr, err := audit.New(ctx, audit.Options{Store: rt.store, SQL: sql, Clock: rt.clock, Logger: rt.log,
		BeatEvery: rt.cfg.loopBeat, Beat: func(loop string) {
			if loop == "drain" {
				rt.beats.drain.Beat()
				return
			}
			rt.beats.seal.Beat()
		}})
	if err != nil {
		if sql != nil {
			sql.Close()
		}
		return fmt.Errorf("baldur: %w", err)
	}
	rt.audit = tr
	rt.attachAudit(tr)
	return nil
}

// Audit returns the runtime's audit trail; nil when it is off
// (BALDUR_AUDIT_ENABLED=false), and a nil *audit.Trail records nothing.
func (rt *Runtime) Audit() *audit.Trail { return rt.audit }
