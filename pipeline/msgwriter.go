package pipeline

import (
	"context"
	"io"
	"unsafe"

	"github.com/wspipe/wspipe/internal/bufpool"
	"github.com/wspipe/wspipe/layers"
)

// messageWriter is the io.WriteCloser NextWriter hands out. Small writes
// fill a pooled buffer that is sent as one frame when full; a large write
// on a server goes out without a copy when it sits in line (see aligned).
// With permessage-deflate, writes go through the Deflater first, once the
// message has passed the threshold.
type messageWriter struct {
	c       *Conn
	ctx     context.Context
	buf     *[]byte
	n       int // payload bytes in buf
	size    int // payload size of this message's frames; grows for long messages
	op      layers.Opcode
	open    bool
	started bool
	whole   bool // WriteMessage: the one Write holds the whole message
	sent    bool // the final frame has gone out with the payload
	mode    writeMode
	off     uint8 // where the payload starts in buf (see takeBuf): under headerRoom+cacheLine
	err     error
	keys    *layers.MaskKeys // a client's; allocated on first use
}

type writeMode uint8

const (
	modeRaw     writeMode = iota // sent as written
	modePending                  // compressed once it reaches the threshold
	modeDeflate                  // compressed
)

// NextWriter waits for the previous outgoing message to finish (or ctx to
// end) and returns a writer for a new message of type typ. Close sends its
// final frame. Messages never interleave. With permessage-deflate
// negotiated, typ|Uncompressed sends this message uncompressed.
func (c *Conn) NextWriter(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	noCompress := typ&Uncompressed != 0
	typ &^= Uncompressed
	if typ != Text && typ != Binary {
		return nil, errBadType
	}
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	w := &c.mw
	w.ctx, w.op, w.n, w.open, w.started, w.err = ctx, layers.Opcode(typ), 0, true, false, nil
	w.whole, w.sent = false, false
	w.mode, w.size = modeRaw, c.opts.WriteBufferSize
	if c.pmd != nil && !noCompress {
		w.mode = modePending
	}
	var wc io.WriteCloser = w
	for _, l := range c.userLayers() {
		wc = l.WrapWriter(typ, wc)
	}
	return wc, nil
}

func (c *Conn) acquire(ctx context.Context) error {
	if !c.msgTok.tryTake() && !c.msgTok.take(ctx.Done(), c.dead.C()) {
		if c.dead.fired() {
			return c.closeError(ErrClosed)
		}
		return ctx.Err()
	}
	if c.dead.fired() {
		c.msgTok.release()
		return c.closeError(ErrClosed)
	}
	return nil
}

// WriteMessage sends p as one message of type typ.
func (c *Conn) WriteMessage(ctx context.Context, typ MessageType, p []byte) error {
	w, err := c.NextWriter(ctx, typ)
	if err != nil {
		return err
	}
	if w == io.WriteCloser(&c.mw) {
		c.mw.whole = true // no layer between: p is the whole payload
	}
	_, err = w.Write(p)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

const headerRoom = layers.MaxHeaderSize

// Frames copied into our buffers start on a cache line (64 bytes): the
// kernel copies a write into socket buffers that start on one, and on
// some CPUs (AMD Zen measured, see docs/benchmarks.md) a copy whose source
// and destination are not equally aligned runs about a third slower. A
// frame of alignMin bytes or more is moved into line if need be.
const (
	cacheLine = 64
	alignMin  = 256
)

// frameBufLen is the length of a frame buffer for size payload bytes:
// room for the header and to move the payload into line.
func frameBufLen(size int) int { return headerRoom + cacheLine + size }

// alignedOffset returns where in b a payload goes so that its header of
// hs bytes starts on a cache line, at least headerRoom bytes in.
func alignedOffset(b []byte, hs int) int {
	addr := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return headerRoom + ((hs-addr-headerRoom)%cacheLine+cacheLine)%cacheLine
}

// PayloadOffset returns where in buf to put a payload of n bytes so that a
// server's WriteMessage sends it in place, without copying it: far enough
// in for the frame header, with the header's start on a cache line. The
// offset is at most layers.MaxHeaderSize+63, so buf needs that many bytes
// more than n. It does not matter for a compressed message or a client's,
// which are written from the connection's own buffers.
func PayloadOffset(buf []byte, n int) int {
	hs := layers.HeaderSize(layers.Header{Length: int64(n)})
	addr := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	return hs + ((-addr)%cacheLine+cacheLine)%cacheLine
}

// aligned reports whether payload p, sent after a header of hs bytes
// written to a socket, is copied by the kernel in line.
func aligned(p []byte, hs int) bool {
	return (int(uintptr(unsafe.Pointer(unsafe.SliceData(p))))-hs)%cacheLine == 0
}

// Write adds p to the message.
func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.open {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.mode == modePending {
		if d := w.c.pmd; len(d.pending)+len(p) < d.threshold {
			d.pending = append(d.pending, p...)
			return len(p), nil
		}
		w.startDeflate()
	}
	if w.mode == modeDeflate {
		n, err := w.c.pmd.def.Write(p)
		if err != nil && w.err == nil {
			w.err = err
		}
		return n, err
	}
	return w.writeRaw(p)
}

// startDeflate switches the message to compression, feeding it what was
// held back.
func (w *messageWriter) startDeflate() {
	d := w.c.pmd
	w.mode = modeDeflate
	d.def.Reset((*rawWriter)(w), d.writeWin, d.writeBits, d.level)
	if len(d.pending) > 0 {
		if _, err := d.def.Write(d.pending); err != nil && w.err == nil {
			w.err = err
		}
		d.pending = d.pending[:0]
	}
}

// rawWriter is a messageWriter seen as the Deflater's destination.
type rawWriter messageWriter

func (r *rawWriter) Write(p []byte) (int, error) { return (*messageWriter)(r).writeRaw(p) }

// writeRaw frames p as it is: into the buffer, or on its own when large.
func (w *messageWriter) writeRaw(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.buf != nil && w.n == w.size {
			// Full: send it now that more follows, so the final frame is
			// never an empty one.
			if err := w.flush(false); err != nil {
				return written, err
			}
		}
		fin := w.whole && w.mode == modeRaw && !w.started
		if h := w.header(fin, len(p)); w.n == 0 && len(p) >= w.size && w.c.role == layers.RoleServer &&
			w.c.opts.Overflow == OverflowBlock && aligned(p, layers.HeaderSize(h)) {
			// Large write in line: send it as its own frame, not copied;
			// the final one if it is the whole message, so no empty
			// frame follows it.
			err := w.c.submit(w.ctx, outFrame{h: h, data: p, direct: true})
			if err == nil {
				w.started, w.sent = true, fin
				return written + len(p), nil
			}
			if err != errBusy {
				w.err = err
				return written, err
			}
			// Busy: fall through and copy it into frames instead.
		}
		if w.buf == nil && w.n == 0 && fin && len(p) > w.size {
			// The whole message: frames as large as it needs.
			for w.size < len(p) && w.size < maxFrameBuffer {
				w.size = min(w.size*4, maxFrameBuffer)
			}
		}
		k := copy(w.space(), p)
		w.n += k
		written += k
		p = p[k:]
	}
	return written, nil
}

