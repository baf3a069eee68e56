package audit

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/baldur-go/baldur/internal/redact"
)

// ErrDiverged means PostgreSQL holds a chain that the store's records do
// not continue: a record there differs from the store's, or the store's
// next record does not follow PostgreSQL's last one. Nothing is written;
// verify names where the chain breaks.
var ErrDiverged = errors.New("the audit chain in PostgreSQL and the store's have diverged")

// SQL is the PostgreSQL copy of the trail, through pgx. Its errors never
// carry the DSN's password.
type SQL struct {
	pool    *pgxpool.Pool
	secrets []string
}

// OpenSQL checks dsn (a postgres:// URL or a keyword/value string) and
// returns a pool that connects when first used, so that a database that is
// away does not stop the start. A malformed dsn is an error naming
// variable, with the password hidden.
func OpenSQL(dsn, variable string) (*SQL, error) {
	secrets := redact.DSNSecrets(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %s", variable, redact.DSN(dsn), redact.Scrub(strings.TrimSpace(err.Error()), secrets...))
	}
	cfg.MaxConns = 4
	cfg.MinConns = 0
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %s", variable, redact.DSN(dsn), redact.Scrub(err.Error(), secrets...))
	}
	return &SQL{pool: pool, secrets: secrets}, nil
}

// Close closes the pool.
func (s *SQL) Close() { s.pool.Close() }

// sqlError is a database error with the DSN's secrets scrubbed from its
// text; errors.Is still reaches the cause (a cancelled context).
type sqlError struct {
	msg string
	err error
}

func (e *sqlError) Error() string { return e.msg }
func (e *sqlError) Unwrap() error { return e.err }

func (s *SQL) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return &sqlError{msg: "audit: PostgreSQL: " + what + ": " + redact.Scrub(err.Error(), s.secrets...), err: err}
}

// Lock keys (pg_advisory_xact_lock): one for migrations, one per chain.
const migrateLock = int64(0x62616c6475720001) // "baldur" + 1

func chainLock(chain string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("baldur_audit:" + chain))
	return int64(h.Sum64())
}

// migrations are applied in order, each once, under migrateLock; the table
// baldur_audit_migrations records which ran. Append only: never edit one
// that has shipped.
var migrations = []string{
	1: `CREATE TABLE baldur_audit_records (
		chain           text        NOT NULL,
		seq             bigint      NOT NULL CHECK (seq > 0),
		at              timestamptz NOT NULL,
		actor_key       text        NOT NULL,
		actor_role      text        NOT NULL,
		operator        text        NOT NULL,
		process         text        NOT NULL,
		node            text        NOT NULL,
		action          text        NOT NULL,
		target          text        NOT NULL,
		reason          text        NOT NULL,
		outcome         text        NOT NULL,
		detail          text        NOT NULL,
		request_id      text        NOT NULL,
		review_required boolean     NOT NULL,
		acknowledges    bigint      NOT NULL,
		prev            bytea       NOT NULL,
		hash            bytea       NOT NULL,
		PRIMARY KEY (chain, seq)
	);
	CREATE INDEX baldur_audit_records_at ON baldur_audit_records (chain, at);
	CREATE INDEX baldur_audit_records_action ON baldur_audit_records (chain, action, seq);
	CREATE INDEX baldur_audit_records_review ON baldur_audit_records (chain, seq) WHERE review_required;
	CREATE INDEX baldur_audit_records_acks ON baldur_audit_records (chain, acknowledges) WHERE acknowledges > 0;`,
}

// SchemaVersion is the schema version this build migrates to.
var SchemaVersion = len(migrations) - 1

// Migrate creates the schema or brings it up to SchemaVersion. Processes
// starting together take turns on an advisory lock.
func (s *SQL) Migrate(ctx context.Context) error {
	return s.wrap("migrate", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS baldur_audit_migrations (
			version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM baldur_audit_migrations`).Scan(&have); err != nil {
			return err
		}
		if have > SchemaVersion {
			return fmt.Errorf("the schema is at version %d, newer than this build's %d", have, SchemaVersion)
		}
		for v := have + 1; v <= SchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO baldur_audit_migrations (version) VALUES ($1)`, v); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Append inserts recs, consecutive records of one chain, after the chain's
// last record in PostgreSQL. Appends of one chain are serialised on an
// advisory lock held for the transaction; records PostgreSQL already holds
// are skipped (after checking the last of them is the same record), and the
// first new one must follow PostgreSQL's head, or nothing is written and
// the error wraps ErrDiverged.
func (s *SQL) Append(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	chain := recs[0].Chain
	var diverged error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, chainLock(chain)); err != nil {
			return err
		}
		var seq int64
		var hash []byte
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM baldur_audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, chain).Scan(&seq, &hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var headHash Hash
		copy(headHash[:], hash)
		start := 0
		for start < len(recs) && recs[start].Seq <= uint64(seq) {
			start++
		}
		if start > 0 && recs[start-1].Seq == uint64(seq) && recs[start-1].Hash != headHash {
			diverged = fmt.Errorf("%w: record %d differs", ErrDiverged, seq)
			return diverged
		}
		if start == len(recs) {
			return nil
		}
		if first := recs[start]; first.Seq != uint64(seq)+1 || first.Prev != headHash {
			diverged = fmt.Errorf("%w: PostgreSQL's chain %s ends at record %d, the store's next record is %d", ErrDiverged, chain, seq, first.Seq)
			return diverged
		}
		rows := make([][]any, 0, len(recs)-start)
		for i := start; i < len(recs); i++ {
			rows = append(rows, rowOf(&recs[i]))
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"baldur_audit_records"}, columns, pgx.CopyFromRows(rows))
		return err
	})
	if diverged != nil {
		return diverged
	}
	return s.wrap("append", err)
}

