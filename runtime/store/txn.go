package store

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Txn is a conditional multi-key change for Store.Atomic: when every Cond
// holds, every Op applies, in order, as one unit.
type Txn struct {
	Conds []Cond
	Ops   []Op
}

// TxnResult reports the outcome of Atomic. When Applied is false (a condition
// failed) nothing changed and Results is nil.
type TxnResult struct {
	Applied bool
	// Results has one element per Op, in order.
	Results []OpResult
}

// OpResult is what one Op of an applied Txn produced.
type OpResult struct {
	// ID is the ID an AppendOp got.
	ID ID
	// N is the new value for IncrOp and the number of keys or entries removed
	// for DeleteOp and RemoveOp.
	N int64
}

type condKind uint8

const (
	condAbsent condKind = iota + 1
	condExists
	condEquals
)

// Cond is a precondition of a Txn, built with IfAbsent, IfExists or IfEquals.
type Cond struct {
	kind  condKind
	key   string
	value []byte
}

// IfAbsent holds when key does not exist (or has expired).
func IfAbsent(key string) Cond { return Cond{kind: condAbsent, key: key} }

// IfExists holds when key exists, whatever it holds.
func IfExists(key string) Cond { return Cond{kind: condExists, key: key} }

// IfEquals holds when key holds exactly the string value.
func IfEquals(key string, value []byte) Cond {
	return Cond{kind: condEquals, key: key, value: slices.Clone(value)}
}

// Key returns the key the condition looks at.
func (c Cond) Key() string { return c.key }

func (c Cond) String() string {
	switch c.kind {
	case condAbsent:
		return "absent(" + c.key + ")"
	case condExists:
		return "exists(" + c.key + ")"
	default:
		return "equals(" + c.key + ")"
	}
}

type opKind uint8

const (
	opSet opKind = iota + 1
	opDelete
	opIncr
	opHSet
	opAppend
	opRemove
	opPublish
)

// Op is one change of a Txn, built with SetOp, DeleteOp, IncrOp, HSetOp,
// AppendOp, RemoveOp or PublishOp. The semantics are those of the Store
// method with the same name.
type Op struct {
	kind   opKind
	key    string // key, stream or channel
	value  []byte
	ttl    time.Duration
	delta  int64
	fields map[string]string
	ids    []ID
}

// SetOp is Store.Set inside a Txn.
func SetOp(key string, value []byte, ttl time.Duration) Op {
	return Op{kind: opSet, key: key, value: slices.Clone(value), ttl: ttl}
}

// DeleteOp is Store.Delete of one key inside a Txn.
func DeleteOp(key string) Op { return Op{kind: opDelete, key: key} }

// IncrOp is Store.Incr inside a Txn.
func IncrOp(key string, delta int64, ttl time.Duration) Op {
	return Op{kind: opIncr, key: key, delta: delta, ttl: ttl}
}

// HSetOp is Store.HSet inside a Txn.
func HSetOp(key string, fields map[string]string) Op {
	return Op{kind: opHSet, key: key, fields: maps.Clone(fields)}
}

// AppendOp is Store.Append inside a Txn.
func AppendOp(stream string, value []byte) Op {
	return Op{kind: opAppend, key: stream, value: slices.Clone(value)}
}

// RemoveOp is Store.Remove inside a Txn.
func RemoveOp(stream string, ids ...ID) Op {
	return Op{kind: opRemove, key: stream, ids: slices.Clone(ids)}
}

// PublishOp publishes payload on channel once (and only if) the Txn applied.
func PublishOp(channel string, payload []byte) Op {
	return Op{kind: opPublish, key: channel, value: slices.Clone(payload)}
}

// Key returns the key, stream or channel the op works on.
func (o Op) Key() string { return o.key }

func (o Op) String() string {
	names := map[opKind]string{opSet: "set", opDelete: "delete", opIncr: "incr", opHSet: "hset",
		opAppend: "append", opRemove: "remove", opPublish: "publish"}
	return names[o.kind] + "(" + o.key + ")"
}

// isWrite reports whether the op changes stored state (publish does not).
func (o Op) isWrite() bool { return o.kind != opPublish }

func (t Txn) validate() error {
	for _, c := range t.Conds {
		if err := validKey(c.key); err != nil {
			return err
		}
		if c.kind < condAbsent || c.kind > condEquals {
			return fmt.Errorf("zero Cond (build it with IfAbsent, IfExists or IfEquals): %w", ErrInvalid)
		}
	}
	if len(t.Ops) == 0 {
		return fmt.Errorf("txn without ops: %w", ErrInvalid)
	}
	for _, o := range t.Ops {
		if err := o.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (o Op) validate() error {
	if err := validKey(o.key); err != nil {
		return err
	}
	switch o.kind {
	case opSet:
		if err := validTTL(o.ttl, true); err != nil {
			return err
		}
		return validValue(o.value)
	case opIncr:
		return validTTL(o.ttl, false)
	case opHSet:
		if len(o.fields) == 0 {
			return fmt.Errorf("hset %q without fields: %w", o.key, ErrInvalid)
		}
		n := 0
		for f, v := range o.fields {
			n += len(f) + len(v)
		}
		if n > MaxValueSize {
			return fmt.Errorf("hash fields of %d bytes: %w", n, ErrInvalid)
		}
	case opAppend, opPublish:
		return validValue(o.value)
	case opDelete, opRemove:
	default:
		return fmt.Errorf("zero Op (build it with SetOp, AppendOp...): %w", ErrInvalid)
	}
	return nil
}

// keys returns the distinct keys the txn touches (conds and write ops, not
// publish channels), in first-use order.
func (t Txn) keys() []string {
	seen := make(map[string]bool, len(t.Conds)+len(t.Ops))
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, c := range t.Conds {
		add(c.key)
	}
	for _, o := range t.Ops {
		if o.isWrite() {
			add(o.key)
		}
	}
	return out
}
