package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/internal/pgtest"
	"github.com/baldur-go/baldur/internal/redistest"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

func openSQL(t *testing.T, dsn string) *SQL {
	t.Helper()
	s, err := OpenSQL(dsn, EnvSQLDSN)
	require.NoError(t, err)
	t.Cleanup(s.Close) // also closed by a trail's Close: closing twice is fine
	return s
}

// pgRows returns the chain's (seq, hash, target) in PostgreSQL, by seq.
func pgSeqs(t *testing.T, dsn string) []uint64 {
	t.Helper()
	rows, err := pgtest.Conn(t, dsn).Query(context.Background(), `SELECT seq FROM baldur_audit_records ORDER BY seq`)
	require.NoError(t, err)
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var s int64
		require.NoError(t, rows.Scan(&s))
		out = append(out, uint64(s))
	}
	require.NoError(t, rows.Err())
	return out
}

func upTo(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

func TestRecordsReachPostgreSQLInOrderAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Shared(t)
	st := store.NewMemory()
	tr := newTrail(t, st, Options{SQL: openSQL(t, dsn)})
	for i := range 30 {
		review := i%10 == 0
		require.NoError(t, tr.Record(ctx, Record{Actor: Actor{Key: "ops", Role: "admin"}, Action: "dlq.redrive",
			Target: fmt.Sprint("entry-", i), Reason: "it's fixed; \"quoted\" ünïcode", ReviewRequired: review}))
	}
	require.NoError(t, tr.Sync(ctx))
	assert.Equal(t, upTo(30), pgSeqs(t, dsn))
	assert.Zero(t, tr.Stats().Backlog)
	n, err := st.Len(ctx, keyChain)
	require.NoError(t, err)
	assert.Zero(t, n, "drained records are trimmed from the store")

	res, err := tr.Verify(ctx)
	require.NoError(t, err)
	require.True(t, res.OK(), "%+v", res.Broken)
	assert.EqualValues(t, 30, res.Checked)

	page, err := tr.List(ctx, Query{Action: "dlq.*", Limit: 4})
	require.NoError(t, err)
	require.Len(t, page.Records, 4)
	assert.EqualValues(t, 30, page.Records[0].Seq)
	assert.EqualValues(t, 27, page.Next)
	assert.Equal(t, "it's fixed; \"quoted\" ünïcode", page.Records[0].Reason)
	page, err = tr.List(ctx, Query{PendingReview: true})
	require.NoError(t, err)
	assert.Len(t, page.Records, 3)
	require.NoError(t, tr.Record(ctx, Record{Action: ActionAcknowledge, Acknowledges: 11, Reason: "seen"}))
	require.NoError(t, tr.Sync(ctx))
	page, err = tr.List(ctx, Query{PendingReview: true})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)
	assert.EqualValues(t, 21, page.Records[0].Seq)
	assert.EqualValues(t, 1, page.Records[1].Seq)
	got, err := tr.Get(ctx, 11)
	require.NoError(t, err)
	assert.Equal(t, "entry-10", got.Target)

	// The schema migrates once; a second start finds it current.
	require.NoError(t, openSQL(t, dsn).Migrate(ctx))
	var versions int
	require.NoError(t, pgtest.Conn(t, dsn).QueryRow(ctx, `SELECT count(*) FROM baldur_audit_migrations`).Scan(&versions))
	assert.Equal(t, SchemaVersion, versions)
}

// Changing PostgreSQL's copy behind the trail's back (a row updated,
// deleted, or two rows' places swapped) makes verify fail at exactly the
// record changed.
func TestTamperingInPostgreSQLBreaksVerifyAtThatRecord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		sql  string
		at   uint64
		says string
	}{
		{"update", `UPDATE baldur_audit_records SET reason = 'nothing happened' WHERE seq = 7`, 7, "does not match its hash"},
		{"update of the time", `UPDATE baldur_audit_records SET at = at + interval '1 second' WHERE seq = 12`, 12, "does not match its hash"},
		{"delete", `DELETE FROM baldur_audit_records WHERE seq = 9`, 9, "record 9 is missing"},
		{"delete of the tail", `DELETE FROM baldur_audit_records WHERE seq >= 19`, 19, "tail is missing"},
		{"reorder", `UPDATE baldur_audit_records SET seq = 1000 WHERE seq = 5;
			UPDATE baldur_audit_records SET seq = 5 WHERE seq = 6;
			UPDATE baldur_audit_records SET seq = 6 WHERE seq = 1000`, 5, "does not match its hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := pgtest.Shared(t)
			tr := newTrail(t, store.NewMemory(), Options{SQL: openSQL(t, dsn)})
			for i := range 20 {
				require.NoError(t, tr.Record(ctx, Record{Action: "breaker.reset", Target: fmt.Sprint("b", i)}))
			}
			require.NoError(t, tr.Sync(ctx))
			res, err := tr.Verify(ctx)
			require.NoError(t, err)
			require.True(t, res.OK(), "%+v", res.Broken)

			_, err = pgtest.Conn(t, dsn).Exec(ctx, tc.sql)
			require.NoError(t, err)
			res, err = tr.Verify(ctx)
			require.NoError(t, err)
			require.NotNil(t, res.Broken, "verify after %s", tc.sql)
			assert.Equal(t, tc.at, res.Broken.Seq, res.Broken.Reason)
			assert.Contains(t, res.Broken.Reason, tc.says)
			assert.True(t, tr.Stats().ChainBroken)
		})
	}
}

