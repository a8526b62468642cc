package pipeline

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// netConnBufSize is the size of the buffer a NetConn reads messages into.
const netConnBufSize = 32 << 10

// NetConn returns a net.Conn that carries a byte stream over c's
// messages, for tunnelling a stream protocol (HTTP/1.1, SSH, a database's
// wire protocol) through a WebSocket. The net.Conn owns c from then on:
// read and write c only through it. c must not be in push mode
// (Options.OnMessage), where Read fails with ErrPushMode.
//
// Each Write sends p as one message of type typ with WriteMessage (an
// empty Write sends nothing). Text suits only a stream whose every Write
// is valid UTF-8 on its own, since the peer checks each text message;
// Binary suits anything.
//
// Read returns the payloads of incoming messages, text and binary alike,
// one after another: message boundaries are not kept. Each message is
// still bounded by c's read limit (Options.MaxMessageSize, SetReadLimit),
// so a peer that writes larger pieces needs a larger limit, or none. The
// peer's close with CloseNormal or CloseGoingAway is io.EOF, after the
// data sent before it; any other end is returned as c reports it, a
// *CloseError matching ErrClosed.
//
// Close runs the closing handshake with CloseNormal, as Conn.Close does,
// and returns once the connection is down. When ctx ends, the net.Conn is
// closed as by Close. Calls after Close, and calls it interrupts, fail
// with an error matching net.ErrClosed.
//
// Deadlines behave as net.Conn specifies: a Read or Write still waiting
// when its deadline passes fails with a net.Error whose Timeout is true
// and which matches os.ErrDeadlineExceeded, and a deadline can be moved or
// cleared at any time, which affects calls already waiting. Unlike
// coder/websocket's NetConn, which closes the connection when a deadline
// passes, a read deadline never harms the stream (net/http's server, for
// one, sets a past deadline after every request to stop a pending read):
// a goroutine of the net.Conn's own, started by the first Read, reads the
// messages into a buffer and Read waits only for it, so a Read that times
// out, even in the middle of a message, loses nothing. Writes differ: a
// write deadline that passes before the Write's message is handed to c
// (already past, or while the Write waits for another) leaves the
// connection usable, but one that passes once c has the message ends the
// connection, since the message may be partly sent and cannot be resumed.
// A frame cut in half tears the connection down at once; otherwise c is
// closed with ClosePolicyViolation.
//
// LocalAddr and RemoteAddr are c's. The methods are
// safe for concurrent use, as net.Conn requires: Reads take turns, Writes
// too, and Close may come from any goroutine.
func NetConn(ctx context.Context, c *Conn, typ MessageType) net.Conn {
	nc := &netConn{
		c:        c,
		typ:      typ,
		rsem:     make(chan struct{}, 1),
		wsem:     make(chan struct{}, 1),
		data:     make(chan []byte),
		consumed: make(chan struct{}, 1),
		rend:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	nc.ctx, nc.cancel = context.WithCancel(ctx)
	nc.rdl.init(nc.ctx)
	nc.wdl.init(nc.ctx)
	nc.stopCtx = context.AfterFunc(ctx, func() { nc.Close() })
	return nc
}

// netConn is the net.Conn NetConn returns.
type netConn struct {
	c       *Conn
	typ     MessageType
	ctx     context.Context // cancelled by Close, or when NetConn's ctx ends
	cancel  context.CancelFunc
	stopCtx func() bool

	mu      sync.Mutex
	closed  bool
	pumping bool // the pump goroutine has started

	// Read side. rsem is held by the Read in progress, which alone uses
	// left and rerr. The pump goroutine hands buffered payload to Read
	// over data and waits on consumed before it reads into the buffer
	// again; its final error is pumpErr, set before rend is closed.
	rsem     chan struct{}
	left     []byte // what the last chunk still holds
	rerr     error
	data     chan []byte
	consumed chan struct{}
	rend     chan struct{}
	pumpErr  error
	pumpDone chan struct{}
	rdl      netDeadline

	// Write side: wsem is held by the Write in progress.
	wsem chan struct{}
	wdl  netDeadline
}

// Read reads the stream of incoming message payloads.
func (nc *netConn) Read(p []byte) (int, error) {
	ctx := nc.rdl.context()
	select {
	case nc.rsem <- struct{}{}:
	case <-ctx.Done():
		return 0, nc.ctxError("read")
	}
	defer func() { <-nc.rsem }()
	if ctx.Err() != nil {
		return 0, nc.ctxError("read") // as with TCP, even if data is waiting
	}
	if len(nc.left) == 0 {
		if nc.rerr != nil {
			return 0, nc.rerr
		}
		if len(p) == 0 {
			return 0, nil
		}
		nc.startPump()
		select {
		case nc.left = <-nc.data:
		case <-nc.rend:
			nc.rerr = nc.pumpErr
			return 0, nc.rerr
		case <-ctx.Done():
			return 0, nc.ctxError("read")
		}
	}
	n := copy(p, nc.left)
	nc.left = nc.left[n:]
	if len(nc.left) == 0 {
		nc.consumed <- struct{}{} // the pump may reuse its buffer
	}
	return n, nil
}

// startPump starts the pump goroutine on the first Read.
func (nc *netConn) startPump() {
	nc.mu.Lock()
	if !nc.pumping && !nc.closed {
		nc.pumping = true
		go nc.pump()
	}
	nc.mu.Unlock()
}

// pump reads the incoming messages into its buffer and hands each piece
// to Read, until the connection or the net.Conn ends.
func (nc *netConn) pump() {
	defer close(nc.pumpDone)
	buf := make([]byte, netConnBufSize)
	for {
		_, r, err := nc.c.NextReader(nc.ctx)
		if err != nil {
			nc.endPump(err)
			return
		}
		for {
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case nc.data <- buf[:n]:
				case <-nc.ctx.Done():
					nc.skip(r)
					return
				}
				select {
				case <-nc.consumed:
				case <-nc.ctx.Done():
					nc.skip(r)
					return
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				nc.endPump(err)
				return
			}
		}
	}
}

