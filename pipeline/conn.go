package pipeline

import (
	"context"
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
	opts *Options // with defaults, shared: never changed (see resolveOptions)
	// maxMsg is the message size limit: Options.MaxMessageSize, then
	// SetReadLimit's.
	maxMsg atomic.Int64

	ext *connExtras   // subprotocol and Layers, if any
	pmd *deflateState // permessage-deflate, if negotiated

	g errgroup.Group

	// Read side: owned by the reader goroutine, and by the user between
	// receiving a message from pull.next and handing it back.
	cr       connReader
	rs       *readState // while a reader goroutine runs (see readState)
	in       msgReader
	pull     *pullChans // pull mode only
	readDone latch      // fires when the reader goroutine ends

	// closeErr is how the connection ended, set once, first cause wins,
	// before any call reports it.
	closeErr atomic.Pointer[CloseError]

	// Write side, guarded by mu.
	mu          sync.Mutex
	ctrlQ       []ctrlFrame
	dataQ       []outFrame
	dataHead    int
	room        chan struct{} // closed when the queue drains a frame, if someone waits
	closeFrame  *ctrlFrame    // our close frame, once queued
	writeErr    error         // the write side failed or closed
	pings       *pingWaiters  // Ping calls waiting for their pong, once there was one
	queued      int           // bytes of the data frames in dataQ
	closeTimer  *time.Timer   // ends the connection if closing stalls
	role        layers.Role   // set once, with the bools to pack the struct
	writing     bool          // a goroutine is writing to the socket
	closeUrgent bool          // the close goes ahead of queued data
	closeSent   bool          // the close frame is on the wire
	hbWaiting   bool
	cutWrite    bool // a direct write was cut short by its context
	corked      bool // data frames wait in the queue (see cork)
	failing     bool // a failure close: tear down once it is written
	// held is set while the application has a message, or the reader
	// goroutine waits for it to take one: reading the socket, pongs
	// included, is up to the application then (see heartbeat). Here, it
	// fits beside the bools.
	held atomic.Uint32 // heldNone, heldPull or heldHandler
	// hbIndex is the heartbeat's place in beats' heap, plus one: 0 when
	// it is not queued, -1 once stopped. Written under beats.mu; beside
	// held, in what would be padding.
	hbIndex atomic.Int32

	batch *writeBatch // the writer's scratch for writev, made on first use

	msgTok     token // one outgoing message at a time
	mw         messageWriter
	dropping   latch // fired by Close: drop data still arriving
	closeWrote latch // fires once our close frame is written
	dead       latch // fires when the connection is torn down
	deadOnce   sync.Once
}

// The states of Conn.held.
const (
	heldNone    = iota
	heldPull    // a message is the application's, or waits for it to take it
	heldHandler // OnMessage runs, on the reader goroutine
)

// NewConn starts a WebSocket connection on raw, after a completed
// handshake, for role. buffered holds bytes read past the handshake (the
// start of the frame stream); opts may be nil. It is the way in for a
// stream that no handshake of this module yielded (a handshake of the
// program's own, a tunnel, net.Pipe in a test): permessage-deflate, which
// the handshake negotiates, is off. After handshake.Server's upgrades use
// NewServerConn or NewRawServerConn, which take the negotiated
// subprotocol and extensions.
func NewConn(raw net.Conn, buffered []byte, role layers.Role, opts *Options) *Conn {
	return newConn(raw, buffered, role, opts, nil, "")
}

// newConn is NewConn with what a handshake negotiated: permessage-deflate
// state and the subprotocol, both set before the reader goroutine starts
// (a handler may ask for the subprotocol).
func newConn(raw net.Conn, buffered []byte, role layers.Role, opts *Options, pmd *deflateState, subprotocol string) *Conn {
	c := prepareConn(raw, buffered, role, opts, pmd)
	c.setSubprotocol(subprotocol)
	c.start()
	return c
}

// prepareConn builds a Conn whose goroutines have not started.
func prepareConn(raw net.Conn, buffered []byte, role layers.Role, opts *Options, pmd *deflateState) *Conn {
	c := &Conn{
		pmd:  pmd,
		role: role,
	}
	c.opts = resolveOptions(opts)
	c.maxMsg.Store(c.opts.MaxMessageSize)
	c.cr.init(raw, buffered, c.opts.ReadBufferSize, c.host())
	// The reader's state comes with the reader goroutine (readLoop): the
	// handshake's goroutine has no stack to spare for the pool.
	c.in.c = c
	if c.opts.Layers != nil {
		c.ext = &connExtras{layers: c.opts.Layers()}
	}
	c.mw.c = c
	if c.opts.OnMessage == nil {
		// Pull mode: messages are handed to NextReader.
		c.pull = &pullChans{next: make(chan event), handback: make(chan struct{}, 1)}
	}
	return c
}

// start starts the reader goroutine and the heartbeat.
func (c *Conn) start() {
	// A goroutine of the group that fails tears the connection down, which
	// closes the socket and so unblocks every pending read and write. In
	// push mode a new connection's reader parks the socket in the idle
	// poller at its first wait when many new connections wait already
	// (sockio's IdleFromStart). (Not from here, the handshake's goroutine:
	// its stack budget has no room.)
	if c.opts.OnMessage != nil && len(c.cr.prefix) == 0 && maxIdleReaders() >= 0 && c.cr.Raw() {
		c.cr.IdleFromStart()
	}
	c.g.Go(c.readLoop)
	if c.opts.PingInterval > 0 {
		c.mu.Lock()
		beats.set(c, c.opts.PingInterval)
		c.mu.Unlock()
	}
}