var columns = []string{"chain", "seq", "at", "actor_key", "actor_role", "operator", "process", "node",
	"action", "target", "reason", "outcome", "detail", "request_id", "review_required", "acknowledges", "prev", "hash"}

var selectColumns = strings.Join(columns, ", ")

func rowOf(r *Record) []any {
	return []any{r.Chain, int64(r.Seq), r.Time, r.Key, r.Role, r.Operator, r.Process, r.Node,
		r.Action, r.Target, r.Reason, r.Outcome, r.Detail, r.RequestID, r.ReviewRequired, int64(r.Acknowledges),
		r.Prev[:], r.Hash[:]}
}

// scanRecord reads one row of selectColumns.
func scanRecord(row pgx.Row, r *Record) error {
	var seq, ack int64
	var prev, hash []byte
	if err := row.Scan(&r.Chain, &seq, &r.Time, &r.Key, &r.Role, &r.Operator, &r.Process, &r.Node,
		&r.Action, &r.Target, &r.Reason, &r.Outcome, &r.Detail, &r.RequestID, &r.ReviewRequired, &ack,
		&prev, &hash); err != nil {
		return err
	}
	r.Seq, r.Acknowledges, r.Time = uint64(seq), uint64(ack), r.Time.UTC()
	copy(r.Prev[:], prev)
	copy(r.Hash[:], hash)
	if len(prev) != len(r.Prev) || len(hash) != len(r.Hash) {
		r.Hash = Hash{} // a hash cut short or padded never verifies
	}
	return nil
}

// Walk calls fn for each record of chain in Seq order, reading the rows as
// they come (a million records is not held in memory), until fn returns
// false.
func (s *SQL) Walk(ctx context.Context, chain string, fn func(*Record) bool) error {
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns+` FROM baldur_audit_records WHERE chain = $1 ORDER BY seq`, chain)
	if err != nil {
		return s.wrap("walk", err)
	}
	defer rows.Close()
	var r Record
	for rows.Next() {
		r = Record{}
		if err := scanRecord(rows, &r); err != nil {
			return s.wrap("walk", err)
		}
		if !fn(&r) {
			return nil
		}
	}
	return s.wrap("walk", rows.Err())
}

// Chains returns the chains PostgreSQL holds, the most recently written first.
func (s *SQL) Chains(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT chain FROM baldur_audit_records GROUP BY chain ORDER BY max(at) DESC`)
	if err != nil {
		return nil, s.wrap("chains", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, s.wrap("chains", err)
}

// List returns a page of chain's records matching q, newest first.
func (s *SQL) List(ctx context.Context, chain string, q Query) (Page, error) {
	q = q.normalised()
	where := []string{"chain = $1"}
	args := []any{chain}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.Actor != "" {
		add("(actor_key = ? OR operator = ?)", q.Actor)
	}
	if prefix, ok := strings.CutSuffix(q.Action, "*"); ok {
		add("starts_with(action, ?)", prefix)
	} else if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	if !q.Since.IsZero() {
		add("at >= ?", q.Since)
	}
	if !q.Until.IsZero() {
		add("at < ?", q.Until)
	}
	if q.Before > 0 {
		add("seq < ?", int64(q.Before))
	}
	if q.PendingReview {
		where = append(where, "review_required AND NOT EXISTS (SELECT 1 FROM baldur_audit_records a "+
			"WHERE a.chain = baldur_audit_records.chain AND a.acknowledges = baldur_audit_records.seq AND a.action = '"+ActionAcknowledge+"')")
	}
	args = append(args, q.Limit+1)
	rows, err := s.pool.Query(ctx, `SELECT `+selectColumns+` FROM baldur_audit_records WHERE `+
		strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return Page{}, s.wrap("list", err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		err := scanRecord(row, &r)
		return r, err
	})
	if err != nil {
		return Page{}, s.wrap("list", err)
	}
	return pageOf(recs, q.Limit), nil
}

// Get returns record seq of chain, or ErrNoRecord.
func (s *SQL) Get(ctx context.Context, chain string, seq uint64) (Record, error) {
	var r Record
	err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+selectColumns+` FROM baldur_audit_records WHERE chain = $1 AND seq = $2`,
		chain, int64(seq)), &r)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, fmt.Errorf("record %d: %w", seq, ErrNoRecord)
	}
	return r, s.wrap("get", err)
}
