package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/store/internal/wal"
)

func sampleEffects() []effect {
	return []effect{
		{kind: effSet, key: "claim:1", value: []byte("running"), expireAt: 1_700_000_000_000_000_000},
		{kind: effSet, key: "empty", value: []byte{}},
		{kind: effDel, key: "old"},
		{kind: effHSet, key: "breaker:payments", fields: map[string]string{"state": "OPEN", "opened_at": "1"}},
		{kind: effAppend, key: "dlq", id: ID{Ms: 1700000000000, Seq: 3}, value: []byte(`{"op":"charge"}`)},
		{kind: effRemove, key: "dlq", ids: []ID{{Ms: 1, Seq: 2}, {Ms: 3}}},
		{kind: effStream, key: "dlq", id: ID{Ms: 5, Seq: 5}},
		{kind: effReset},
	}
}

func TestCodec_RoundTrip(t *testing.T) {
	effs := sampleEffects()
	got, err := decodeRecord(encodeRecord(nil, effs))
	require.NoError(t, err)
	require.Equal(t, effs, got)
}

func TestCodec_RejectsDamage(t *testing.T) {
	rec := encodeRecord(nil, sampleEffects())
	for cut := 0; cut < len(rec); cut++ {
		_, err := decodeRecord(rec[:cut])
		require.Error(t, err, "a record cut at %d bytes must not decode", cut)
	}
	_, err := decodeRecord(append(rec, 0))
	require.ErrorIs(t, err, errDecode, "trailing bytes")
	bad := append([]byte{}, rec...)
	bad[0] = 99
	_, err = decodeRecord(bad)
	require.ErrorIs(t, err, errDecode, "unknown version")
	// A count claiming more elements than there are bytes must fail before allocating.
	_, err = decodeRecord([]byte{recordVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	require.ErrorIs(t, err, errDecode)
}

// FuzzWALDecode feeds arbitrary bytes to the log's record decoder, both as a
// segment file (frames, then records) and as a bare record payload. Decoding
// must never panic; what decodes must re-encode to the same effects and apply
// to a state without panicking.
func FuzzWALDecode(f *testing.F) {
	valid := encodeRecord(nil, sampleEffects())
	f.Add(valid)
	f.Add(wal.AppendFrame(nil, valid))
	f.Add(wal.AppendFrame(wal.AppendFrame(nil, valid), encodeRecord(nil, []effect{{kind: effDel, key: "k"}})))
	f.Add(wal.AppendFrame(nil, valid)[:20])
	f.Add([]byte{recordVersion, 1, byte(effHSet), 1, 'k', 2, 1, 'a', 1, 'b'})
	f.Add(make([]byte, 16))
	f.Add(journalFor(Txn{Conds: []Cond{IfAbsent("k")}, Ops: []Op{SetOp("k", []byte("v"), time.Minute), AppendOp("s", []byte("x"))}})(
		1_700_000_000_000_000_000, []OpResult{{}, {ID: ID{Ms: 1, Seq: 2}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(payload []byte) {
			effs, err := decodeRecord(payload)
			if err != nil {
				return
			}
			again, err := decodeRecord(encodeRecord(nil, effs))
			require.NoError(t, err)
			require.Equal(t, effs, again)
			e := newEngine(nil, "fuzz")
			for _, eff := range effs {
				e.applyEffect(eff)
			}
		}
		check(data)
		if e, err := decodeJournal(data); err == nil { // the failover journal shares the primitives
			again, err := decodeJournal(e.encode())
			require.NoError(t, err)
			require.Equal(t, len(e.ops), len(again.ops))
		}
		for off := 0; off < len(data); {
			payload, n, err := wal.DecodeFrame(data[off:])
			if err != nil {
				break
			}
			require.Positive(t, n)
			check(payload)
			off += n
		}
	})
}
