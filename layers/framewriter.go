package layers

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"unsafe"
)

// AppendHeader appends the wire form of h to dst. The length must be
// non-negative; the mask key is written only if h.Masked.
func AppendHeader(dst []byte, h Header) []byte {
	n := len(dst) + HeaderSize(h)
	dst = slices.Grow(dst, n-len(dst))[:n]
	EncodeFrame(dst, n, h, nil)
	return dst
}

// HeaderSize returns the size of the header AppendHeader writes for h.
func HeaderSize(h Header) int { return headerSize(h.Length, h.Masked) }

// headerSize is HeaderSize from the two fields it needs, for callers that
// have them at hand: copying a whole Header just after a byte of it was
// stored stalls on store forwarding (several nanoseconds a frame).
func headerSize(length int64, masked bool) int {
	n := 2
	switch {
	case length > 0xFFFF:
		n += 8
	case length > 125:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// MaskKeys hands out mask keys from crypto/rand, fetched in batches so the
// cost of the system call is shared by many frames (RFC 6455 section 10.3
// requires unpredictable keys; math/rand is not).
type MaskKeys struct {
	buf [64]byte
	pos int
}

// Next returns a fresh mask key.
func (k *MaskKeys) Next() [4]byte {
	if k.pos == 0 || k.pos >= len(k.buf) {
		// crypto/rand.Read never fails on supported platforms.
		rand.Read(k.buf[:])
		k.pos = 0
	}
	var key [4]byte
	copy(key[:], k.buf[k.pos:])
	k.pos += 4
	return key
}

// FrameWriter writes whole frames to W. A frame that fits its buffer goes
// out as a single Write of header and payload; a larger one is written
// without copying the payload (as a two-element net.Buffers, a writev on a
// TCP connection, or through W's WriteBuffers([][]byte) (int64, error)
// method if it has one) when acting as a server, and masked chunk by chunk
// through the buffer when acting as a client. The caller's payload is never
// modified.
type FrameWriter struct {
	W    io.Writer
	role Role
	keys *MaskKeys // allocated on a client's first frame; servers never need it
	buf  []byte
	vec  [2][]byte
	bufs net.Buffers
}

// DefaultWriteBufferSize is the FrameWriter buffer size used when none is given.
const DefaultWriteBufferSize = 4096

// NewFrameWriter returns a FrameWriter writing to w for role, with buf as
// its buffer (a DefaultWriteBufferSize one if buf is nil). The buffer must
// hold at least MaxHeaderSize+MaxControlPayload bytes.
func NewFrameWriter(w io.Writer, role Role, buf []byte) *FrameWriter {
	fw := &FrameWriter{}
	fw.Reset(w, role, buf)
	return fw
}

// Reset makes fw write to w for role with buffer buf (nil keeps the current
// buffer, or allocates one if there is none).
func (fw *FrameWriter) Reset(w io.Writer, role Role, buf []byte) {
	if buf == nil {
		buf = fw.buf
	}
	if cap(buf) < MaxHeaderSize+MaxControlPayload {
		buf = make([]byte, DefaultWriteBufferSize)
	}
	fw.W, fw.role, fw.buf = w, role, buf[:cap(buf)]
}

// WriteFrame writes one frame with h's Fin, Rsv and Opcode and payload p.
// h.Length and the mask are set by the writer: a client masks with a fresh
// key from crypto/rand, a server never masks.
func (fw *FrameWriter) WriteFrame(h Header, p []byte) error {
	h.Length = int64(len(p))
	h.Masked = fw.role == RoleClient
	if h.Masked {
		if fw.keys == nil {
			fw.keys = new(MaskKeys)
		}
		h.Mask = fw.keys.Next()
	}
	hl := headerSize(h.Length, h.Masked)
	if hl+len(p) <= len(fw.buf) {
		return writeAll(fw.W, EncodeFrame(fw.buf, hl, h, p))
	}
	if !h.Masked {
		return fw.writeVec(EncodeFrame(fw.buf, hl, h, nil), p)
	}
	return fw.writeMasked(h, hl, p)
}

// writeVec writes header hdr and payload p, too large together for fw.buf,
// in one vectored write.
func (fw *FrameWriter) writeVec(hdr, p []byte) error {
	fw.vec[0], fw.vec[1] = hdr, p
	var err error
	if bw, ok := fw.W.(BuffersWriter); ok {
		_, err = bw.WriteBuffers(fw.vec[:])
	} else {
		fw.bufs = fw.vec[:]
		_, err = fw.bufs.WriteTo(fw.W)
	}
	fw.vec = [2][]byte{}
	return err
}

// writeMasked writes a masked frame whose header (hl bytes) and payload p
// do not fit fw.buf together: the header and the first bytes, then the
// rest masked through fw.buf a bufferful at a time.
func (fw *FrameWriter) writeMasked(h Header, hl int, p []byte) error {
	n := min(len(p), len(fw.buf)-hl)
	if err := writeAll(fw.W, EncodeFrame(fw.buf, hl, h, p[:n])); err != nil {
		return err
	}
	pos := n & 3
	for p = p[n:]; len(p) > 0; p = p[n:] {
		n = min(len(p), len(fw.buf))
		pos = MaskCopy(fw.buf, p[:n], h.Mask, pos)
		if err := writeAll(fw.W, fw.buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// EncodeFrame builds frame h in b around its payload: h's header goes into
// the HeaderSize(h) bytes that end at off (so off must be at least that),
// and p goes to b[off:], masked with h.Mask if h.Masked. It returns the
// bytes written, b[off-HeaderSize(h) : off+len(p)]. It is the one place
// the library encodes frames: data, control and prepared frames alike.
//
// p may already be where it goes (b[off:off+len(p)] itself): it is then
// masked in place, or left as it is; otherwise it must not overlap b. That
// is how a frame is built in a buffer that was filled with payload after
// room left for the header, with no second copy. h.Length is the whole
// payload's length; p may be only its first bytes (or nil, for the header
// alone) when the rest is written after, masked with MaskCopy from key
// position len(p)&3.
func EncodeFrame(b []byte, off int, h Header, p []byte) []byte {
	dst := b[off : off+len(p)]
	if h.Masked {
		// MaskCopy takes dst == src, so copying and masking are one pass
		// either way.
		MaskCopy(dst, p, h.Mask, 0)
	} else if len(p) > 0 && unsafe.SliceData(dst) != unsafe.SliceData(p) {
		copy(dst, p)
	}
	// The header is written from its end back, so its size is found on
	// the way rather than computed first: this is on every frame's path.
	start := off
	if h.Masked {
		start -= 4
		*(*[4]byte)(b[start:off]) = h.Mask
	}
	b0 := h.Rsv&(RSV1|RSV2|RSV3) | byte(h.Opcode&0x0F)
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	switch {
	case h.Length <= 125:
		b1 |= byte(h.Length)
	case h.Length <= 0xFFFF:
		b1 |= 126
		start -= 2
		binary.BigEndian.PutUint16(b[start:], uint16(h.Length))
	default:
		b1 |= 127
		start -= 8
		binary.BigEndian.PutUint64(b[start:], uint64(h.Length))
	}
	start -= 2
	b[start], b[start+1] = b0, b1
	return b[start : off+len(p)]
}

// BuffersWriter is a writer of several buffers in one call, such as a
// writev: the way a writer other than a net.Conn takes a header and a
// payload together. FrameWriter uses it when its writer has it.
type BuffersWriter interface {
	// WriteBuffers writes the buffers in order, as one write, and returns
	// the bytes written.
	WriteBuffers(bufs [][]byte) (int64, error)
}

func writeAll(w io.Writer, b []byte) error {
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return err
}
