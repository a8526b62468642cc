package pipeline

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wspipe/wspipe/layers"
)

// errPeerClose stops the reader when the peer's close frame arrives.
var errPeerClose = errors.New("websocket: peer sent close")

// event is what the reader goroutine hands to NextReader: a data message
// of type op, or the error that ended reading.
type event struct {
	op  layers.Opcode
	err error
}

// readLoop is the reader goroutine. It reads frame headers, has control
// frames handled, and hands each data message to NextReader, waiting until
// the application has finished with it.
func (c *Conn) readLoop() error {
	// No defer for the end: it would add to this frame, which is under
	// everything the reader goroutine does. (A panic in OnMessage ends the
	// program anyway: the errgroup does not recover it.)
	if c.rs == nil {
		c.attachRead() // a new connection, or its socket was parked (see park)
	}
	fast := c.opts.OnMessage != nil && c.cr.Raw()
	for {
		if fast {
			if err := c.pump(); err != nil {
				if err == errRespawn {
					// Idle: the socket waits in the idle poller with no
					// goroutine, or a fresh reader goroutine goes on.
					handovers.Add(1)
					c.shedWriteRoom()
					if !c.park() {
						c.respawn()
					}
					return nil
				}
				return c.readEnded(c.endRead(err))
			}
		}
		if stop, err := c.readOne(); stop {
			return c.readEnded(err)
		}
	}
}

// readEnded finishes the reader goroutine, whose result is err: readDone
// fires and OnClose runs.
func (c *Conn) readEnded(err error) error {
	c.cr.Leave()
	c.cr.Forget()
	c.readDone.fire()
	if c.opts.OnClose != nil {
		c.opts.OnClose(c, c.closeError(err))
	}
	return err
}

// park hands the idle socket to the idle poller (sockio.Socket.Park), when
// the poller is on: the reader goroutine then ends, and the poller starts
// another once the socket is readable (pumpHost.Wake). Under c.mu, so
// that teardown, which takes the socket back (unpark), cannot miss it.
func (c *Conn) park() bool {
	max := maxIdleReaders()
	if max < 0 || !c.cr.ParkOK() {
		return false
	}
	// The reader's state goes first: once parked, the socket may wake
	// and another reader take one at once. A reader that goes on instead
	// takes one back at its start.
	c.detachRead()
	if !c.cr.Park(max) {
		return false
	}
	// Teardown unparks after it marks the connection dead: if it did so
	// before the Park above, the socket is taken back here.
	if c.dead.fired() && c.cr.Unpark() {
		return false // this reader goes on, and meets the end
	}
	return true
}

// shedWriteRoom lets the write side's scratch go when the connection has
// idled (the reader's idle kick): the control queue's room, which its
// first ping or pong made, the data queue's and the writer's batch, if no
// write is under way or queued. An idle connection then keeps what one
// that only shook hands keeps, whatever it did before; a busy one keeps
// its room, so its pings and pongs, a flood included, allocate nothing.
// Out of line for the reader's stack budget.
//
//go:noinline
func (c *Conn) shedWriteRoom() {
	c.mu.Lock()
	if !c.writing && len(c.ctrlQ) == 0 && c.dataHead == len(c.dataQ) {
		c.ctrlQ, c.dataQ, c.dataHead, c.batch = nil, nil, 0, nil
	}
	c.mu.Unlock()
}

// respawn starts a fresh reader goroutine to take over from this one.
func (c *Conn) respawn() { c.g.Go(c.readLoop) }

// handovers counts reader goroutines that ended for idleness, replaced by
// a fresh one or by the idle poller, for tests.
var handovers atomic.Int64

// readOne reads a message on the ordinary path and delivers it; stop
// reports that reading is over, with readLoop's result. It is a call of
// its own so that readLoop's frame, under everything the fast path does,
// stays small (a fresh reader goroutine has a 2 KiB stack).
func (c *Conn) readOne() (stop bool, err error) {
	c.cr.wait()
	c.syncLimit()
	op, err := c.rs.mr.Next()
	if err != nil {
		c.deliverEnd(err)
		return true, c.endRead(err)
	}
	if c.dropping.fired() {
		return false, nil // Close has started: data is read and dropped
	}
	if c.opts.OnMessage != nil {
		if err := c.pushCorked(op); err != nil {
			return true, c.endRead(err)
		}
		return false, nil
	}
	return c.handOver(op)
}

