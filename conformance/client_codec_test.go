package conformance

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
)

// The client direction's frame codec: the fuzzing server writes frames as
// a server does (unmasked), or deliberately masked, and parses the client's
// frames, which must all be masked.

// encodeWithKey returns f's wire form: unmasked if key is nil, else masked
// with *key. The length uses the shortest of the three encodings.
func encodeWithKey(f frame, key *[4]byte) []byte {
	n := len(f.payload)
	out := make([]byte, 0, 14+n)
	b0 := f.opcode&0x0F | (f.rsv&7)<<4
	if f.fin {
		b0 |= 0x80
	}
	var maskBit byte
	if key != nil {
		maskBit = 0x80
	}
	switch {
	case n <= 125:
		out = append(out, b0, maskBit|byte(n))
	case n <= 0xFFFF:
		out = append(out, b0, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, b0, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if key == nil {
		return append(out, f.payload...)
	}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, f.payload...)
	mask(*key, out[start:])
	return out
}

// encodeServer returns f's wire form as a server sends it: unmasked.
func encodeServer(f frame) []byte { return encodeWithKey(f, nil) }

// encodeServerAll concatenates the server wire forms of frames.
func encodeServerAll(frames ...frame) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, encodeServer(f)...)
	}
	return out
}

// encodeMaskedServer returns f's wire form masked with a random key: a
// frame no server may send, which a client must treat as a protocol
// violation (RFC 6455 section 5.1).
func encodeMaskedServer(f frame) []byte {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32()|1) // never the zero key
	return encodeWithKey(f, &key)
}

// clientHeader is the parsed header of a frame from the client.
type clientHeader struct {
	fin    bool
	rsv    byte
	opcode byte
	length uint64
	key    [4]byte
}

// clientViolation is a protocol error by the client under test.
type clientViolation string

func (v clientViolation) Error() string { return "client protocol violation: " + string(v) }

func clientViolationf(format string, a ...any) error {
	return clientViolation(fmt.Sprintf(format, a...))
}

// readClientFrame reads one frame from the client and returns its header
// and unmasked payload. It returns io.EOF only when the stream ends cleanly
// between frames. It checks what framing needs: the minimal length
// encoding and the mask bit, which a client must always set; the caller
// judges the rest, the mask keys included. A frame longer than limit is
// refused before its payload is read.
func readClientFrame(r *bufio.Reader, limit uint64) (clientHeader, []byte, error) {
	var h clientHeader
	b0, err := r.ReadByte()
	if err != nil {
		return h, nil, err // io.EOF here is a clean end
	}
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:1]); err != nil {
		return h, nil, truncated(err)
	}
	h.fin = b0&0x80 != 0
	h.rsv = b0 >> 4 & 7
	h.opcode = b0 & 0x0F
	isMasked := hdr[0]&0x80 != 0
	h.length = uint64(hdr[0] & 0x7F)
	switch h.length {
	case 126:
		if _, err := io.ReadFull(r, hdr[1:3]); err != nil {
			return h, nil, truncated(err)
		}
		h.length = uint64(binary.BigEndian.Uint16(hdr[1:3]))
		if h.length < 126 {
			return h, nil, clientViolationf("length %d sent in the 16-bit form; the minimal encoding is required", h.length)
		}
	case 127:
		if _, err := io.ReadFull(r, hdr[1:9]); err != nil {
			return h, nil, truncated(err)
		}
		h.length = binary.BigEndian.Uint64(hdr[1:9])
		if h.length>>63 != 0 {
			return h, nil, clientViolationf("64-bit length with the most significant bit set")
		}
		if h.length <= 0xFFFF {
			return h, nil, clientViolationf("length %d sent in the 64-bit form; the minimal encoding is required", h.length)
		}
	}
	if !isMasked {
		return h, nil, clientViolationf("a %s frame from the client is not masked", opName(h.opcode))
	}
	if _, err := io.ReadFull(r, h.key[:]); err != nil {
		return h, nil, truncated(err)
	}
	if h.length > limit {
		return h, nil, clientViolationf("a %s frame of %d bytes is over this suite's %d-byte limit", opName(h.opcode), h.length, limit)
	}
	p := make([]byte, h.length)
	if _, err := io.ReadFull(r, p); err != nil {
		return h, nil, truncated(err)
	}
	mask(h.key, p)
	return h, p, nil
}