// PostgreSQL stops while actions go on: every record waits in the store,
// the backlog says how many, and once the server is back the drain's retry
// (on a fake clock) delivers every record, in order.
func TestRecordsSurviveAPostgreSQLOutageInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := pgtest.Start(t)
	dsn := pgtest.Database(t, srv.Addr())
	clk := clock.NewFake(t0)
	tr := newTrail(t, store.NewMemory(), Options{SQL: openSQL(t, dsn), Clock: clk, RetryMin: time.Second, RetryMax: 8 * time.Second})
	for i := range 10 {
		require.NoError(t, tr.Record(ctx, Record{Action: "control.disable", Target: fmt.Sprint("before-", i)}))
	}
	require.NoError(t, tr.Sync(ctx))

	srv.Stop()
	for i := range 200 {
		require.NoError(t, tr.Record(ctx, Record{Action: "breaker.force_open", Target: fmt.Sprint("during-", i)}))
		if i%50 == 0 {
			assert.Error(t, tr.Sync(ctx), "the drain fails while PostgreSQL is down")
			clk.Advance(time.Minute) // a retry or two, failing too
		}
	}
	assert.Error(t, tr.Sync(ctx))
	assert.EqualValues(t, 200, tr.Stats().Backlog)
	assert.Contains(t, tr.Stats().DrainError, "PostgreSQL")

	srv.StartAgain()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for tr.Stats().Backlog > 0 {
			clk.Advance(time.Second) // the drain's own retry, no Sync
			runtimeGosched()
		}
	}()
	await.Signal(t, drained, "the drain after PostgreSQL came back")
	assert.Equal(t, upTo(210), pgSeqs(t, dsn))
	assert.Empty(t, tr.Stats().DrainError)
	page, err := tr.List(ctx, Query{Limit: MaxLimit})
	require.NoError(t, err)
	for i, r := range page.Records[:200] {
		assert.Equal(t, fmt.Sprint("during-", 199-i), r.Target)
	}
	res, err := tr.Verify(ctx)
	require.NoError(t, err)
	assert.True(t, res.OK(), "%+v", res.Broken)
}

// childEnv makes the test binary an appending child: it names the Redis
// URL, key prefix, DSN and writer of the child, separated by spaces.
const childEnv = "BALDUR_AUDIT_TEST_CHILD"

const childRecords = 150