// space returns the free part of the frame buffer, taking one if needed.
func (w *messageWriter) space() []byte {
	if w.buf == nil {
		w.takeBuf()
	}
	off := int(w.off)
	return (*w.buf)[off+w.n : off+w.size]
}

// takeBuf takes a frame buffer for w.size payload bytes, placing the
// payload so that a full frame's header starts on a cache line.
func (w *messageWriter) takeBuf() {
	w.buf = bufpool.For(frameBufLen(w.size)).Get().(*[]byte)
	full := layers.Header{Length: int64(w.size), Masked: w.c.role == layers.RoleClient}
	w.off = uint8(alignedOffset(*w.buf, layers.HeaderSize(full)))
}

// onlyWriter is a messageWriter without ReadFrom, for io.CopyBuffer; as a
// pointer type it converts to io.Writer without allocating.
type onlyWriter messageWriter

func (o *onlyWriter) Write(p []byte) (int, error) { return (*messageWriter)(o).Write(p) }

// ReadFrom reads r into the message, filling frame buffers directly when
// the message is not compressed.
func (w *messageWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.open {
		return 0, ErrClosed
	}
	if w.mode != modeRaw {
		size := w.c.opts.WriteBufferSize
		pool := bufpool.For(size)
		scratch := pool.Get().(*[]byte)
		defer pool.Put(scratch)
		return io.CopyBuffer((*onlyWriter)(w), r, *scratch)
	}
	var total int64
	for {
		if w.err != nil {
			return total, w.err
		}
		if w.buf != nil && w.n == w.size {
			if err := w.flush(false); err != nil {
				return total, err
			}
		}
		n, err := r.Read(w.space())
		w.n += n
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (w *messageWriter) header(fin bool, n int) layers.Header {
	h := layers.Header{Fin: fin, Opcode: w.op, Length: int64(n)}
	if w.started {
		h.Opcode = layers.OpContinuation
	} else if w.mode == modeDeflate {
		h.Rsv = layers.RSV1 // a compressed message (RFC 7692 section 6)
	}
	return h
}

// flush sends the buffered payload as a frame.
func (w *messageWriter) flush(fin bool) error {
	if w.buf == nil {
		w.takeBuf()
	}
	h := w.header(fin, w.n)
	if w.c.role == layers.RoleClient {
		h.Masked = true
		if w.keys == nil {
			w.keys = new(layers.MaskKeys)
		}
		h.Mask = w.keys.Next()
	}
	hs := layers.HeaderSize(h)
	b := *w.buf
	off := int(w.off)
	if w.n >= alignMin {
		// A final frame shorter than the buffer has a shorter header:
		// move the payload to keep the frame on a cache line.
		if a := alignedOffset(b, hs); a != off {
			copy(b[a:a+w.n], b[off:off+w.n])
			off = a
		}
	}
	f := outFrame{buf: w.buf, data: layers.EncodeFrame(b, off, h, b[off:off+w.n])}
	if !fin && w.n == w.size && w.size < maxFrameBuffer {
		// A long message: fewer, larger frames and system calls.
		w.size = min(w.size*4, maxFrameBuffer)
	}
	w.buf, w.n, w.started = nil, 0, true
	if err := w.c.submit(w.ctx, f); err != nil {
		w.err = err
		return err
	}
	return nil
}

// Close sends the message's final frame and lets the next message start.
func (w *messageWriter) Close() error {
	if !w.open {
		return ErrClosed
	}
	switch w.mode {
	case modePending: // short: not worth compressing
		w.mode = modeRaw
		if d := w.c.pmd; len(d.pending) > 0 {
			w.writeRaw(d.pending)
			d.pending = d.pending[:0]
		}
	case modeDeflate:
		if err := w.c.pmd.def.Close(); err != nil && w.err == nil {
			w.err = err
		}
	}
	err := w.err
	if err == nil && !w.sent {
		err = w.flush(true)
	}
	if w.buf != nil {
		bufpool.For(cap(*w.buf)).Put(w.buf)
		w.buf = nil
	}
	w.open = false
	w.c.msgTok.release()
	return err
}