// skip reads the rest of a message after Close, without touching the
// buffer a Read may still be copying from, so that the Conn's reader
// goroutine gets the message back and goes on to the closing handshake.
func (nc *netConn) skip(r io.Reader) {
	io.Copy(io.Discard, r)
}

// endPump hands the error that ended reading to Read: io.EOF for the
// peer's normal close, else the Conn's error.
func (nc *netConn) endPump(err error) {
	var ce *CloseError
	if errors.As(err, &ce) && ce.Remote && (ce.Code == CloseNormal || ce.Code == CloseGoingAway) {
		err = io.EOF
	}
	nc.pumpErr = err
	close(nc.rend)
}

// Write sends p as one message.
func (nc *netConn) Write(p []byte) (int, error) {
	ctx := nc.wdl.context()
	select {
	case nc.wsem <- struct{}{}:
	case <-ctx.Done():
		return 0, nc.ctxError("write")
	}
	defer func() { <-nc.wsem }()
	if ctx.Err() != nil {
		return 0, nc.ctxError("write")
	}
	if len(p) == 0 {
		return 0, nil
	}
	err := nc.c.WriteMessage(ctx, nc.typ, p)
	if err == nil {
		return len(p), nil
	}
	if nc.ctx.Err() != nil {
		return 0, nc.opError("write", errNetConnClosed) // Close cut it short
	}
	if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return 0, err // the connection's own error
	}
	// The deadline passed during the write. A frame cut in half has torn
	// the connection down already; a message whose later frames were
	// waiting for room is unfinished on the wire, and only a close can
	// follow it.
	nc.c.CloseSend(ClosePolicyViolation, "write timed out")
	return 0, nc.opError("write", os.ErrDeadlineExceeded)
}

