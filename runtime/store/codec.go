package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// An effect is a state assignment recorded in the write-ahead log. Effects
// carry results, not intentions (Incr is logged as the Set of the new value,
// a TTL as an absolute deadline), so replaying a record is deterministic and
// replaying one twice is harmless.
type effKind uint8

const (
	effSet    effKind = iota + 1 // key = value until expireAt
	effDel                       // key deleted
	effHSet                      // fields merged into the hash at key
	effAppend                    // entry id/value added to stream key
	effRemove                    // entries ids removed from stream key
	effStream                    // stream key exists and has handed out IDs up to id
	effReset                     // every key deleted
)

type effect struct {
	kind     effKind
	key      string
	value    []byte
	expireAt int64 // unix nanoseconds, 0 = never
	fields   map[string]string
	id       ID
	ids      []ID
}

// recordVersion is the first byte of every record payload.
const recordVersion = 1

var errDecode = errors.New("malformed record")

// encodeRecord encodes effects as one log record payload.
func encodeRecord(dst []byte, effs []effect) []byte {
	dst = append(dst, recordVersion)
	dst = binary.AppendUvarint(dst, uint64(len(effs)))
	for _, e := range effs {
		dst = append(dst, byte(e.kind))
		switch e.kind {
		case effSet:
			dst = appendString(dst, e.key)
			dst = appendBytes(dst, e.value)
			dst = binary.AppendVarint(dst, e.expireAt)
		case effDel:
			dst = appendString(dst, e.key)
		case effHSet:
			dst = appendString(dst, e.key)
			dst = binary.AppendUvarint(dst, uint64(len(e.fields)))
			// Sorted so that equal effects encode to equal bytes.
			names := make([]string, 0, len(e.fields))
			for f := range e.fields {
				names = append(names, f)
			}
			slices.Sort(names)
			for _, f := range names {
				dst = appendString(dst, f)
				dst = appendString(dst, e.fields[f])
			}
		case effAppend:
			dst = appendString(dst, e.key)
			dst = appendID(dst, e.id)
			dst = appendBytes(dst, e.value)
		case effRemove:
			dst = appendString(dst, e.key)
			dst = binary.AppendUvarint(dst, uint64(len(e.ids)))
			for _, id := range e.ids {
				dst = appendID(dst, id)
			}
		case effStream:
			dst = appendString(dst, e.key)
			dst = appendID(dst, e.id)
		case effReset:
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendID(dst []byte, id ID) []byte {
	dst = binary.AppendUvarint(dst, id.Ms)
	return binary.AppendUvarint(dst, id.Seq)
}

// decodeRecord decodes a record payload. It never panics and never allocates
// more than the input can justify: every count is checked against the bytes
// left, since each element takes at least one byte. Decoded values are copies.
func decodeRecord(buf []byte) ([]effect, error) {
	d := decoder{buf: buf}
	if v := d.byte(); v != recordVersion {
		return nil, fmt.Errorf("%w: version %d", errDecode, v)
	}
	n := d.count()
	effs := make([]effect, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		e := effect{kind: effKind(d.byte())}
		switch e.kind {
		case effSet:
			e.key = d.string()
			e.value = d.bytes()
			e.expireAt = d.varint()
		case effDel:
			e.key = d.string()
		case effHSet:
			e.key = d.string()
			m := d.count()
			e.fields = make(map[string]string, m)
			for j := 0; j < m && d.err == nil; j++ {
				f := d.string()
				e.fields[f] = d.string()
			}
		case effAppend:
			e.key = d.string()
			e.id = d.id()
			e.value = d.bytes()
		case effRemove:
			e.key = d.string()
			m := d.count()
			e.ids = make([]ID, 0, m)
			for j := 0; j < m && d.err == nil; j++ {
				e.ids = append(e.ids, d.id())
			}
		case effStream:
			e.key = d.string()
			e.id = d.id()
		case effReset:
		default:
			d.fail("unknown effect %d", e.kind)
		}
		if e.kind != effReset && e.key == "" && d.err == nil {
			d.fail("effect %d without key", e.kind)
		}
		effs = append(effs, e)
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return effs, nil
}

type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errDecode}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.buf) == 0 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// count reads an element count no larger than the bytes left.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.buf)) {
		d.fail("count %d exceeds the %d bytes left", v, len(d.buf))
		return 0
	}
	return int(v)
}

func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.buf))
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) string() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	b := d.raw()
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func (d *decoder) id() ID {
	return ID{Ms: d.uvarint(), Seq: d.uvarint()}
}
