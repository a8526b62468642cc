package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wspipe/wspipe/layers"
)

// ctrlFrame is a queued control frame; its payload is copied in.
type ctrlFrame struct {
	op layers.Opcode
	n  uint8
	p  [layers.MaxControlPayload]byte
}

// outFrame is a data frame to send: either bytes already encoded (header
// and masked payload) in a pooled buffer, or (direct) a header and a
// caller's payload, written without a copy while the caller waits.
type outFrame struct {
	buf    *[]byte
	data   []byte
	h      layers.Header
	direct bool
	shared bool // data belongs to a PreparedMessage: queued, never waited for
}

// maxCtrlQueue bounds queued control frames; past it, pongs coalesce into
// the newest (RFC 6455 section 5.5.3 allows answering only the latest ping).
const maxCtrlQueue = 16

// maxFrameBuffer bounds how far a long message's frame buffers grow.
const maxFrameBuffer = 512 << 10

// writeBatch is the writer goroutine's scratch for coalescing frames.
type writeBatch struct {
	frames []outFrame
	vec    [][]byte
	bufs   net.Buffers
}

// maxBatch bounds how many queued frames one writev carries.
const maxBatch = 16

var bufPools sync.Map // frame buffer size -> *sync.Pool

// sizedPool is a buffer pool with its size, for bufPool's cache.
type sizedPool struct {
	size int
	pool *sync.Pool
}

// poolCache holds the first few sizes asked for, set once each and never
// replaced: a process uses a handful (the read buffer and the frame
// buffers of its Options), and a message takes and gives back buffers
// several times, where a sync.Map lookup hashes its key each time.
var poolCache [4]atomic.Pointer[sizedPool]

// bufPool returns the pool of buffers of size bytes.
func bufPool(size int) *sync.Pool {
	for i := range poolCache {
		sp := poolCache[i].Load()
		if sp == nil {
			break
		}
		if sp.size == size {
			return sp.pool
		}
	}
	return bufPoolSlow(size)
}

func bufPoolSlow(size int) *sync.Pool {
	v, ok := bufPools.Load(size)
	if !ok {
		v, _ = bufPools.LoadOrStore(size, &sync.Pool{New: func() any {
			b := make([]byte, size)
			return &b
		}})
	}
	p := v.(*sync.Pool)
	for i := range poolCache {
		sp := poolCache[i].Load()
		if sp == nil {
			if poolCache[i].CompareAndSwap(nil, &sizedPool{size, p}) {
				break
			}
			sp = poolCache[i].Load() // another goroutine filled the slot
		}
		if sp.size == size {
			break
		}
	}
	// With the cache full, later sizes stay with the sync.Map.
	return p
}

// queueControl queues a control frame ahead of data. It never blocks.
func (c *Conn) queueControl(op layers.Opcode, payload []byte) {
	c.mu.Lock()
	if c.writeErr != nil || c.closeFrame != nil {
		c.mu.Unlock()
		return
	}
	var f *ctrlFrame
	if len(c.ctrlQ) >= maxCtrlQueue && op == layers.OpPong {
		for i := len(c.ctrlQ) - 1; i >= 0; i-- {
			if c.ctrlQ[i].op == layers.OpPong {
				f = &c.ctrlQ[i]
				break
			}
		}
	}
	if f == nil {
		c.ctrlQ = append(c.ctrlQ, ctrlFrame{})
		f = &c.ctrlQ[len(c.ctrlQ)-1]
	}
	f.op = op
	f.n = uint8(copy(f.p[:], payload))
	c.kickLocked()
	c.mu.Unlock()
}

// kickLocked starts the writer goroutine if frames wait and none runs.
func (c *Conn) kickLocked() {
	if c.writing {
		return
	}
	if c.corked && len(c.ctrlQ) == 0 && (c.closeFrame == nil || c.closeSent) {
		return // data waits for uncork; control frames do not
	}
	if c.writeErr != nil {
		c.dropQueuedLocked()
		return
	}
	if len(c.ctrlQ) == 0 && c.dataHead == len(c.dataQ) && (c.closeFrame == nil || c.closeSent) {
		return
	}
	c.writing = true
	c.g.Go(c.writeLoop)
}