// handOver hands a data message to NextReader and waits until the
// application has finished with it; stop reports that reading is over,
// with readLoop's result.
func (c *Conn) handOver(op layers.Opcode) (stop bool, err error) {
	c.held.Store(heldPull) // the socket is the application's to read now
	select {
	case c.pull.next <- event{op: op}:
	case <-c.dropping.C():
		c.held.Store(heldNone)
		return false, nil
	case <-c.dead.C():
		return true, nil
	}
	select {
	case <-c.pull.handback:
	case <-c.dead.C():
		return true, nil
	}
	c.held.Store(heldNone)
	if c.in.err != nil {
		// The application's read failed; the connection is failing.
		return true, c.endRead(c.in.err)
	}
	return false, nil
}

// deliverEnd hands a peer's close or bad input that came between messages
// to NextReader, so it is acted on in order: after the application has
// dealt with the messages before it (an echo of the last message goes out
// before the close). An application that is not reading does not hold the
// close up for longer than CloseTimeout.
func (c *Conn) deliverEnd(err error) {
	if c.opts.OnMessage != nil || !errors.Is(err, errPeerClose) && !isInputError(err) {
		return
	}
	t := time.NewTimer(c.opts.CloseTimeout)
	defer t.Stop()
	select {
	case c.pull.next <- event{err: err}:
	case <-c.dropping.C():
	case <-c.dead.C():
	case <-t.C:
	}
}

// closeFor starts the closing handshake that err calls for: the peer's
// code echoed after its close frame, or a failure code after bad input.
// With here set (the reader goroutine, done reading) it reports, as
// beginClose does, that the caller is to write the close frame itself.
func (c *Conn) closeFor(err error, here bool) (write bool) {
	switch {
	case errors.Is(err, errPeerClose):
		return c.beginClose(c.peerClosed(), "", false, here)
	case c.fails(err):
		// Behind queued data: replies to the messages before the bad
		// input still go out first.
		code := CloseInternalError // a custom layer's own failure
		if isInputError(err) {
			code = layers.CloseCodeFor(err)
		}
		c.endWith(&CloseError{Code: code, Err: err})
		return c.beginClose(code, "", false, here)
	}
	return false
}

// peerClosed records the peer's close as how the connection ends, unless
// something ended it first, and returns the code to echo. The close
// frame's payload, validated by onControl, is the last control frame the
// message reader read: reading stopped there.
func (c *Conn) peerClosed() CloseCode {
	code, reason, _ := layers.ParseClose(c.rs.mr.LastControl())
	if c.closeErr.Load() == nil {
		c.endWith(&CloseError{Code: code, Reason: string(reason), Remote: true})
	}
	return code
}

// endRead finishes the reader goroutine after err stopped it.
func (c *Conn) endRead(err error) error {
	c.uncork() // replies held back go out before any close
	switch {
	case errors.Is(err, errPeerClose):
		if c.closeFor(err, true) {
			c.writeClose()
		}
		// Our answer (or our own close) must reach the wire first.
		c.waitCloseWritten()
		if c.role == layers.RoleClient {
			// The server closes TCP first; wait for it, briefly.
			c.drain()
		}
		c.teardown()
		return nil
	case c.fails(err):
		if c.closeFor(err, true) {
			c.writeClose()
		}
		c.waitCloseWritten()
		c.halfCloseAndDrain()
		c.teardown()
		return nil
	}
	if c.dead.fired() {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the peer left without a close frame
	}
	c.closeError(err) // 1006, unless the end began before
	c.teardown()
	return err
}

// waitCloseWritten waits, within CloseTimeout, for our close frame to be on the wire.
func (c *Conn) waitCloseWritten() {
	t := time.NewTimer(c.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-c.closeWrote.C():
	case <-c.dead.C():
	case <-t.C:
	}
}

// halfCloseAndDrain sends FIN after a failing close frame, then reads and
// drops what the peer still sends until it closes, so unread data does not
// turn our close into a reset that could lose the close frame.
//
// A stream that cannot half-close, whose CloseWrite says
// errors.ErrUnsupported (the server's end of an HTTP/2 stream, which
// ends only with its handler), is not drained: ending it loses nothing
// already sent, and the peer waits for its end.
func (c *Conn) halfCloseAndDrain() {
	if cw, ok := c.netConn().(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); errors.Is(err, errors.ErrUnsupported) {
			return
		}
	}
	c.drain()
}

