package layers

import (
	"io"
)

// Role says which end of a connection a layer serves. Servers require
// masked frames from clients and send unmasked ones; clients the reverse.
type Role uint8

// The two roles.
const (
	RoleServer Role = iota
	RoleClient
)

// FrameReader reads frames from a byte stream: Next parses and validates a
// header, then Read yields that frame's payload, unmasked, and io.EOF at
// its end. It tracks fragmentation, so a continuation with no message open
// or a new data frame inside an open message is a protocol error. It holds
// the header in a fixed array and re-arms its payload reader per frame
// without allocating.
type FrameReader struct {
	src  io.Reader
	role Role

	// AllowRSV is the set of RSV bits that negotiated extensions use on
	// any frame. Any other RSV bit set on a frame is a protocol error.
	AllowRSV byte
	// MessageRSV is the set of RSV bits that negotiated extensions use on
	// the first frame of a data message only, as permessage-deflate uses
	// RSV1 (RFC 7692 section 6): on a control or continuation frame they are
	// a protocol error.
	MessageRSV byte
	// MaxFrameSize, if positive, is the largest payload a frame may declare;
	// larger ones fail with ErrTooBig before any payload is read.
	MaxFrameSize int64

	hdr  [MaxHeaderSize]byte
	h    Header
	lim  io.LimitedReader
	unm  Unmasker
	open bool // a fragmented data message is open
}

// NewFrameReader returns a FrameReader reading frames from r for role.
func NewFrameReader(r io.Reader, role Role) *FrameReader {
	fr := &FrameReader{}
	fr.Reset(r, role)
	return fr
}

// Reset makes fr read a new stream r for role, forgetting all state but the
// AllowRSV, MessageRSV and MaxFrameSize settings.
func (fr *FrameReader) Reset(r io.Reader, role Role) {
	fr.src, fr.role = r, role
	fr.h = Header{}
	fr.lim = io.LimitedReader{R: r}
	fr.open = false
}

// Header returns the header of the current frame.
func (fr *FrameReader) Header() Header { return fr.h }

// Remaining returns how many payload bytes of the current frame are unread.
func (fr *FrameReader) Remaining() int64 { return fr.lim.N }

// InMessage reports whether a fragmented data message is open: its first
// frame has arrived but not its final one.
func (fr *FrameReader) InMessage() bool { return fr.open }

// skip reads and drops the rest of the current frame's payload.
func (fr *FrameReader) skip() error {
	if _, err := io.Copy(io.Discard, &fr.lim); err != nil {
		return err
	}
	if fr.lim.N > 0 {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// Next skips what is left of the current frame's payload, then reads and
// validates the next header. At a clean end of stream before a header it
// returns io.EOF; a stream cut inside a header gives io.ErrUnexpectedEOF.
func (fr *FrameReader) Next() (Header, error) {
	if fr.lim.N > 0 {
		if err := fr.skip(); err != nil {
			return Header{}, err
		}
	}
	fr.h = Header{}
	b := fr.hdr[:]
	if _, err := io.ReadFull(fr.src, b[:2]); err != nil {
		return Header{}, err
	}
	h := Header{
		Fin:    b[0]&0x80 != 0,
		Rsv:    b[0] & (RSV1 | RSV2 | RSV3),
		Opcode: Opcode(b[0] & 0x0F),
		Masked: b[1]&0x80 != 0,
	}
	short := b[1] & 0x7F // the 7-bit length: 126 and 127 announce longer ones
	switch {
	case h.Opcode.IsReserved():
		return h, errReservedOpcode
	case h.Rsv&^(fr.AllowRSV|fr.MessageRSV) != 0:
		return h, errReservedBits
	case h.Rsv&fr.MessageRSV&^fr.AllowRSV != 0 && (h.Opcode.IsControl() || h.Opcode == OpContinuation):
		return h, errMessageRSV
	case h.Opcode.IsControl() && !h.Fin:
		return h, errControlFragmented
	case h.Opcode.IsControl() && short > MaxControlPayload:
		return h, errControlTooLong
	case fr.role == RoleServer && !h.Masked:
		return h, errUnmasked
	case fr.role == RoleClient && h.Masked:
		return h, errMasked
	}
	hs, _, _ := FrameSize(b[:2])
	if hs > 2 {
		if _, err := io.ReadFull(fr.src, b[2:hs]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, err
		}
	}
	_, u, _ := FrameSize(b[:hs])
	switch {
	case short == 126 && u < 126, short == 127 && u <= 0xFFFF:
		return h, errNonMinimalLength
	case u>>63 != 0:
		return h, errLengthTopBit
	}
	length := int64(u)
	if h.Masked {
		copy(h.Mask[:], b[hs-4:hs])
	}
	h.Length = length
	if !h.Opcode.IsControl() {
		if h.Opcode == OpContinuation {
			if !fr.open {
				return h, errNoMessageOpen
			}
		} else if fr.open {
			return h, errMessageOpen
		}
		fr.open = !h.Fin
	}
	if fr.MaxFrameSize > 0 && length > fr.MaxFrameSize {
		return h, errFrameTooBig
	}
	fr.h = h
	fr.lim.N = length
	if h.Masked {
		fr.unm.Reset(&fr.lim, h.Mask)
	}
	return h, nil
}

// Read reads the current frame's payload, unmasked. It returns io.EOF at
// the end of the frame, and io.ErrUnexpectedEOF if the stream ends first.
func (fr *FrameReader) Read(p []byte) (int, error) {
	if fr.lim.N <= 0 {
		return 0, io.EOF
	}
	var n int
	var err error
	if fr.h.Masked {
		n, err = fr.unm.Read(p)
	} else {
		n, err = fr.lim.Read(p)
	}
	if err == io.EOF && fr.lim.N > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && fr.lim.N == 0 {
		err = io.EOF
	}
	return n, err
}