// writeLoop is the writer goroutine: it drains the queues and ends.
func (c *Conn) writeLoop() error {
	for {
		c.mu.Lock()
		err := c.writeNextLocked()
		if err == io.EOF {
			c.writing = false
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// writeNextLocked writes the next frame by priority: control frames, then
// an urgent close, then data, then a close behind the data. It returns
// io.EOF when there is nothing to write. c.mu is held on entry and exit but
// released around the socket write.
func (c *Conn) writeNextLocked() error {
	if c.writeErr != nil {
		c.dropQueuedLocked()
		return io.EOF
	}
	closeReady := c.closeFrame != nil && !c.closeSent &&
		(c.closeUrgent || c.dataHead == len(c.dataQ))
	// Each case is a call of its own, so that only one case's frame is on
	// the stack: this runs on the reader goroutine too (a pong, the close
	// frame), often at the bottom of a fresh 2 KiB stack.
	switch {
	case len(c.ctrlQ) > 0 && !c.closeSent:
		return c.writeControlLocked()
	case closeReady:
		return c.writeCloseLocked()
	case c.dataHead < len(c.dataQ) && !c.closeSent:
		if c.dataHead+1 == len(c.dataQ) {
			return c.writeOneLocked()
		}
		return c.writeBatchLocked()
	}
	c.dropQueuedLocked()
	return io.EOF
}

// writeControlLocked writes the first queued control frame.
//
//go:noinline
func (c *Conn) writeControlLocked() error {
	f := c.ctrlQ[0]
	c.ctrlQ = append(c.ctrlQ[:0], c.ctrlQ[1:]...)
	c.mu.Unlock()
	err := c.frameWriter().WriteFrame(layers.Header{Fin: true, Opcode: f.op}, f.p[:f.n])
	c.mu.Lock()
	return c.afterWriteLocked(err)
}

// writeCloseLocked writes our close frame.
//
//go:noinline
func (c *Conn) writeCloseLocked() error {
	f := c.closeFrame
	c.mu.Unlock()
	err := c.frameWriter().WriteFrame(layers.Header{Fin: true, Opcode: layers.OpClose}, f.p[:f.n])
	c.mu.Lock()
	if err == nil {
		c.closeSent = true
		c.closeWrote.fire()
		if c.failing {
			go c.teardown() // no waiting for a peer that does not read
		}
	}
	return c.afterWriteLocked(err)
}

// writeOneLocked writes the one queued data frame.
//
//go:noinline
func (c *Conn) writeOneLocked() error {
	f := c.popDataLocked()
	c.mu.Unlock()
	err := c.writeData(&f)
	c.mu.Lock()
	return c.afterWriteLocked(err)
}

// writeBatchLocked coalesces the queued data frames into one writev.
//
//go:noinline
func (c *Conn) writeBatchLocked() error {
	if c.batch == nil {
		c.batch = new(writeBatch)
	}
	b := c.batch
	for c.dataHead < len(c.dataQ) && len(b.frames) < maxBatch {
		f := c.popDataLocked()
		b.frames = append(b.frames, f)
		b.vec = append(b.vec, f.data)
	}
	c.mu.Unlock()
	var err error
	if bw, ok := c.sink().(buffersWriter); ok {
		_, err = bw.WriteBuffers(b.vec)
	} else {
		b.bufs = b.vec
		_, err = b.bufs.WriteTo(c.raw)
	}
	for i := range b.frames {
		c.release(&b.frames[i])
		b.frames[i] = outFrame{}
	}
	clear(b.vec)
	b.frames, b.vec = b.frames[:0], b.vec[:0]
	c.mu.Lock()
	return c.afterWriteLocked(err)
}

// afterWriteLocked fails the connection after a failed write: a frame
// may be cut in half, so the stream is unusable. c.mu is held.
func (c *Conn) afterWriteLocked(err error) error {
	if err != nil && c.writeErr == nil {
		c.writeErr = err
		c.closeError(err) // the transport failed, unless the end began before
		go c.teardown()
	}
	return err
}

func (c *Conn) popDataLocked() outFrame {
	f := c.dataQ[c.dataHead]
	c.dataQ[c.dataHead] = outFrame{}
	c.queued -= len(f.data)
	c.dataHead++
	if c.dataHead == len(c.dataQ) {
		c.dataQ, c.dataHead = c.dataQ[:0], 0
	}
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	return f
}

// dropQueuedLocked discards data that can no longer be sent.
func (c *Conn) dropQueuedLocked() {
	for c.dataHead < len(c.dataQ) {
		f := c.popDataLocked()
		c.release(&f)
	}
	if c.closeSent || c.writeErr != nil {
		c.ctrlQ = c.ctrlQ[:0]
	}
}

// frameWriter returns the FrameWriter for control frames and unbuffered
// data frames, set up on first use: a connection that never sends one
// holds no buffer for it. Only the goroutine holding c.writing calls it.
func (c *Conn) frameWriter() *layers.FrameWriter {
	if c.fw.W == nil {
		c.fw.Reset(c.sink(), c.role, make([]byte, layers.MaxHeaderSize+layers.MaxControlPayload))
	}
	return &c.fw
}

// buffersWriter writes several buffers in one call (a writev), as
// sockWriter does; layers.FrameWriter looks for the same method.
type buffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// sink is where the writer side writes: on a Linux TCP or Unix socket a
// writer of raw system calls (see sockWriter), else the connection itself.
// Only the goroutine holding c.writing calls it.
func (c *Conn) sink() io.Writer {
	if c.cr.raw != nil {
		if w := c.cr.raw.writer(); w != nil {
			return w
		}
	}
	return c.raw
}

// writeData writes a data frame and completes it.
func (c *Conn) writeData(f *outFrame) error {
	var err error
	if f.direct {
		err = c.frameWriter().WriteFrame(f.h, f.data)
	} else {
		_, err = c.sink().Write(f.data)
	}
	c.release(f)
	return err
}

// release returns a written or dropped frame's buffer to its pool.
func (c *Conn) release(f *outFrame) {
	if f.buf != nil {
		bufPool(cap(*f.buf)).Put(f.buf)
		f.buf = nil
	}
}

var (
	errBadType = errors.New("websocket: message type must be Text or Binary")
	// errBusy refuses a zero-copy frame when the connection is not idle.
	errBusy = errors.New("websocket: connection busy")
)

// submit sends a data frame: at once from the calling goroutine if the
// connection is idle, else through the queue, applying the overflow policy
// when the queue is full. A direct frame (a caller's slice, not copied) is
// only ever written at once; when that is not possible submit returns
// errBusy and the caller copies it instead.
func (c *Conn) submit(ctx context.Context, f outFrame) error {
	c.mu.Lock()
	for {
		if c.writeErr != nil || c.closeFrame != nil {
			c.mu.Unlock()
			c.release(&f)
			return c.closeError(ErrClosed)
		}
		if c.hasRoomLocked(len(f.data)) {
			break
		}
		policy := c.opts.Overflow
		if f.shared && policy == OverflowBlock {
			policy = OverflowError // a broadcast never waits for one slow peer
		}
		if c.corked && !f.shared {
			// Full of replies that cork holds back (a burst of pipelined
			// messages, answered on the reader goroutine): it is not the
			// peer that is slow, so no policy calls this an overflow. The
			// replies go now, as uncork would send them, and the queue
			// stays corked for the rest of the burst; if a writer runs
			// already, wait for it to make room.
			if !c.writing {
				c.writing = true
				c.mu.Unlock()
				c.writeLoop() // a failed write tears the connection down itself
				c.mu.Lock()
				continue
			}
			policy = OverflowBlock
		}
		switch policy {
		case OverflowError:
			c.mu.Unlock()
			c.release(&f)
			return ErrQueueFull
		case OverflowClose, OverflowTryAgainLater:
			c.mu.Unlock()
			c.release(&f)
			code := ClosePolicyViolation
			if c.opts.Overflow == OverflowTryAgainLater {
				code = CloseTryAgainLater
			}
			c.fail(code, "send queue full", ErrQueueFull)
			return c.closeError(ErrQueueFull)
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-c.dead.C(): // the loop's first check reports it
		case <-ctx.Done():
			c.release(&f)
			return ctx.Err()
		}
		c.mu.Lock()
	}
	if !c.writing && !c.corked && len(c.ctrlQ) == 0 && c.dataHead == len(c.dataQ) && c.opts.Overflow == OverflowBlock && !f.shared {
		// Idle: write straight to the socket, no goroutine hand-off. Only
		// under OverflowBlock: the other policies promise writes that do
		// not wait for the socket.
		c.writing = true
		c.mu.Unlock()
		return c.writeDirect(ctx, &f)
	}
	if f.direct {
		c.mu.Unlock()
		return errBusy
	}
	c.dataQ = append(c.dataQ, f)
	c.queued += len(f.data)
	c.kickLocked()
	c.mu.Unlock()
	return nil
}

// hasRoomLocked reports whether a data frame of n bytes fits in the send
// queue: under SendQueue frames and, unless the queue is empty (a frame
// larger than the bound still goes, alone), under SendQueueBytes bytes.
func (c *Conn) hasRoomLocked(n int) bool {
	if len(c.dataQ)-c.dataHead >= c.opts.SendQueue {
		return false
	}
	max := c.opts.SendQueueBytes
	return max < 0 || c.queued == 0 || c.queued+n <= max
}

// writeDirect writes f from the calling goroutine, which holds c.writing.
// If ctx ends during the write, the write is cut short by a deadline; a
// frame cut in half leaves the stream unusable, so the connection fails.
func (c *Conn) writeDirect(ctx context.Context, f *outFrame) error {
	var stop func() bool
	if ctx.Done() != nil { // a Background context costs nothing
		stop = context.AfterFunc(ctx, func() {
			c.mu.Lock()
			if c.writing {
				c.raw.SetWriteDeadline(time.Unix(1, 0))
				c.cutWrite = true
			}
			c.mu.Unlock()
		})
	}
	err := c.writeData(f)
	if stop != nil {
		stop()
	}
	c.mu.Lock()
	if c.cutWrite {
		c.cutWrite = false
		if err == nil {
			c.raw.SetWriteDeadline(time.Time{})
		} else {
			err = ctx.Err()
		}
	} else if err != nil {
		// The connection is failing or its transport failed: say how.
		err = c.closeError(err)
	}
	c.afterWriteLocked(err)
	c.writing = false
	c.kickLocked()
	c.mu.Unlock()
	return err
}

// messageWriter is the io.WriteCloser NextWriter hands out. Small writes
// fill a pooled buffer that is sent as one frame when full; a large write
// on a server goes out without a copy when it sits in line (see aligned).
// With permessage-deflate, writes go through the Deflater first, once the
// message has passed the threshold.
type messageWriter struct {
	c       *Conn
	ctx     context.Context
	buf     *[]byte
	off     int // where the payload starts in buf (see takeBuf)
	n       int // payload bytes in buf
	size    int // payload size of this message's frames; grows for long messages
	op      layers.Opcode
	open    bool
	started bool
	whole   bool // WriteMessage: the one Write holds the whole message
	sent    bool // the final frame has gone out with the payload
	mode    writeMode
	pending []byte // a message's first bytes while it may still go uncompressed
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
	for _, l := range c.layers {
		wc = l.WrapWriter(typ, wc)
	}
	return wc, nil
}

func (c *Conn) acquire(ctx context.Context) error {
	select {
	case c.tok() <- struct{}{}:
		if c.dead.fired() { // both were ready, and select chose the token
			<-c.tok()
			return c.closeError(ErrClosed)
		}
		return nil
	case <-c.dead.C():
		return c.closeError(ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
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
		if len(w.pending)+len(p) < w.c.pmd.threshold {
			w.pending = append(w.pending, p...)
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
	if len(w.pending) > 0 {
		if _, err := d.def.Write(w.pending); err != nil && w.err == nil {
			w.err = err
		}
		w.pending = w.pending[:0]
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
	return (*w.buf)[w.off+w.n : w.off+w.size]
}

// takeBuf takes a frame buffer for w.size payload bytes, placing the
// payload so that a full frame's header starts on a cache line.
func (w *messageWriter) takeBuf() {
	w.buf = bufPool(frameBufLen(w.size)).Get().(*[]byte)
	full := layers.Header{Length: int64(w.size), Masked: w.c.role == layers.RoleClient}
	w.off = alignedOffset(*w.buf, layers.HeaderSize(full))
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
		pool := bufPool(size)
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
	off := w.off
	if w.n >= alignMin {
		// A final frame shorter than the buffer has a shorter header:
		// move the payload to keep the frame on a cache line.
		if a := alignedOffset(b, hs); a != off {
			copy(b[a:a+w.n], b[off:off+w.n])
			off = a
		}
	}
	layers.AppendHeader(b[off-hs:off-hs], h)
	if h.Masked {
		layers.Mask(h.Mask, 0, b[off:off+w.n])
	}
	f := outFrame{buf: w.buf, data: b[off-hs : off+w.n]}
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
		if len(w.pending) > 0 {
			w.writeRaw(w.pending)
			w.pending = w.pending[:0]
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
		bufPool(cap(*w.buf)).Put(w.buf)
		w.buf = nil
	}
	w.open = false
	<-w.c.tok()
	return err
}

// cork holds data frames back in the queue while the reader goroutine has
// more input buffered: the replies to a burst of pipelined messages then
// leave in one writev instead of one write each. uncork sends them before
// the reader waits for the peer again.
func (c *Conn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork sends what cork held back, from the calling goroutine when no
// writer runs.
func (c *Conn) uncork() {
	c.mu.Lock()
	if !c.corked {
		c.mu.Unlock()
		return
	}
	c.corked = false
	if c.writing || c.writeErr != nil || c.dataHead == len(c.dataQ) {
		c.kickLocked()
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.mu.Unlock()
	c.writeLoop() // a failed write tears the connection down itself
}
