package pipeline

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wspipe/wspipe/layers"
)

// Conn is a WebSocket connection over a raw stream. Writes are safe from
// many goroutines; reads (NextReader, ReadMessage) must come from one
// goroutine at a time.
type Conn struct {
	raw  net.Conn
	opts Options

	subprotocol string
	layers      []Layer
	pmd         *deflateState // permessage-deflate, if negotiated

	g errgroup.Group

	// Read side: owned by the reader goroutine, and by the user between
	// receiving a message from next and handing it back.
	cr       connReader
	fr       layers.FrameReader
	mr       layers.MessageReader
	ur       layers.UTF8Reader
	in       msgReader
	next     chan event    // reader goroutine -> NextReader
	handback chan struct{} // message finished -> reader goroutine
	readDone latch         // fires when the reader goroutine ends
	readErr  error         // why reading ended; set before readDone fires

	// Write side, guarded by mu.
	mu           sync.Mutex
	fw           layers.FrameWriter // used by whoever holds writing
	ctrlQ        []ctrlFrame
	dataQ        []outFrame
	dataHead     int
	room         chan struct{} // closed when the queue drains a frame, if someone waits
	closeFrame   *ctrlFrame    // our close frame, once queued
	writeErr     error         // the write side failed or closed
	pings        []pingWaiter  // Ping calls waiting for their pong
	peerCloseErr *CloseError
	cause        error // why the connection was torn down
	pingSeq      uint64
	hbTimer      *time.Timer
	closeTimer   *time.Timer // ends the connection if closing stalls
	role         layers.Role // set once, with the bools to pack the struct
	writing      bool        // a goroutine is writing to the socket
	closeUrgent  bool        // the close goes ahead of queued data
	closeSent    bool        // the close frame is on the wire
	hbWaiting    bool
	cutWrite     bool // a direct write was cut short by its context
	corked       bool // data frames wait in the queue (see cork)
	inPump       bool // the reader goroutine is inside the fast path

	batch *writeBatch // the writer's scratch for writev, made on first use

	msgTok     atomic.Pointer[chan struct{}] // one outgoing message at a time (see tok)
	mw         messageWriter
	dropping   latch // fired by Close: drop data still arriving
	closeWrote latch // fires once our close frame is written
	dead       latch // fires when the connection is torn down
	deadOnce   sync.Once
}

// NewConn starts a WebSocket connection on raw, after a completed
// handshake, for role. buffered holds bytes read past the handshake (the
// start of the frame stream); opts may be nil.
func NewConn(raw net.Conn, buffered []byte, role layers.Role, opts *Options) *Conn {
	return newConn(raw, buffered, role, opts, nil)
}

// newConn is NewConn with permessage-deflate state, set before the reader
// goroutine starts.
func newConn(raw net.Conn, buffered []byte, role layers.Role, opts *Options, pmd *deflateState) *Conn {
	c := &Conn{
		pmd:  pmd,
		raw:  raw,
		role: role,
	}
	c.opts.setDefaults(opts)
	c.cr.init(raw, buffered, c.opts.ReadBufferSize)
	c.fr.Reset(&c.cr, role)
	if c.opts.MaxFrameSize > 0 {
		c.fr.MaxFrameSize = c.opts.MaxFrameSize
	}
	c.mr.Reset(&c.fr)
	c.mr.OnControl = c.onControl
	if c.opts.MaxMessageSize > 0 {
		c.mr.MaxMessageSize = c.opts.MaxMessageSize
	}
	if pmd != nil {
		c.fr.MessageRSV = layers.RSV1
		if c.opts.MaxMessageSize > 0 {
			// Exact limits apply per message in beginMessage.
			c.mr.MaxMessageSize = wireLimit(c.opts.MaxMessageSize)
		}
	}
	c.in.c = c
	if c.opts.Layers != nil {
		c.layers = c.opts.Layers()
	}
	c.mw.c = c
	if c.opts.OnMessage == nil {
		// Pull mode: messages are handed to NextReader.
		c.next = make(chan event)
		c.handback = make(chan struct{}, 1)
	}
	// A goroutine of the group that fails tears the connection down, which
	// closes the socket and so unblocks every pending read and write.
	c.g.Go(c.readLoop)
	if c.opts.PingInterval > 0 {
		c.mu.Lock() // the timer may fire before the assignment is seen
		c.hbTimer = time.AfterFunc(c.opts.PingInterval, c.heartbeat)
		c.mu.Unlock()
	}
	return c
}

// UnderlyingConn returns the raw stream under the WebSocket (the TCP or
// TLS connection, as gorilla/websocket names it). Reading or writing it
// directly corrupts the WebSocket stream; it is for addresses, TLS state
// and socket options. For a net.Conn that carries messages, see NetConn.
func (c *Conn) UnderlyingConn() net.Conn { return c.raw }

// Wait blocks until the connection's goroutines have ended and returns the
// first error one of them returned.
func (c *Conn) Wait() error { return c.g.Wait() }

// Done is closed when the connection is torn down.
func (c *Conn) Done() <-chan struct{} { return c.dead.C() }

// Err returns nil until the connection is torn down, and after that (once
// Done is closed) why: the peer's *CloseError if it sent a close frame,
// else the reason the connection ended (ErrClosed after a Close). Unlike a
// select on Done, it makes no channel, so it is the cheap check.
func (c *Conn) Err() error {
	if !c.dead.fired() {
		return nil
	}
	return c.deadCause()
}

// teardown closes the TCP connection and wakes everything waiting on it.
func (c *Conn) teardown() { c.teardownWith(ErrClosed) }

// teardownWith is teardown recording why, for reads that end because of it.
func (c *Conn) teardownWith(cause error) {
	c.deadOnce.Do(func() {
		c.mu.Lock()
		c.cause = cause
		if c.writeErr == nil {
			c.writeErr = ErrClosed
		}
		if !c.writing {
			c.dropQueuedLocked()
		}
		if c.hbTimer != nil {
			c.hbTimer.Stop()
		}
		if c.closeTimer != nil {
			c.closeTimer.Stop()
		}
		inPump := c.inPump
		c.mu.Unlock()
		c.dead.fire()
		if inPump {
			// The reader goroutine holds the socket inside its read
			// callback, where Close would wait for it (or, called from
			// it, forever); Close wakes it, and finishes once it leaves.
			go c.raw.Close()
			return
		}
		c.raw.Close()
	})
}

// tok returns the one-slot channel whose token a message writer holds, made
// on first use so that a connection that never writes keeps none.
func (c *Conn) tok() chan struct{} { return *lazyChan(&c.msgTok, 1) }
