package conformance

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
)

// Opcodes (RFC 6455 section 5.2). 0x3-0x7 and 0xB-0xF are reserved.
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// frame is one client-to-server frame. Nothing about it is checked, so a
// case can put on the wire what a correct client never sends: reserved
// opcodes, RSV bits, fragmented or oversized control frames, continuations
// out of place.
type frame struct {
	fin     bool
	rsv     byte // the three RSV bits as a number 0-7; 4 is RSV1, 1 is RSV3
	opcode  byte
	payload []byte
}

// encode returns the frame's wire form as a client sends it, masked with a
// fresh random key (never the zero key).
func (f frame) encode() []byte {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32()|1)
	return encodeWithKey(f, &key)
}

// encodeServer returns f's wire form as a server sends it: unmasked.
func encodeServer(f frame) []byte { return encodeWithKey(f, nil) }

// encodeMaskedServer returns f's wire form masked with a random key, as
// no server may send it: a client must treat it as a protocol violation
// (RFC 6455 section 5.1).
func encodeMaskedServer(f frame) []byte { return f.encode() }

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

// mask XORs p in place with key, payload byte i with key[i%4]. It works a
// word at a time: a word starts at a multiple of 8, so its byte j meets key
// byte j%4, which is what the doubled little-endian key holds.
func mask(key [4]byte, p []byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// Frame builders used by the case tables.

func data(op byte, fin bool, p []byte) frame { return frame{fin: fin, opcode: op, payload: p} }
func text(p []byte) frame                    { return data(opText, true, p) }
func bin(p []byte) frame                     { return data(opBinary, true, p) }
func cont(fin bool, p []byte) frame          { return data(opCont, fin, p) }
func ping(p []byte) frame                    { return data(opPing, true, p) }
func pong(p []byte) frame                    { return data(opPong, true, p) }
func closeRaw(p []byte) frame                { return data(opClose, true, p) }

// closeFrame builds a close frame with a status code and a reason.
func closeFrame(code int, reason []byte) frame { return closeRaw(closeBody(code, reason)) }

// closeBody is a close frame payload: a 2-byte code, then the reason.
func closeBody(code int, reason []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// fragments splits a message into frames of at most size payload bytes, the
// first with opcode op and the rest continuations, the last one final.
func fragments(op byte, p []byte, size int) []frame {
	var fs []frame
	for first := true; first || len(p) > 0; first = false {
		n := min(size, len(p))
		o := opCont
		if first {
			o = op
		}
		fs = append(fs, data(o, n == len(p), p[:n]))
		p = p[n:]
	}
	return fs
}

// repeatTo fills n bytes by repeating pattern, as Autobahn's payload_len
// does.
func repeatTo(pattern string, n int) []byte {
	out := make([]byte, 0, n+len(pattern))
	for len(out) < n {
		out = append(out, pattern...)
	}
	return out[:n]
}

// b is shorthand for a payload given as a string literal.
func b(s string) []byte { return []byte(s) }

// frameHeader is the parsed header of a frame from the peer.
type frameHeader struct {
	fin    bool
	rsv    byte
	opcode byte
	masked bool
	length uint64
	key    [4]byte // the mask key, if masked
}

// violation is a protocol error by the peer under test, the server or
// the client.
type violation struct {
	peer string
	msg  string
}

func (v violation) Error() string { return v.peer + " protocol violation: " + v.msg }

// errTruncated marks a connection that ended in the middle of a frame.
var errTruncated = errors.New("the connection ended in the middle of a frame")

// readServerFrame reads one frame from a server, which must not mask.
func readServerFrame(r *bufio.Reader, limit uint64) (frameHeader, []byte, error) {
	return readFrame(r, limit, "server")
}

// readClientFrame reads one frame from a client, which must always mask,
// and returns it unmasked. The caller judges the mask keys (maskKeys).
func readClientFrame(r *bufio.Reader, limit uint64) (frameHeader, []byte, error) {
	return readFrame(r, limit, "client")
}

// readFrame reads one frame from the peer (from: "server" or "client").
// It returns io.EOF only when the stream ends cleanly between frames. It
// checks only what it needs to frame the stream: the minimal length
// encoding and the mask bit, which a server must not set and a client
// must always set; the caller judges the rest. A frame longer than limit
// is refused before its payload is read.
func readFrame(r *bufio.Reader, limit uint64, from string) (frameHeader, []byte, error) {
	var h frameHeader
	violationf := func(format string, a ...any) error { return violation{from, fmt.Sprintf(format, a...)} }
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
	h.masked = hdr[0]&0x80 != 0
	h.length = uint64(hdr[0] & 0x7F)
	switch h.length {
	case 126:
		if _, err := io.ReadFull(r, hdr[1:3]); err != nil {
			return h, nil, truncated(err)
		}
		h.length = uint64(binary.BigEndian.Uint16(hdr[1:3]))
		if h.length < 126 {
			return h, nil, violationf("length %d sent in the 16-bit form; the minimal encoding is required", h.length)
		}
	case 127:
		if _, err := io.ReadFull(r, hdr[1:9]); err != nil {
			return h, nil, truncated(err)
		}
		h.length = binary.BigEndian.Uint64(hdr[1:9])
		if h.length>>63 != 0 {
			return h, nil, violationf("64-bit length with the most significant bit set")
		}
		if h.length <= 0xFFFF {
			return h, nil, violationf("length %d sent in the 64-bit form; the minimal encoding is required", h.length)
		}
	}
	switch {
	case from == "server" && h.masked:
		return h, nil, violationf("a %s frame from the server is masked", opName(h.opcode))
	case from == "client" && !h.masked:
		return h, nil, violationf("a %s frame from the client is not masked", opName(h.opcode))
	}
	if h.masked {
		if _, err := io.ReadFull(r, h.key[:]); err != nil {
			return h, nil, truncated(err)
		}
	}
	if h.length > limit {
		return h, nil, violationf("a %s frame of %d bytes is over this suite's %d-byte limit", opName(h.opcode), h.length, limit)
	}
	p := make([]byte, h.length)
	if _, err := io.ReadFull(r, p); err != nil {
		return h, nil, truncated(err)
	}
	if h.masked {
		mask(h.key, p)
	}
	return h, p, nil
}

// maxKeyRepeats is how many times, in one connection, a mask key may be
// one used before. Keys drawn from a good random source repeat that often
// with negligible probability even over thousands of frames; a constant
// or cycling key repeats at once.
const maxKeyRepeats = 2

// maskKeys judges the mask keys of a client's frames, one connection's
// worth: each must be fresh, never zero, never the previous frame's, and
// repeat older keys no more than chance allows.
type maskKeys struct {
	frames  int
	repeats int
	prev    [4]byte
	seen    map[[4]byte]bool
}

// check judges the key of the next frame and returns what is wrong with
// it, if anything.
func (k *maskKeys) check(h frameHeader) string {
	if k.seen == nil {
		k.seen = map[[4]byte]bool{}
	}
	k.frames++
	switch {
	case h.key == [4]byte{}:
		return fmt.Sprintf("frame %d (%s) is masked with the all-zero key, which leaves it unmasked", k.frames, opName(h.opcode))
	case k.frames > 1 && h.key == k.prev:
		return fmt.Sprintf("frame %d (%s) reuses the previous frame's mask key %x; keys must be fresh and unpredictable", k.frames, opName(h.opcode), h.key)
	case k.seen[h.key]:
		k.repeats++
		if k.repeats > maxKeyRepeats {
			return fmt.Sprintf("frame %d (%s) reuses mask key %x; %d keys of %d frames were used before, so the keys are not fresh", k.frames, opName(h.opcode), h.key, k.repeats, k.frames)
		}
	}
	k.prev, k.seen[h.key] = h.key, true
	return ""
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return fmt.Errorf("%w: %w", errTruncated, err)
}

func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("reserved-opcode-%#x", op)
}

// validCloseCode reports whether an endpoint may put code in a close frame
// (RFC 6455 section 7.4 and the IANA registry): 1000-1003, 1007-1014 and
// 3000-4999. 1004 is reserved, 1005, 1006 and 1015 must never be sent.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
