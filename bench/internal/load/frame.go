package load

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Opcodes of RFC 6455 section 5.2.
const (
	opContinuation = 0x0
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// appendFrame appends a client frame (FIN set, masked with key) carrying
// payload to dst.
func appendFrame(dst []byte, op byte, key [4]byte, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskInPlace(dst[start:], key)
	return dst
}

// maskInPlace XORs p with the repeating key, starting at key position 0,
// eight bytes at a time.
func maskInPlace(p []byte, key [4]byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// ErrMismatch is wrapped by every error about the content of a reply (or
// of a frame that is not a valid reply): the server answered wrongly, as
// opposed to not answering at all.
var ErrMismatch = errors.New("reply differs from the request")

// frameHeader is a parsed server frame header.
type frameHeader struct {
	fin    bool
	op     byte
	length uint64
}

// readHeader reads one server frame header: no reserved bits (no extension
// is negotiated), never masked.
func readHeader(br *bufio.Reader) (frameHeader, error) {
	var h frameHeader
	b0, err := br.ReadByte()
	if err != nil {
		return h, err
	}
	b1, err := br.ReadByte()
	if err != nil {
		return h, err
	}
	if b0&0x70 != 0 {
		return h, fmt.Errorf("%w: reserved bits set in frame header %#x", ErrMismatch, b0)
	}
	if b1&0x80 != 0 {
		return h, fmt.Errorf("%w: masked server frame", ErrMismatch)
	}
	h.fin, h.op = b0&0x80 != 0, b0&0x0F
	switch l := b1 & 0x7F; l {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return h, err
		}
		h.length = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return h, err
		}
		h.length = binary.BigEndian.Uint64(b[:])
	default:
		h.length = uint64(l)
	}
	if h.op >= 0x8 && (h.length > 125 || !h.fin) {
		return h, fmt.Errorf("%w: bad control frame (opcode %#x, %d bytes, fin %v)", ErrMismatch, h.op, h.length, h.fin)
	}
	return h, nil
}

// readBinaryMessage reads the next binary message (any number of
// fragments) into buf and checks it equals want byte for byte. A ping is
// answered through pong; a pong is skipped; a close, a text message or a
// reply of another length is an error.
func readBinaryMessage(br *bufio.Reader, buf, want []byte, pong func([]byte) error) error {
	got := 0
	first := true
	var ctl [125]byte
	for {
		h, err := readHeader(br)
		if err != nil {
			return err
		}
		if h.op >= 0x8 {
			p := ctl[:h.length]
			if _, err := io.ReadFull(br, p); err != nil {
				return err
			}
			switch h.op {
			case opPing:
				if err := pong(p); err != nil {
					return err
				}
				continue
			case opPong:
				continue
			case opClose:
				return fmt.Errorf("%w: server sent close %x while %d reply bytes were due", ErrMismatch, p, len(want)-got)
			}
			return fmt.Errorf("%w: unknown control opcode %#x", ErrMismatch, h.op)
		}
		switch {
		case first && h.op != opBinary:
			return fmt.Errorf("%w: reply opcode %#x, want binary", ErrMismatch, h.op)
		case !first && h.op != opContinuation:
			return fmt.Errorf("%w: opcode %#x inside a fragmented reply", ErrMismatch, h.op)
		}
		first = false
		if h.length > uint64(len(want)-got) {
			return fmt.Errorf("%w: reply longer than the %d bytes sent", ErrMismatch, len(want))
		}
		n := int(h.length)
		if _, err := io.ReadFull(br, buf[got:got+n]); err != nil {
			return err
		}
		got += n
		if h.fin {
			break
		}
	}
	if got != len(want) {
		return fmt.Errorf("%w: reply of %d bytes, %d sent", ErrMismatch, got, len(want))
	}
	return compare(buf[:got], want)
}

// compare reports where got first differs from want.
func compare(got, want []byte) error {
	if bytes.Equal(got, want) {
		return nil
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Errorf("%w: first difference at byte %d of %d", ErrMismatch, i, len(want))
}
