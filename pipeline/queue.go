package pipeline

import (
	"io"
	"net"
	"sync"

	"github.com/wspipe/wspipe/internal/bufpool"
	"github.com/wspipe/wspipe/internal/sockio"
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

// maxBatch bounds how many queued frames one writev carries: within what
// one writev of sockio's writer takes.
const maxBatch = sockio.MaxIovecs - 2

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
func (c *Conn) writeControlLocked() error {
	f := c.ctrlQ[0]
	c.ctrlQ = append(c.ctrlQ[:0], c.ctrlQ[1:]...)
	c.mu.Unlock()
	fw := c.frameWriter()
	err := fw.WriteFrame(layers.Header{Fin: true, Opcode: f.op}, f.p[:f.n])
	putFrameWriter(fw)
	c.mu.Lock()
	return c.afterWriteLocked(err)
}

// writeCloseLocked writes our close frame.
func (c *Conn) writeCloseLocked() error {
	f := c.closeFrame
	c.mu.Unlock()
	fw := c.frameWriter()
	err := fw.WriteFrame(layers.Header{Fin: true, Opcode: layers.OpClose}, f.p[:f.n])
	putFrameWriter(fw)
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
func (c *Conn) writeOneLocked() error {
	f := c.popDataLocked()
	c.mu.Unlock()
	err := c.writeData(&f)
	c.mu.Lock()
	return c.afterWriteLocked(err)
}

// writeBatchLocked coalesces the queued data frames into one writev.
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
	if bw, ok := c.sink().(layers.BuffersWriter); ok {
		_, err = bw.WriteBuffers(b.vec)
	} else {
		b.bufs = b.vec
		_, err = b.bufs.WriteTo(c.netConn())
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

// frameWriters holds FrameWriters, each with room for a header and a
// control payload, between writes: a connection keeps none, idle or not.
var frameWriters sync.Pool

// frameWriter returns a FrameWriter from the pool writing to c, for a
// control frame or an unbuffered data frame; putFrameWriter gives it back
// once the frame is written. (Not one call that writes too: its frame
// would sit under the write, past the reader goroutine's stack budget.)
// Only the goroutine holding c.writing calls it.
func (c *Conn) frameWriter() *layers.FrameWriter {
	fw, _ := frameWriters.Get().(*layers.FrameWriter)
	if fw == nil {
		fw = layers.NewFrameWriter(nil, c.role, make([]byte, layers.MaxHeaderSize+layers.MaxControlPayload))
	}
	fw.Reset(c.sink(), c.role, nil)
	return fw
}

// putFrameWriter gives fw back to the pool.
func putFrameWriter(fw *layers.FrameWriter) {
	fw.Reset(nil, 0, nil) // hold on to no connection
	frameWriters.Put(fw)
}

// sink is where the writer side writes: on a Linux TCP or Unix socket a
// writer of raw system calls (see sockio.Socket.Writer), else the
// connection itself. Only the goroutine holding c.writing calls it.
func (c *Conn) sink() io.Writer {
	if w := c.cr.Writer(); w != nil {
		return w
	}
	return c.netConn()
}

// writeData writes a data frame and completes it.
func (c *Conn) writeData(f *outFrame) error {
	var err error
	if f.direct {
		fw := c.frameWriter()
		err = fw.WriteFrame(f.h, f.data)
		putFrameWriter(fw)
	} else {
		_, err = c.sink().Write(f.data)
	}
	c.release(f)
	return err
}

// release returns a written or dropped frame's buffer to its pool.
func (c *Conn) release(f *outFrame) {
	if f.buf != nil {
		bufpool.For(cap(*f.buf)).Put(f.buf)
		f.buf = nil
	}
}
