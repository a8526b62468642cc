package pipeline

import (
	"context"
	"io"

	"github.com/wspipe/wspipe/layers"
)

// msgReader is the io.Reader NextReader hands out for one message.
type msgReader struct {
	c      *Conn
	r      io.Reader
	active bool
	err    error // a failure that ends the connection
}

// Read reads the message. At its end, or on an error, the message goes
// back to the reader goroutine.
func (m *msgReader) Read(p []byte) (int, error) { return m.read(p, false) }

// readFull reads the message into p until p is full (nil) or the message
// ends (io.EOF, perhaps with p full too), telling the reads beneath that
// it wants every byte it asks for (connReader.whole).
func (m *msgReader) readFull(p []byte) (int, error) { return m.read(p, true) }

// read is Read, or readFull if whole is set.
func (m *msgReader) read(p []byte, whole bool) (n int, err error) {
	if !m.active {
		return 0, m.endErr()
	}
	// Inside a read the socket is read, pongs included: the heartbeat
	// judges the peer again (a peer stalled mid-message is dropped), and
	// stops once the read returns with the message still held. Only the
	// heartbeat looks, so without one the flag is left alone.
	hb := m.c.opts.PingInterval > 0
	var held uint32
	if hb {
		held = m.c.held.Swap(heldNone)
	}
	if whole {
		m.c.cr.whole = true
		n, err = readInto(m.r, p)
		// Cleared before finish hands the connection back to the reader
		// goroutine, which reads cr next.
		m.c.cr.whole = false
	} else {
		n, err = m.r.Read(p)
	}
	if err != nil {
		m.finish(err)
		if m.err != nil {
			return n, m.c.userError(m.err)
		}
	}
	if hb && m.active {
		m.c.held.Store(held)
	}
	return n, err
}

// endErr is what a read of a message that has ended returns.
func (m *msgReader) endErr() error {
	if m.err != nil {
		return m.c.userError(m.err)
	}
	return io.EOF
}

// Fill reads r into p until p is full or r ends. Unlike io.ReadFull, the
// end of r is no error but the expected way for a message to stop: Fill
// returns the bytes read and io.EOF if r ended (which may happen with p
// full too), nil if p is full and r may have more, or the error that
// stopped the read.
//
// When r is the reader of a message from a Conn (NextReader, OnMessage), it
// also lets the Conn wait for data in bigger pieces: on Linux TCP, a read
// of a large frame asks the kernel (SO_RCVLOWAT) not to wake the reader
// until what p still needs of the frame, up to 1 MiB, has arrived, where a
// plain Read returns whatever is there. A large message then costs a few
// wakeups and reads instead of one for each piece the network delivers. It
// never waits for more than the frame still holds, which the peer must
// send anyway.
func Fill(r io.Reader, p []byte) (n int, err error) {
	if m, ok := r.(*msgReader); ok {
		return m.readFull(p)
	}
	return readInto(r, p)
}

// readInto reads r into p until p is full or a read fails (io.EOF included).
func readInto(r io.Reader, p []byte) (n int, err error) {
	for n < len(p) && err == nil {
		var k int
		k, err = r.Read(p[n:])
		n += k
	}
	return n, err
}

func (m *msgReader) finish(err error) {
	m.active = false
	if err != io.EOF {
		m.err = err
		// Queue the close now, before the application sees the error and
		// perhaps closes with a code of its own.
		m.c.closeFor(err, false)
	}
	if m.c.opts.OnMessage != nil {
		return // push mode: the reader goroutine is the one reading
	}
	select {
	case m.c.pull.handback <- struct{}{}:
	default: // the reader goroutine has ended
	}
}

// NextReader waits for the next data message and returns its type and a
// reader for its payload, valid until the next call. A message not read to
// its end is skipped by the next call. If ctx ends first, NextReader
// returns ctx.Err() and the connection stays usable: the message is
// delivered by a later call. Once the connection has ended it returns its
// *CloseError (see CloseError for what it says), which matches ErrClosed
// and, after the peer's bad input, ErrProtocol, ErrInvalidUTF8 or ErrTooBig.
func (c *Conn) NextReader(ctx context.Context) (MessageType, io.Reader, error) {
	if c.opts.OnMessage != nil {
		return 0, nil, ErrPushMode
	}
	if c.in.active {
		if _, err := io.Copy(io.Discard, &c.in); err != nil {
			return 0, nil, err
		}
	}
	if c.in.err != nil {
		return 0, nil, c.userError(c.in.err)
	}
	var ev event
	select {
	case ev = <-c.pull.next:
	case <-c.readDone.C():
		return 0, nil, c.closeError(ErrClosed)
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	if ev.err != nil {
		c.closeFor(ev.err, false)
		return 0, nil, c.userError(ev.err)
	}
	c.beginMessage(ev.op)
	return MessageType(ev.op), &c.in, nil
}

// MessageLen returns the length of the message being read, the one the
// last NextReader or the running OnMessage handed out, when its first
// frame tells it: the message is a single frame, not compressed, and no
// custom Layer stands between the frame and the reader. Otherwise, and
// once the message has been read to its end, it returns -1. An application
// can size its buffer from it instead of finding the end by reading.
func (c *Conn) MessageLen() int64 {
	if !c.in.active {
		// The reader goroutine may be reading the next header already.
		return -1
	}
	h := c.rs.mr.Header()
	if !h.Fin || h.Rsv != 0 || len(c.userLayers()) > 0 {
		return -1
	}
	return h.Length
}

// beginMessage arms the read chain for a message of type op.
func (c *Conn) beginMessage(op layers.Opcode) {
	var r io.Reader = &c.rs.mr
	if d := c.pmd; d != nil {
		if c.rs.mr.Header().Rsv&layers.RSV1 != 0 {
			d.inf.Reset(r, d.readWin)
			r = &d.inf
		}
		// The limit counts the message's bytes as the application sees
		// them: a small frame cannot inflate past it (RFC 7692 bombs).
		if max := c.maxMsg.Load(); max > 0 {
			d.lim.Reset(r, max)
			r = &d.lim
		}
	}
	if op == layers.OpText {
		c.rs.ur.Reset(r)
		r = &c.rs.ur
	}
	for _, l := range c.userLayers() {
		r = l.WrapReader(MessageType(op), r)
	}
	c.in.r, c.in.active = r, true
}

// ReadMessage reads the next whole message into buf, growing it as needed
// up to MaxMessageSize, and returns the message type and the filled slice
// (which aliases buf when it fits).
func (c *Conn) ReadMessage(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	typ, _, err := c.NextReader(ctx) // the reader is &c.in
	if err != nil {
		return 0, buf[:0], err
	}
	m := &c.in
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := m.readFull(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return typ, buf, nil
		}
		if err != nil {
			return typ, buf, err
		}
	}
}