// netConn is the raw stream, which the reader's socket holds (one copy of
// the interface value, not two).
func (c *Conn) netConn() net.Conn { return c.cr.Conn() }

// UnderlyingConn returns the raw stream under the WebSocket (the TCP or
// TLS connection, as gorilla/websocket names it). Reading or writing it
// directly corrupts the WebSocket stream; it is for addresses, TLS state
// and socket options. For a net.Conn that carries messages, see NetConn.
func (c *Conn) UnderlyingConn() net.Conn { return c.netConn() }

// Wait blocks until the connection has ended and its goroutines with it,
// and returns how it ended: the *CloseError that Err returns, which
// matches ErrClosed even after a normal close (use CloseStatus to tell).
func (c *Conn) Wait() error {
	// The group may be empty while the connection lives (its socket in
	// the idle poller): the reader's end comes first.
	<-c.readDone.C()
	err := c.g.Wait()
	return c.closeError(err)
}

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.netConn().RemoteAddr() }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.netConn().LocalAddr() }

// Context returns a context that is cancelled when the connection is torn
// down, for work done on its behalf: an OnMessage handler's database
// query, say. It costs nothing until used: it is the Conn itself seen as
// a context.Context, whose Err is context.Canceled once Done is closed
// (Conn.Err then says how the connection ended).
func (c *Conn) Context() context.Context { return (*connContext)(c) }

// connContext is a Conn seen as a context.Context.
type connContext Conn

func (x *connContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (x *connContext) Done() <-chan struct{}       { return (*Conn)(x).dead.C() }
func (x *connContext) Value(any) any               { return nil }

func (x *connContext) Err() error {
	if (*Conn)(x).dead.fired() {
		return context.Canceled
	}
	return nil
}

// String names the context, as the context package's own do.
func (x *connContext) String() string { return "pipeline.Conn.Context" }

// Done is closed when the connection is torn down.
func (c *Conn) Done() <-chan struct{} { return c.dead.C() }

// Err returns nil while the connection is open and, as soon as it is
// ending (a close frame sent or received, bad input seen, the transport
// lost), the *CloseError that says how: the same error every other call
// then reports. It is set before any call returns that error. Unlike a
// select on Done, it makes no channel, so it is the cheap check.
func (c *Conn) Err() error {
	if ce := c.closeErr.Load(); ce != nil {
		return ce
	}
	return nil
}

// closeError returns how the connection ended; if nothing has said so
// yet, its end is an abnormal one caused by cause.
func (c *Conn) closeError(cause error) *CloseError {
	if ce := c.closeErr.Load(); ce != nil {
		return ce
	}
	return c.endWith(&CloseError{Code: CloseAbnormal, Err: cause})
}

// endWith records ce as how the connection ends, unless an earlier cause
// has; it returns the one recorded.
func (c *Conn) endWith(ce *CloseError) *CloseError {
	if c.closeErr.CompareAndSwap(nil, ce) {
		return ce
	}
	return c.closeErr.Load()
}

// teardown closes the TCP connection and wakes everything waiting on it.
func (c *Conn) teardown() { c.teardownWith(ErrClosed) }

// teardownWith is teardown with the cause of an abnormal end, if nothing
// has said how the connection ends.
func (c *Conn) teardownWith(cause error) {
	c.deadOnce.Do(func() {
		c.closeError(cause)
		c.mu.Lock()
		if c.writeErr == nil {
			c.writeErr = ErrClosed
		}
		if !c.writing {
			c.dropQueuedLocked()
		}
		if c.opts.PingInterval > 0 {
			beats.stop(c)
		}
		if c.closeTimer != nil {
			c.closeTimer.Stop()
		}
		inPump := c.cr.InPump()
		c.mu.Unlock()
		c.dead.fire()
		if c.cr.Unpark() {
			// No goroutine reads the socket: the idle poller held it. A
			// reader started now meets the closed socket and ends, so
			// OnClose and Wait see the end as with any other.
			c.netConn().Close()
			c.g.Go(c.readLoop)
			return
		}
		if inPump {
			// The reader goroutine holds the socket inside its read
			// callback, where Close would wait for it (or, called from
			// it, forever); Close wakes it, and finishes once it leaves.
			go c.netConn().Close()
			return
		}
		c.netConn().Close()
	})
}

// connExtras is what few connections have, kept out of Conn so that the
// others do not carry its room: the subprotocol the handshake selected
// and the application's Layers.
type connExtras struct {
	subprotocol string
	layers      []Layer
}

// setSubprotocol records the subprotocol the handshake selected, before
// the connection starts.
func (c *Conn) setSubprotocol(p string) {
	if p == "" {
		return
	}
	if c.ext == nil {
		c.ext = new(connExtras)
	}
	c.ext.subprotocol = p
}

// userLayers returns the connection's Layers, outermost last.
func (c *Conn) userLayers() []Layer {
	if c.ext == nil {
		return nil
	}
	return c.ext.layers
}

// pullChans are how the reader goroutine and NextReader hand a message
// over in pull mode (Options.OnMessage nil).
type pullChans struct {
	next     chan event    // reader goroutine -> NextReader
	handback chan struct{} // message finished -> reader goroutine
}
