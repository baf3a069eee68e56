package store

import (
	"encoding/binary"
	"fmt"
	"time"
)

// journalEntry is one write Failover made to the local store while
// degraded, kept to be replayed to Redis on recovery. It is the txn as the
// caller asked for it, with TTLs turned into deadlines (so that a claim that
// expired during the outage is not resurrected) and the local IDs appends got
// (so that a later removal of one can be translated to its Redis ID).
type journalEntry struct {
	at        int64 // unix nanoseconds, local clock
	conds     []Cond
	ops       []Op
	deadlines []int64 // per op: set/incr expiry (unix ns), 0 none, -1 keep
	localIDs  []ID    // per op: the local ID of an append
}

const journalVersion = 1

// journalFor returns the journal function recording txn.
func journalFor(txn Txn) journalFunc {
	return func(now int64, results []OpResult) []byte {
		e := journalEntry{at: now, conds: txn.Conds, ops: txn.Ops,
			deadlines: make([]int64, len(txn.Ops)), localIDs: make([]ID, len(txn.Ops))}
		for i, o := range txn.Ops {
			switch {
			case o.ttl == KeepTTL:
				e.deadlines[i] = -1
			case o.ttl > 0:
				e.deadlines[i] = now + int64(o.ttl)
			}
			e.localIDs[i] = results[i].ID
		}
		return e.encode()
	}
}

func (e journalEntry) encode() []byte {
	b := []byte{journalVersion}
	b = binary.AppendVarint(b, e.at)
	b = binary.AppendUvarint(b, uint64(len(e.conds)))
	for _, c := range e.conds {
		b = append(b, byte(c.kind))
		b = appendString(b, c.key)
		b = appendBytes(b, c.value)
	}
	b = binary.AppendUvarint(b, uint64(len(e.ops)))
	for i, o := range e.ops {
		b = append(b, byte(o.kind))
		b = appendString(b, o.key)
		b = appendBytes(b, o.value)
		b = binary.AppendVarint(b, e.deadlines[i])
		b = binary.AppendVarint(b, o.delta)
		b = binary.AppendUvarint(b, uint64(len(o.fields)))
		for f, v := range o.fields {
			b = appendString(b, f)
			b = appendString(b, v)
		}
		b = binary.AppendUvarint(b, uint64(len(o.ids)))
		for _, id := range o.ids {
			b = appendID(b, id)
		}
		b = appendID(b, e.localIDs[i])
	}
	return b
}

func decodeJournal(buf []byte) (journalEntry, error) {
	d := decoder{buf: buf}
	if v := d.byte(); v != journalVersion {
		return journalEntry{}, fmt.Errorf("%w: journal version %d", errDecode, v)
	}
	e := journalEntry{at: d.varint()}
	n := d.count()
	for i := 0; i < n && d.err == nil; i++ {
		c := Cond{kind: condKind(d.byte()), key: d.string(), value: d.bytes()}
		e.conds = append(e.conds, c)
	}
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		o := Op{kind: opKind(d.byte()), key: d.string(), value: d.bytes()}
		e.deadlines = append(e.deadlines, d.varint())
		o.delta = d.varint()
		if m := d.count(); m > 0 {
			o.fields = make(map[string]string, m)
			for j := 0; j < m && d.err == nil; j++ {
				f := d.string()
				o.fields[f] = d.string()
			}
		}
		m := d.count()
		for j := 0; j < m && d.err == nil; j++ {
			o.ids = append(o.ids, d.id())
		}
		e.localIDs = append(e.localIDs, d.id())
		e.ops = append(e.ops, o)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	if d.err != nil {
		return journalEntry{}, d.err
	}
	return e, nil
}

// ttlAt turns a journalled deadline back into a TTL at now; ok is false when
// the deadline has passed.
func ttlAt(deadline, now int64) (ttl time.Duration, ok bool) {
	switch {
	case deadline == -1:
		return KeepTTL, true
	case deadline == 0:
		return 0, true
	case deadline <= now:
		return 0, false
	}
	return time.Duration(deadline - now), true
}
