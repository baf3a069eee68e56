package audit

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chainOf builds n sealed records of one chain, as the sealer does.
func chainOf(n int) []Record {
	recs := make([]Record, n)
	var prev Hash
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for i := range recs {
		r := Record{Chain: "c0ffee", Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond),
			Actor:  Actor{Key: "ops", Role: "admin", Operator: "ana", Process: "svc[1]", Node: "n1"},
			Action: "breaker.force_open", Target: fmt.Sprintf("payments-%d", i%7), Reason: "incident 42",
			Outcome: OutcomeOK, RequestID: fmt.Sprintf("req-%d", i), Prev: prev}
		r.Hash = r.ComputeHash()
		prev = r.Hash
		recs[i] = r
	}
	return recs
}

func verify(recs []Record, anchor *Record) Verification {
	var v Verifier
	if anchor != nil {
		v.AnchorSeq, v.AnchorHash = anchor.Seq, anchor.Hash
	}
	for i := range recs {
		if v.Add(&recs[i]) != nil {
			break
		}
	}
	return v.Finish()
}

func TestAnIntactChainVerifies(t *testing.T) {
	t.Parallel()
	recs := chainOf(50)
	res := verify(recs, &recs[49])
	require.True(t, res.OK(), "%+v", res.Broken)
	assert.EqualValues(t, 50, res.Checked)
	assert.EqualValues(t, 1, res.First)
	assert.EqualValues(t, 50, res.Last)
	assert.Equal(t, recs[49].Hash, res.Head)
}

// Every field is covered by the hash: changing any one of them in record 17
// breaks the chain at exactly record 17.
func TestChangingAnyFieldBreaksTheChainAtThatRecord(t *testing.T) {
	t.Parallel()
	edits := map[string]func(r *Record){
		"chain": func(r *Record) { r.Chain = "other" }, "time": func(r *Record) { r.Time = r.Time.Add(time.Microsecond) },
		"key": func(r *Record) { r.Key = "x" }, "role": func(r *Record) { r.Role = "viewer" },
		"operator": func(r *Record) { r.Operator = "eve" }, "process": func(r *Record) { r.Process = "p" },
		"node": func(r *Record) { r.Node = "n2" }, "action": func(r *Record) { r.Action = "dlq.purge" },
		"target": func(r *Record) { r.Target = "t" }, "reason": func(r *Record) { r.Reason = "" },
		"outcome": func(r *Record) { r.Outcome = OutcomeRefused }, "detail": func(r *Record) { r.Detail = "d" },
		"request id": func(r *Record) { r.RequestID = "r" }, "review": func(r *Record) { r.ReviewRequired = true },
		"acknowledges": func(r *Record) { r.Acknowledges = 3 }, "prev": func(r *Record) { r.Prev[0] ^= 1 },
		"hash": func(r *Record) { r.Hash[31] ^= 1 },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			recs := chainOf(30)
			edit(&recs[16])
			res := verify(recs, nil)
			require.NotNil(t, res.Broken)
			assert.EqualValues(t, 17, res.Broken.Seq, res.Broken.Reason)
			assert.EqualValues(t, 16, res.Checked)
		})
	}
}

// Two fields with the same bytes in another split must not hash alike.
func TestTheEncodingTellsFieldBoundariesApart(t *testing.T) {
	t.Parallel()
	a := Record{Action: "ab", Target: "c"}
	b := Record{Action: "a", Target: "bc"}
	assert.NotEqual(t, a.ComputeHash(), b.ComputeHash())
}

func TestAMissingRecordIsNamed(t *testing.T) {
	t.Parallel()
	recs := chainOf(20)
	res := verify(append(recs[:9:9], recs[10:]...), nil)
	require.NotNil(t, res.Broken)
	assert.EqualValues(t, 10, res.Broken.Seq)
	assert.Contains(t, res.Broken.Reason, "record 10 is missing")

	res = verify(recs[3:], nil)
	require.NotNil(t, res.Broken)
	assert.EqualValues(t, 1, res.Broken.Seq, "the first records deleted")
}

func TestAMissingTailIsFoundThroughTheAnchor(t *testing.T) {
	t.Parallel()
	recs := chainOf(20)
	res := verify(recs[:17], &recs[19])
	require.NotNil(t, res.Broken)
	assert.EqualValues(t, 18, res.Broken.Seq)
	assert.Contains(t, res.Broken.Reason, "tail is missing")
}

// A chain rewritten from record 5 on (every hash recomputed) verifies on its
// own, but not against the anchor kept in the store.
func TestARewrittenChainFailsAgainstTheAnchor(t *testing.T) {
	t.Parallel()
	recs := chainOf(10)
	anchor := recs[9]
	recs[4].Reason = "nothing to see"
	for i := 4; i < 10; i++ {
		recs[i].Prev = recs[i-1].Hash
		recs[i].Hash = recs[i].ComputeHash()
	}
	require.True(t, verify(recs, nil).OK())
	res := verify(recs, &anchor)
	require.NotNil(t, res.Broken)
	assert.EqualValues(t, 10, res.Broken.Seq)
}

func TestSwappedRecordsBreakAtTheFirst(t *testing.T) {
	t.Parallel()
	recs := chainOf(10)
	recs[3], recs[4] = recs[4], recs[3]
	res := verify(recs, nil)
	require.NotNil(t, res.Broken)
	assert.EqualValues(t, 4, res.Broken.Seq, res.Broken.Reason)
}

func TestNormaliseKeepsRecordsStorable(t *testing.T) {
	t.Parallel()
	r := Record{Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600)),
		Action: "a\x00b", Reason: string([]byte{0xff, 'o', 'k'}), Target: string(make([]byte, 1000))}
	r.normalise()
	assert.Equal(t, "a\uFFFDb", r.Action)
	assert.Equal(t, "\uFFFDok", r.Reason)
	assert.LessOrEqual(t, len(r.Target), maxShort+len("…"))
	assert.Equal(t, time.UTC, r.Time.Location())
	assert.Equal(t, 123456000, r.Time.Nanosecond())
}

// BenchmarkVerify1M walks a chain of a million records in memory (the
// figure in the README): the hashing, not the reading, PostgreSQL's part
// being rows at the speed of the connection.
func BenchmarkVerify1M(b *testing.B) {
	recs := chainOf(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		res := verify(recs, &recs[len(recs)-1])
		if !res.OK() || res.Checked != 1_000_000 {
			b.Fatalf("%+v", res)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