// Close closes the connection with CloseNormal and waits for the pump
// goroutine to end.
func (nc *netConn) Close() error {
	nc.mu.Lock()
	if nc.closed {
		nc.mu.Unlock()
		return nc.opError("close", errNetConnClosed)
	}
	nc.closed = true
	pumping := nc.pumping
	nc.mu.Unlock()
	nc.stopCtx()
	nc.cancel() // wakes blocked calls and the pump
	nc.rdl.stop()
	nc.wdl.stop()
	nc.c.Close(CloseNormal, "") // ErrClosed if the connection had ended: fine
	if pumping {
		<-nc.pumpDone // quick: the connection is down
	}
	return nil
}

// LocalAddr returns the local address of the connection under the WebSocket.
func (nc *netConn) LocalAddr() net.Addr { return nc.c.LocalAddr() }

// RemoteAddr returns the peer's address on the connection under the WebSocket.
func (nc *netConn) RemoteAddr() net.Addr { return nc.c.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (nc *netConn) SetDeadline(t time.Time) error {
	if err := nc.SetReadDeadline(t); err != nil {
		return err
	}
	return nc.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for Reads, pending ones included.
func (nc *netConn) SetReadDeadline(t time.Time) error {
	if nc.ctx.Err() != nil {
		return nc.opError("set", errNetConnClosed)
	}
	nc.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for Writes, pending ones included.
func (nc *netConn) SetWriteDeadline(t time.Time) error {
	if nc.ctx.Err() != nil {
		return nc.opError("set", errNetConnClosed)
	}
	nc.wdl.set(t)
	return nil
}

// ctxError is the error of a call whose context ended: the net.Conn was
// closed, or else the deadline passed.
func (nc *netConn) ctxError(op string) error {
	if nc.ctx.Err() != nil {
		return nc.opError(op, errNetConnClosed)
	}
	return nc.opError(op, os.ErrDeadlineExceeded)
}

// opError wraps err as the net package reports its connections' errors.
func (nc *netConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "websocket", Source: nc.LocalAddr(), Addr: nc.RemoteAddr(), Err: err}
}

// errNetConnClosed is the error of a NetConn's calls after Close.
var errNetConnClosed error = netConnClosedError{}

// netConnClosedError matches net.ErrClosed, as a closed network
// connection's errors do, and ErrClosed, as a closed Conn's do.
type netConnClosedError struct{}

func (netConnClosedError) Error() string { return "use of closed network connection" }

func (netConnClosedError) Is(target error) bool {
	return target == net.ErrClosed || target == ErrClosed
}

// netDeadline is one direction's deadline. Its context, a child of the
// net.Conn's, is cancelled when the deadline passes, which wakes the
// calls waiting under it; a deadline set after that gets a fresh context.
type netDeadline struct {
	parent context.Context
	mu     sync.Mutex
	t      time.Time
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

func (d *netDeadline) init(parent context.Context) {
	d.parent = parent
	d.ctx, d.cancel = context.WithCancel(parent)
}

// context returns the context for a call starting now.
func (d *netDeadline) context() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctx
}

// set moves the deadline to t; the zero t means none.
func (d *netDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.parent.Err() != nil {
		return // closed: no timer to outlive the net.Conn
	}
	d.t = t
	if d.ctx.Err() != nil {
		d.ctx, d.cancel = context.WithCancel(d.parent)
	}
	if t.IsZero() {
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		d.cancel()
		return
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(dur, d.fire)
	} else {
		d.timer.Reset(dur)
	}
}

// fire runs on the timer: it ends the current context if the deadline
// has passed, and otherwise (a firing for a deadline since moved, or a
// wall clock that was set back) waits again.
func (d *netDeadline) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.t.IsZero() {
		return
	}
	if dur := time.Until(d.t); dur > 0 {
		d.timer.Reset(dur)
		return
	}
	d.cancel()
}

// stop stops the timer for good; Close calls it.
func (d *netDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = time.Time{}
	if d.timer != nil {
		d.timer.Stop()
	}
}
