package pipeline

import (
	"context"
	"encoding/binary"
	"io"
	"time"

	"github.com/wspipe/wspipe/layers"
)

// startClose queues our close frame once. An urgent close (a failure) goes
// ahead of queued data, and moves a close already queued behind data ahead
// of it; a requested one goes after the data.
func (c *Conn) startClose(code CloseCode, reason string, urgent bool) {
	c.beginClose(code, reason, urgent, false)
}

// beginClose is startClose. With here set, when no writer runs, it
// takes the writing role and reports write: the caller then writes the
// queue and the close frame itself (writeClose) instead of a writer
// goroutine being started for them; the reader goroutine does this once
// it has nothing left to read.
func (c *Conn) beginClose(code CloseCode, reason string, urgent, here bool) (write bool) {
	c.mu.Lock()
	if c.closeFrame == nil && c.writeErr == nil {
		f := &ctrlFrame{op: layers.OpClose}
		f.n = uint8(len(layers.AppendClose(f.p[:0], code, reason)))
		c.closeFrame, c.closeUrgent = f, urgent
		if here && !c.writing {
			c.writing, write = true, true
		} else {
			c.kickLocked()
		}
		// Whatever happens to the handshake, the connection ends: the
		// close frame may be stuck behind a peer that does not read.
		c.armCloseTimer()
	} else if urgent && c.closeFrame != nil && !c.closeSent {
		// A failure overtakes a close queued behind data (by Close, say):
		// the frame queued goes ahead of the data now.
		c.closeUrgent = true
		c.kickLocked()
	}
	c.mu.Unlock()
	return write
}

// armCloseTimer ends the connection if closing has not finished within
// twice CloseTimeout. c.mu is held.
func (c *Conn) armCloseTimer() {
	c.closeTimer = time.AfterFunc(2*c.opts.CloseTimeout, c.teardown)
}

// writeClose writes the queue and the close frame from the calling
// goroutine, which beginClose gave the writing role, bounded as the wait
// for a writer goroutine would be; a failed write tears the connection
// down itself.
func (c *Conn) writeClose() {
	c.netConn().SetWriteDeadline(time.Now().Add(c.opts.CloseTimeout))
	c.writeLoop()
}

// failGrace is how long a failing connection (a send queue overflow, a
// heartbeat timeout) gives its close frame to reach the socket before the
// connection is torn down. Such a peer is not reading, so there is no
// waiting for its answer (RFC 6455 section 7.1.7: fail, then close).
const failGrace = 100 * time.Millisecond

// fail fails the connection: it records cause as why it ends, sends a
// close frame with code ahead of queued data, bounded by failGrace, and
// tears the connection down as soon as that frame is written or cannot be.
// Its reader, OnClose and Wait end within failGrace, not when the peer
// next reads.
func (c *Conn) fail(code CloseCode, reason string, cause error) {
	c.endWith(&CloseError{Code: code, Reason: reason, Err: cause})
	c.mu.Lock()
	c.failing = true
	// A writer blocked on a peer that does not read gives up; so does the
	// close frame's own write.
	c.netConn().SetWriteDeadline(time.Now().Add(failGrace))
	if c.closeSent || c.writeErr != nil {
		c.mu.Unlock()
		go c.teardown()
		return
	}
	c.mu.Unlock()
	c.startClose(code, reason, true)
}

// Close runs the closing handshake: it sends a close frame with code and
// reason after any queued data, waits up to CloseTimeout for the peer's
// close, and closes the TCP connection (a server at once, a client after
// the server has). Data messages that arrive meanwhile are dropped; to
// receive them, use CloseSend instead. CloseNoStatus sends a close frame
// without a code; a code that may not be sent (CloseAbnormal,
// CloseTLSHandshake, or outside 1000-4999's assigned ranges) is sent as
// CloseNormal. From then on the connection's calls report a *CloseError
// with this code and reason (Remote false), unless it had already ended
// otherwise. Close returns nil, or that earlier *CloseError if the
// connection had already ended. Called while OnMessage runs (from the
// handler, typically), Close returns once the close frame is queued: the
// reader goroutine, which is the handler's, completes the handshake after
// the handler returns.
func (c *Conn) Close(code CloseCode, reason string) error {
	if err := c.requestClose(code, reason, true); err != nil {
		return err
	}
	if c.held.Load() == heldHandler {
		// Called while OnMessage runs, from it most likely: the reader
		// goroutine, which would finish the handshake, is the caller.
		// It finishes it once the handler returns (bounded by twice
		// CloseTimeout, as CloseSend is).
		return nil
	}
	t := time.NewTimer(c.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-c.readDone.C():
	case <-c.dead.C():
	case <-t.C:
	}
	c.teardown()
	return nil
}

// CloseNow ends the connection at once, without a closing handshake (as
// coder/websocket's CloseNow does): the socket is closed, pending calls
// return, and the connection's *CloseError is CloseAbnormal (no close
// frame) with ErrClosedNow as its cause, unless it had ended before. For a
// clean end use Close.
func (c *Conn) CloseNow() error {
	if c.dead.fired() {
		return c.closeError(ErrClosed)
	}
	c.endWith(&CloseError{Code: CloseAbnormal, Err: ErrClosedNow})
	c.teardown()
	return nil
}