// drain reads until EOF, an error or CloseTimeout.
func (c *Conn) drain() {
	c.netConn().SetReadDeadline(time.Now().Add(c.opts.CloseTimeout))
	var buf [512]byte
	for {
		if _, err := c.cr.Read(buf[:]); err != nil {
			return
		}
	}
}

// onControl handles control frames for the MessageReader, in whichever
// goroutine is reading.
func (c *Conn) onControl(h layers.Header, payload []byte) error {
	switch h.Opcode {
	case layers.OpPing:
		c.queueControl(layers.OpPong, payload)
	case layers.OpPong:
		c.gotPong(payload)
	case layers.OpClose:
		if _, _, err := layers.ParseClose(payload); err != nil {
			return err
		}
		// The close is recorded, and the reply goes out, once the
		// application has seen it (closeFor): the reply follows whatever
		// it still sends in answer to earlier messages, and the record's
		// allocation is made off the read path's deepest point.
		return errPeerClose
	}
	return nil
}

// pushCorked is push, holding replies back while the next message has
// already arrived (see cork).
func (c *Conn) pushCorked(op layers.Opcode) error {
	if c.cr.holdsMore(c.rs.fr.Remaining()) {
		c.cork() // the next message is here already
	}
	err := c.push(op)
	if !c.cr.holdsMore(0) {
		c.uncork()
	}
	return err
}

// push hands a message to OnMessage in the reader goroutine. It returns
// the error that ends reading, if any.
func (c *Conn) push(op layers.Opcode) error {
	c.beginMessage(op)
	c.held.Store(heldHandler) // the socket is the handler's to read now
	herr := c.opts.OnMessage(c, MessageType(op), &c.in)
	c.held.Store(heldNone)
	if c.in.active {
		io.Copy(io.Discard, &c.in) // skip what the handler left
	}
	if c.in.err != nil {
		return c.in.err
	}
	if herr != nil {
		c.handlerFailed(herr)
	}
	return nil
}

// handlerFailed closes the connection after OnMessage returned err.
func (c *Conn) handlerFailed(err error) {
	c.endWith(&CloseError{Code: CloseInternalError, Err: err})
	c.startClose(CloseInternalError, "", false)
}

// SetReadLimit sets MaxMessageSize: messages the reader starts after the
// call may have at most n payload bytes (after decompression); n <= 0
// means no limit. It is safe from any goroutine. A message that began
// arriving before the call may be held to the limit before it.
func (c *Conn) SetReadLimit(n int64) {
	if n <= 0 {
		n = -1
	}
	c.maxMsg.Store(n)
}

// syncLimit applies the message limit SetReadLimit may have changed to the
// frames about to be read. Only the reading goroutine calls it.
func (c *Conn) syncLimit() {
	max := c.maxMsg.Load()
	if max <= 0 {
		max = 0 // layers.MessageReader: no limit
	} else if c.pmd != nil {
		max = wireLimit(max) // exact limits apply in beginMessage
	}
	c.rs.mr.MaxMessageSize = max
}

// userError turns a read error that ends the connection (the peer's
// close, bad input, a failed transport, a custom layer's failure) into the
// *CloseError the user sees.
func (c *Conn) userError(err error) error {
	return c.closeError(err)
}

// fails reports whether a read error is ours to answer with a close frame
// of our own: the peer's bad input, or the failure of a custom Layer (one
// that is neither the peer's close nor the transport's failure), which
// closes with 1011.
func (c *Conn) fails(err error) bool {
	if isInputError(err) {
		return true
	}
	return len(c.userLayers()) > 0 && !errors.Is(err, errPeerClose) && !isTransportError(err)
}

// isTransportError reports whether err comes from the stream under the
// frames: it ended, failed, was closed or timed out.
func isTransportError(err error) bool {
	var ne net.Error
	var errno syscall.Errno
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) || errors.As(err, &errno)
}

// isInputError reports whether err is the peer's bad input, which fails
// the connection with a close code of its own.
func isInputError(err error) bool {
	return errors.Is(err, layers.ErrProtocol) || errors.Is(err, layers.ErrInvalidUTF8) ||
		errors.Is(err, layers.ErrTooBig) || errors.Is(err, layers.ErrInvalidCompressed)
}