// appendChild appends childRecords records through a trail on the given
// Redis and PostgreSQL, as fast as it can, then drains; it prints "ready"
// before it starts, and waits for a line on stdin, so that the children run
// at once.
func appendChild() int {
	f := strings.Fields(os.Getenv(childEnv))
	redisURL, prefix, dsn, writer := f[0], f[1], f[2], f[3]
	ctx := context.Background()
	st, err := store.OpenRedis(ctx, redisURL, store.RedisOptions{Prefix: prefix})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer st.Close()
	s, err := OpenSQL(dsn, EnvSQLDSN)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tr, err := New(ctx, Options{Store: st, SQL: s, Node: writer, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer tr.Close()
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for i := range childRecords {
		if err := tr.Record(ctx, Record{Action: "dlq.replay", Target: writer, Reason: strconv.Itoa(i)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	deadline := time.Now().Add(time.Minute)
	for tr.Sync(ctx) != nil || tr.Stats().Backlog > 0 {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "not drained within a minute:", tr.Stats())
			return 1
		}
	}
	return 0
}

// Two real processes append to one chain at once, on one Redis and one
// PostgreSQL: the chain in PostgreSQL is one unbroken run holding every
// record once, each process's records in the order it wrote them.
func TestTwoProcessesAppendingAtOnceKeepOneChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.Shared(t)
	redisURL := redistest.Shared(t)
	prefix := redistest.Prefix(t, redisURL)
	require.NoError(t, openSQL(t, dsn).Migrate(ctx))

	var children []*exec.Cmd
	var stdins []interface{ Close() error }
	for _, w := range []string{"alpha", "beta"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{redisURL, prefix, dsn, w}, " "))
		in, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		await.KillAfter(t, cmd, "child "+w)
		line := make(chan string, 1)
		go func() { l, _ := bufio.NewReader(out).ReadString('\n'); line <- l }()
		assert.Equal(t, "ready\n", await.Recv(t, line, "child "+w+" ready"))
		children, stdins = append(children, cmd), append(stdins, in)
	}
	for _, in := range stdins {
		_ = in.Close() // both go
	}
	for i, cmd := range children {
		await.Done(t, func() { assert.NoError(t, cmd.Wait(), "child %d", i) }, "child exit")
	}

	assert.Equal(t, upTo(2*childRecords), pgSeqs(t, dsn))
	st, err := store.OpenRedis(ctx, redisURL, store.RedisOptions{Prefix: prefix})
	require.NoError(t, err)
	defer st.Close()
	tr := newTrail(t, st, Options{SQL: openSQL(t, dsn)})
	res, err := tr.Verify(ctx)
	require.NoError(t, err)
	require.True(t, res.OK(), "%+v", res.Broken)
	assert.EqualValues(t, 2*childRecords, res.Checked)
	page, err := tr.List(ctx, Query{Limit: MaxLimit})
	require.NoError(t, err)
	next := map[string]int{}
	interleaved := false
	for i := len(page.Records) - 1; i >= 0; i-- {
		r := page.Records[i]
		assert.Equal(t, strconv.Itoa(next[r.Target]), r.Reason, "%s's records in its order", r.Target)
		next[r.Target]++
		if i > 0 && page.Records[i-1].Target != r.Target {
			interleaved = true
		}
	}
	assert.Equal(t, map[string]int{"alpha": childRecords, "beta": childRecords}, next)
	t.Logf("records of the two processes interleaved: %v", interleaved)
	raw, _ := json.Marshal(res)
	t.Log(string(raw))
}

// BenchmarkVerify1MPostgreSQL walks a chain of a million records read from
// PostgreSQL (the shared server), as `baldur audit verify` does: rows
// streamed over one connection, hashed as they come.
func BenchmarkVerify1MPostgreSQL(b *testing.B) {
	ctx := context.Background()
	dsn := pgtest.Shared(b)
	s, err := OpenSQL(dsn, EnvSQLDSN)
	require.NoError(b, err)
	defer s.Close()
	require.NoError(b, s.Migrate(ctx))
	recs := chainOf(1_000_000)
	for i := 0; i < len(recs); i += 20_000 {
		require.NoError(b, s.Append(ctx, recs[i:i+20_000]))
	}
	b.ResetTimer()
	for b.Loop() {
		v := Verifier{AnchorSeq: 1_000_000, AnchorHash: recs[len(recs)-1].Hash}
		require.NoError(b, s.Walk(ctx, recs[0].Chain, func(r *Record) bool { return v.Add(r) == nil }))
		if res := v.Finish(); !res.OK() || res.Checked != 1_000_000 {
			b.Fatalf("%+v", res)
		}
	}
	b.ReportMetric(1_000_000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// A database that cannot be reached: its errors reach the caller, the logs
// and Stats, and the DSN's password reaches none of them.
func TestTheDSNPasswordNeverReachesAnErrorOrALog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nobody listens there now
	for _, dsn := range []string{
		"postgres://app:hunter2-pw@" + addr + "/audit?sslmode=disable&connect_timeout=1",
		"host=127.0.0.1 port=" + strings.Split(addr, ":")[1] + " user=app password=hunter2-pw sslmode=disable connect_timeout=1",
	} {
		logs := &logtest.Buffer{}
		tr := newTrail(t, store.NewMemory(), Options{SQL: openSQL(t, dsn), Logger: slog.New(slog.NewTextHandler(logs, nil))})
		require.NoError(t, tr.Record(ctx, Record{Action: "control.disable"}))
		err := tr.Sync(ctx)
		require.Error(t, err)
		_, verr := tr.Verify(ctx)
		require.Error(t, verr)
		_, lerr := tr.List(ctx, Query{})
		require.Error(t, lerr)
		for what, text := range map[string]string{"sync": err.Error(), "verify": verr.Error(), "list": lerr.Error(),
			"stats": tr.Stats().DrainError, "logs": logs.String()} {
			assert.NotContains(t, text, "hunter2", what)
		}
		assert.NotEmpty(t, logs.Lines("audit.migrate_failed"))
		assert.EqualValues(t, 1, tr.Stats().Backlog)
	}
}
