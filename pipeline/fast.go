package pipeline

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/wspipe/wspipe/internal/sockio"
	"github.com/wspipe/wspipe/layers"
)

// The fast path serves push-mode connections on a TCP socket: the reader
// goroutine stays inside one syscall.RawConn.Read, reads whatever the
// socket holds and hands every message that arrived whole to OnMessage
// from the buffer, then waits for the socket to become readable again. A
// read that did not fill the buffer has drained the socket, so after it
// the reader waits at once instead of reading again only to be told
// EAGAIN: one system call fewer per request on a request/response
// connection. The same layers read each message; only where the bytes
// come from differs. A message longer than the read buffer, and bytes left
// from the handshake, go through the ordinary path.

// errWouldBlock is what the connReader returns, inside the fast path, for
// a read past the frames known to be buffered whole.
var errWouldBlock = errors.New("websocket: internal: read past buffered frames")

// errRespawn, from pump, asks the reader goroutine to hand over to a fresh
// one: sockio's idle kick ended its wait (see sockio.ErrIdle).
var errRespawn = sockio.ErrIdle

// pump runs the fast path until a message needs the ordinary path or
// reading ends. A non-nil error ends reading, as the ordinary path's would.
func (c *Conn) pump() error {
	cr := &c.cr
	if len(cr.prefix) > 0 {
		return nil
	}
	// Consume leaves an error that ends reading in c.rs.err, which no one
	// reads before the reader goroutine ends (and sets it for good).
	c.rs.err = nil
	if cr.R < cr.W && !c.host().Consume() {
		cr.ReleaseIfEmpty()
		return c.rs.err
	}
	err := cr.Pump()
	if err == errRespawn {
		return err
	}
	if c.rs.err != nil {
		return c.rs.err
	}
	if err != nil {
		cr.Err = err // for the ordinary path to meet, after any buffered bytes
	}
	return nil
}

// pumpHost is the connection as sockio's fast path sees it (sockio.Host):
// a Conn under another name, so that its methods stay out of Conn's API
// and the conversion allocates nothing.
type pumpHost Conn

// host returns c as the fast path's host.
func (c *Conn) host() *pumpHost { return (*pumpHost)(c) }

// Lock locks c.mu: entering and leaving the fast path, and its idle kick,
// are ordered with teardown, which reads InPump under c.mu.
func (h *pumpHost) Lock() { h.mu.Lock() }

// Unlock unlocks c.mu.
func (h *pumpHost) Unlock() { h.mu.Unlock() }

// Wake starts a reader goroutine for the connection, which the idle
// poller took back because its socket became readable.
func (h *pumpHost) Wake() {
	c := (*Conn)(h)
	c.g.Go(c.readLoop)
}

// IdleAfter is how long a reader that has served frames waits idle in the
// fast path before it is replaced by a fresh goroutine (see readLoop): a
// second, or what a test set in respawnAfterTest.
func (h *pumpHost) IdleAfter() time.Duration {
	if d := respawnAfterTest.Load(); d != 0 {
		return time.Duration(d)
	}
	return time.Second
}

// idleReaders is SetIdleReaders' setting: 0 for the default.
var idleReaders atomic.Int64

// DefaultIdleReaders is how many readers the idle poller runs at once
// unless SetIdleReaders says otherwise. The runtime keeps a record (about
// 0.4 KiB) of every goroutine it ever ran at once, so the bound is also
// what a burst of wake-ups leaves behind: 1024 readers are 16 per CPU on
// 64 CPUs, and after every one of 10 000 idle connections has echoed a
// message they leave 0.02 KiB per connection (4096 left 0.17).
const DefaultIdleReaders = 1024

// SetIdleReaders configures the idle poller, which on Linux holds a
// push-mode connection (Options.OnMessage) on a TCP or Unix socket with no
// goroutine while its peer sends nothing: a connection idle for a second,
// or new, waits in an epoll set of the package's, and a reader goroutine
// starts when bytes arrive. n > 0 bounds the readers the poller runs at
// once: a connection that becomes readable while n run waits until one
// goes idle again or ends, and busy readers go idle as soon as their
// socket is drained while others wait. A reader that must wait for the
// rest of a message its peer is slow to send gives its place up (it keeps
// its goroutine): slow or stalled peers cannot keep the others waiting.
// n == 0 restores the default bound,
// DefaultIdleReaders. n < 0 turns the poller off for connections that go
// idle afterwards: each keeps a reader goroutine, as on other systems.
func SetIdleReaders(n int) { idleReaders.Store(int64(n)) }

// maxIdleReaders is the bound the idle poller applies, or -1 when it is off.
func maxIdleReaders() int {
	switch n := idleReaders.Load(); {
	case n < 0:
		return -1
	case n == 0:
		return DefaultIdleReaders
	default:
		return int(n)
	}
}

// respawnAfterTest, when set (by tests, in nanoseconds), replaces
// IdleAfter's second.
var respawnAfterTest atomic.Int64

// Consume serves the frames buffered whole, within the socket's read
// callback. It returns false to leave the fast path: with c.rs.err set
// if reading must end, else for a message that does not fit the buffer.
//
// The buffer, once read to its end, is its callers' to give back
// (ReleaseIfEmpty): the reads under it keep it.
func (h *pumpHost) Consume() bool {
	c := (*Conn)(h)
	cr := &c.cr
	for cr.R < cr.W {
		if c.dead.fired() {
			return false
		}
		n, data, need := scanFrames((*cr.Buf)[cr.R:cr.W])
		if n == 0 {
			if need > len(*cr.Buf) {
				return false
			}
			break
		}
		cr.fence = cr.R + n
		c.syncLimit()
		op, err := c.rs.mr.Next()
		if !data {
			// Control frames only: Next answers them and stops at the
			// fence, where the next frame begins.
			cr.fence = -1
			if err != errWouldBlock {
				c.rs.err = err
				return false
			}
			continue
		}
		if err != nil {
			cr.fence = -1
			c.rs.err = err
			return false
		}
		if c.dropping.fired() { // Close has started: data is read and dropped
			c.discard()
			cr.fence = -1
			continue
		}
		err = c.pushCorked(op)
		cr.fence = -1
		if err != nil {
			c.rs.err = err
			return false
		}
	}
	c.uncork() // before waiting for the peer
	return true
}

// scanFrames finds, at the start of b, the frames that can be read without
// waiting: any control frames outside a message, then a whole data message
// (data is true) if all its frames are there. It returns their length n;
// with n 0, need is how many bytes the first unfinished frame would need
// from the start of b. It only measures frames; the layers validate them.
func scanFrames(b []byte) (n int, data bool, need int) {
	off, inMsg := 0, false
	for {
		hs, length, ok := layers.FrameSize(b[off:])
		if !ok {
			return n, false, off + hs
		}
		b0 := b[off]
		if length > uint64(len(b)-off-hs) {
			end := uint64(off+hs) + min(length, 1<<30) // past any buffer; fits a 32-bit int
			return n, false, int(end)
		}
		off += hs + int(length)
		switch {
		case b0&0x08 != 0: // control
			if !inMsg {
				n = off
			}
		case b0&0x80 != 0: // a data message's final frame
			return off, true, 0
		default:
			inMsg = true
		}
	}
}

// discard reads and drops the rest of the current message. Out of line
// for the stack budget (docs/architecture.md): io.Copy's frame stays out
// of Consume's.
//
//go:noinline
func (c *Conn) discard() { io.Copy(io.Discard, &c.rs.mr) }
