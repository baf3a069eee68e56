package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Frame layout: a little-endian uint32 payload length, a little-endian uint32
// CRC-32C over the length bytes and the payload, then the payload. The length
// is under the checksum too so that a flipped length bit is caught even when
// it happens to land on another plausible frame boundary.
const (
	headerSize = 8
	// MaxPayload bounds one record; a length above it is corruption, not a
	// reason to allocate gigabytes while replaying a damaged file.
	MaxPayload = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors DecodeFrame returns; all of them mean "the valid log ends here".
var (
	ErrShortFrame = errors.New("torn frame: file ends inside a record")
	ErrBadLength  = errors.New("corrupt frame: impossible record length")
	ErrChecksum   = errors.New("corrupt frame: checksum mismatch")
)

// AppendFrame appends payload, framed, to dst.
func AppendFrame(dst, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	crc := crc32.Update(0, castagnoli, h[0:4])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], crc)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// FrameSize is the number of bytes AppendFrame adds for a payload of n bytes.
func FrameSize(n int) int { return headerSize + n }

// DecodeFrame reads the frame at the start of buf and returns its payload (a
// sub-slice of buf) and the number of bytes it occupies. A zero length is
// corrupt: no writer produces empty records, while zero-filled blocks are what
// a crash on some file systems leaves behind.
func DecodeFrame(buf []byte) (payload []byte, n int, err error) {
	if len(buf) < headerSize {
		return nil, 0, ErrShortFrame
	}
	size := binary.LittleEndian.Uint32(buf[0:4])
	if size == 0 || size > MaxPayload {
		return nil, 0, fmt.Errorf("%w: %d bytes", ErrBadLength, size)
	}
	if uint64(len(buf)-headerSize) < uint64(size) {
		return nil, 0, ErrShortFrame
	}
	payload = buf[headerSize : headerSize+int(size)]
	crc := crc32.Update(0, castagnoli, buf[0:4])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(buf[4:8]) {
		return nil, 0, ErrChecksum
	}
	return payload, headerSize + int(size), nil
}