// CloseSend starts the closing handshake without waiting: it sends a close
// frame with code and reason (as Close does) after any queued data, after
// which nothing more can be written, but reading goes on: messages the
// peer sent before its close are still delivered, then NextReader returns
// the peer's *CloseError and the connection ends. This is how to finish a
// conversation without losing replies in flight. The connection is torn
// down if the peer has not closed within twice CloseTimeout. As with
// Close, the connection's end is ours: the reads after the last message
// report our *CloseError, not the peer's answer.
func (c *Conn) CloseSend(code CloseCode, reason string) error {
	return c.requestClose(code, reason, false)
}

// requestClose queues the application's close frame; drop makes the
// reader drop data still arriving.
func (c *Conn) requestClose(code CloseCode, reason string, drop bool) error {
	if c.dead.fired() {
		return c.closeError(ErrClosed)
	}
	if !code.ValidOnWire() && code != layers.CloseNoStatus {
		code = CloseNormal
	}
	reason = layers.CloseReason(code, reason) // what the frame carries
	c.endWith(&CloseError{Code: code, Reason: reason})
	if drop {
		c.dropping.fire()
	}
	c.startClose(code, reason, false)
	return nil
}

type pingWaiter struct {
	id uint64
	ch chan time.Time
}

// pingWaiters are the Ping calls waiting for their pong, and the last
// ping's id; made by a connection's first Ping.
type pingWaiters struct {
	seq uint64
	w   []pingWaiter
}

// Ping sends a ping and waits for the matching pong (or ctx to end), and
// returns the round-trip time.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	if c.pings == nil {
		c.pings = new(pingWaiters)
	}
	c.pings.seq++
	id := c.pings.seq
	c.pings.w = append(c.pings.w, pingWaiter{id: id, ch: ch})
	c.mu.Unlock()
	defer c.forgetPing(id)
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], id)
	start := time.Now()
	c.queueControl(layers.OpPing, p[:])
	select {
	case at := <-ch:
		return at.Sub(start), nil
	case <-c.dead.C():
		return 0, c.closeError(ErrClosed)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *Conn) forgetPing(id uint64) {
	c.mu.Lock()
	for i, w := range c.pings.w {
		if w.id == id {
			c.pings.w = append(c.pings.w[:i], c.pings.w[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
}

// gotPong wakes the Ping waiting for this payload and feeds the heartbeat.
func (c *Conn) gotPong(payload []byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hbWaiting {
		c.hbWaiting = false
		beats.set(c, c.opts.PingInterval)
	}
	if len(payload) != 8 {
		return
	}
	if c.pings == nil {
		return
	}
	id := binary.BigEndian.Uint64(payload)
	for _, w := range c.pings.w {
		if w.id == id {
			w.ch <- now
			return
		}
	}
}

// heartbeat runs when the heartbeat is due (beats' tick): it pings, and
// fails the connection (1008, "ping timeout") if the peer did not answer
// the previous ping in time. While the application holds a message, or
// does not take the next one, nothing reads the socket, so a pong may be
// waiting unread: the peer is given PongTimeout again instead.
func (c *Conn) heartbeat() {
	c.mu.Lock()
	if c.writeErr != nil || c.closeFrame != nil || c.hbIndex.Load() != 0 {
		// Ended, closing, stopped (-1), or a pong set a new time since
		// the tick took the heartbeat out of the queue (> 0).
		c.mu.Unlock()
		return
	}
	if c.hbWaiting {
		if c.held.Load() != heldNone {
			beats.set(c, c.opts.PongTimeout)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.fail(ClosePolicyViolation, "ping timeout", ErrPeerTimeout)
		return
	}
	c.hbWaiting = true
	beats.set(c, c.opts.PongTimeout)
	c.mu.Unlock()
	c.queueControl(layers.OpPing, nil)
}

// CloseRead is for a connection whose application only writes, as
// coder/websocket's CloseRead is: it starts a goroutine that reads and
// discards data messages, which keeps answering pings, feeding the
// heartbeat with pongs and running the closing handshake when the peer
// closes. It returns a context that is cancelled, with the connection's
// *CloseError as its context.Cause, when the connection ends (or when ctx
// ends, which also stops the discarding). After CloseRead the application
// must not read (NextReader, ReadMessage). In push mode (Options.OnMessage)
// the reader goroutine reads already, and CloseRead only returns the
// context.
func (c *Conn) CloseRead(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	if c.opts.OnMessage != nil {
		stop := context.AfterFunc(c.Context(), func() { cancel(c.Err()) })
		context.AfterFunc(ctx, func() { stop() })
		return ctx
	}
	go func() {
		for {
			_, r, err := c.NextReader(ctx)
			if err != nil {
				if ce := c.Err(); ce != nil {
					err = ce
				}
				cancel(err)
				return
			}
			io.Copy(io.Discard, r) // a failure shows at the next NextReader
		}
	}()
	return ctx
}
