package layers

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Opcode is a frame's opcode (RFC 6455 section 5.2).
type Opcode byte

// The opcodes RFC 6455 defines. All others are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode (close, ping, pong or a
// reserved control opcode).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether o is one of the opcodes RFC 6455 reserves.
func (o Opcode) IsReserved() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

// String returns the opcode's name.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(" + strconv.Itoa(int(o)) + ")"
}

// RSV bits as they sit in the first header byte.
const (
	RSV1 byte = 0x40
	RSV2 byte = 0x20
	RSV3 byte = 0x10
)

// MaxControlPayload is the largest payload a control frame may carry.
const MaxControlPayload = 125

// MaxHeaderSize is the largest frame header: 2 bytes, an 8-byte length and
// a 4-byte mask key.
const MaxHeaderSize = 14

// Header is a parsed frame header.
type Header struct {
	Fin    bool
	Rsv    byte // RSV1|RSV2|RSV3 bits, in their wire positions
	Opcode Opcode
	Masked bool
	Mask   [4]byte
	Length int64
}

// Errors returned by the layers. Each maps to a close code (see CloseCodeFor).
var (
	// ErrProtocol is a violation of RFC 6455 framing (close code 1002).
	ErrProtocol = errors.New("websocket: protocol error")
	// ErrInvalidUTF8 is a text message or close reason that is not UTF-8 (close code 1007).
	ErrInvalidUTF8 = errors.New("websocket: invalid UTF-8")
	// ErrTooBig is a frame or message over the configured limit (close code 1009).
	ErrTooBig = errors.New("websocket: message too big")
)

// protocolError wraps ErrProtocol with a fixed reason without allocating.
type protocolError string

func (e protocolError) Error() string { return "websocket: protocol error: " + string(e) }
func (e protocolError) Unwrap() error { return ErrProtocol }

// The protocol errors the FrameReader returns; all match ErrProtocol.
var (
	errReservedOpcode    error = protocolError("reserved opcode")
	errReservedBits      error = protocolError("reserved bits set")
	errMessageRSV        error = protocolError("per-message RSV bit on a control or continuation frame")
	errControlTooLong    error = protocolError("control frame payload over 125 bytes")
	errControlFragmented error = protocolError("fragmented control frame")
	errUnmasked          error = protocolError("client frame not masked")
	errMasked            error = protocolError("server frame masked")
	errLengthTopBit      error = protocolError("64-bit length with the top bit set")
	errNonMinimalLength  error = protocolError("length not minimally encoded")
	errNoMessageOpen     error = protocolError("continuation frame with no message open")
	errMessageOpen       error = protocolError("data frame while a fragmented message is open")
	errBadClosePayload   error = protocolError("close frame with a 1-byte payload")
	errInvalidCloseCode  error = protocolError("invalid close code")
	errFrameTooBig       error = tooBigError("frame over the size limit")
)

type tooBigError string

func (e tooBigError) Error() string { return "websocket: message too big: " + string(e) }
func (e tooBigError) Unwrap() error { return ErrTooBig }

type utf8Error string

func (e utf8Error) Error() string { return "websocket: invalid UTF-8: " + string(e) }
func (e utf8Error) Unwrap() error { return ErrInvalidUTF8 }

// CloseCodeFor returns the close code an endpoint sends when a layer fails
// with err: 1002, 1007 or 1009 for the layers' errors (1007 also for
// ErrInvalidCompressed), 1011 otherwise.
func CloseCodeFor(err error) CloseCode {
	switch {
	case errors.Is(err, ErrProtocol):
		return CloseProtocolError
	case errors.Is(err, ErrInvalidUTF8):
		return CloseInvalidPayload
	case errors.Is(err, ErrInvalidCompressed): // permessage-deflate (deflate.go)
		return CloseInvalidPayload
	case errors.Is(err, ErrTooBig):
		return CloseMessageTooBig
	}
	return CloseInternalError
}

// FrameSize measures the frame that starts at b: the size of its header
// and the payload length the header declares. If b does not hold the
// whole header, ok is false and hs is how many bytes it needs (2 when b is
// shorter than that). It only measures: FrameReader.Next, which parses
// every header with it, validates. A reader of buffered bytes can find
// where frames end with it without reading them.
func FrameSize(b []byte) (hs int, length uint64, ok bool) {
	if len(b) < 2 {
		return 2, 0, false
	}
	hs, length = 2, uint64(b[1]&0x7F)
	switch length {
	case 126:
		hs += 2
	case 127:
		hs += 8
	}
	if b[1]&0x80 != 0 {
		hs += 4
	}
	if len(b) < hs {
		return hs, 0, false
	}
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		length = binary.BigEndian.Uint64(b[2:])
	}
	return hs, length, true
}
