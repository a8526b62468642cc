//go:build unix

package pipeline

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// tcpWaiter waits for a TCP socket to be readable with syscall.RawConn and
// reads into a pooled buffer only then, so a connection blocked waiting for
// its peer holds no read buffer.
type tcpWaiter struct {
	rc  syscall.RawConn
	cr  *connReader
	try func(fd uintptr) bool // the read callback, made once (newTry): no allocation per fill
	c   *Conn                 // set: try runs the fast path (see newTry)
	// The socket's reader into callers' slices and its writer, made on
	// the first use of either: an idle connection holds neither.
	io atomic.Pointer[sockIO]
}

type sockIO struct {
	r sockReader
	w sockWriter
	// The idle kick of the fast path (see armIdle).
	idle   *time.Timer
	armed  atomic.Bool
	kicked bool // guarded by Conn.mu
}

// respawnAfter is how long a push-mode reader goroutine that has handled
// frames waits idle before it is replaced by a fresh one (see armIdle).
const respawnAfter = time.Second

// idleRespawn, when set (by tests, in nanoseconds), replaces respawnAfter.
var idleRespawn atomic.Int64

// idleFor returns how long an idle reader waits before its respawn.
func idleFor() time.Duration {
	if d := idleRespawn.Load(); d > 0 {
		return time.Duration(d)
	}
	return respawnAfter
}

// respawns counts replaced reader goroutines, for tests.
var respawns atomic.Int64

// armIdle runs when the fast path goes idle after handling frames. The
// handler, and any reply, ran on the reader goroutine and may have grown
// its stack to 4 KiB, which the runtime never shrinks back while the
// goroutine waits (it shrinks only stacks less than a quarter used, guard
// included). So a timer, armed once per period, kicks a reader still in
// the fast path: a read deadline in the past ends its wait, and the reader
// starts a fresh goroutine (2 KiB) in its place and ends. On a busy
// connection that is one new goroutine a second.
func (w *tcpWaiter) armIdle() {
	s := w.sockIO()
	if s.armed.Load() {
		return
	}
	s.armed.Store(true)
	if s.idle == nil {
		c := w.c
		s.idle = time.AfterFunc(idleFor(), func() { s.kick(c) })
		return
	}
	s.idle.Reset(idleFor())
}

// kick ends the reader's wait if it is in the fast path. Under c.mu, so
// it cannot land after the reader has left the fast path (tcpWaiter.pump).
func (s *sockIO) kick(c *Conn) {
	s.armed.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inPump && !s.kicked {
		s.kicked = true
		c.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// sockIO returns w's sockIO, making it if need be; the reader and the
// writer goroutine may both ask first.
func (w *tcpWaiter) sockIO() *sockIO {
	if s := w.io.Load(); s != nil {
		return s
	}
	s := &sockIO{r: sockReader{rc: w.rc, lowat: 1}}
	s.r.try = s.r.tryRead
	s.w.init(w.rc)
	if !w.io.CompareAndSwap(nil, s) {
		return w.io.Load()
	}
	return s
}

func newRawWaiter(conn net.Conn) rawWaiter {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return nil
	}
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil // a wrapper (TLS, say) whose bytes are not the socket's
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &tcpWaiter{rc: rc}
	w.try = w.newTry()
	return w
}

func (w *tcpWaiter) fill(cr *connReader) error {
	w.cr = cr
	err := w.rc.Read(w.try)
	w.cr = nil
	if err != nil {
		return err // a deadline or a closed connection
	}
	err, cr.err = cr.err, nil // the read callback's
	return err
}

// newTry returns w's read callback, which runs inside RawConn.Read: a
// non-blocking read into a pooled buffer. On EAGAIN it gives the buffer
// back and asks to wait. In the fast path (w.c set) it also serves what it
// read. (A closure, not a method value: a method value adds a wrapper's
// frame under every message.)
func (w *tcpWaiter) newTry() func(fd uintptr) bool {
	return func(fd uintptr) bool {
		if w.c == nil {
			return w.fillRead(fd)
		}
		// The fast path, written out here rather than called: one frame
		// fewer under every message it serves, on a stack that starts at
		// 2 KiB. Every call reads first: RawConn.Read forgets readiness
		// seen before it began. After a read that did not fill the buffer
		// the socket is empty, and any byte arriving later marks it
		// readable anew, so it asks to wait without reading again. It
		// waits only between messages: with part of one buffered, it
		// leaves.
		cr := w.cr
		for {
			cr.acquire()
			buf := *cr.buf
			if cr.r > 0 {
				// Keep an unfinished frame at the start, with room after it.
				cr.w = copy(buf, buf[cr.r:cr.w])
				cr.r = 0
			}
			if cr.w == len(buf) {
				return true // consume keeps no more than fits; be safe
			}
			n, wait, err := readSocket(fd, buf[cr.w:])
			if n == 0 {
				cr.releaseIfEmpty()
				if wait {
					w.lowerLowat(fd)
					return false
				}
				cr.err = err
				return true
			}
			cr.w += n
			drained := cr.w < len(buf)
			if !w.c.consume() {
				cr.releaseIfEmpty()
				return true
			}
			if drained {
				if cr.r < cr.w {
					// A message has begun but the rest is not here: the
					// ordinary path streams it, answering pings inside it and
					// failing bad UTF-8 without waiting for its end.
					return true
				}
				cr.release()
				w.armIdle()
				return false
			}
		}
	}
}

// fillRead is the read callback outside the fast path.
func (w *tcpWaiter) fillRead(fd uintptr) bool {
	cr := w.cr
	cr.acquire()
	n, wait, err := readSocket(fd, *cr.buf)
	if n > 0 {
		cr.r, cr.w = 0, n
		return true
	}
	cr.release()
	if wait {
		w.lowerLowat(fd)
		return false
	}
	cr.err = err
	return true
}

// lowerLowat puts SO_RCVLOWAT back to one byte, if a whole read raised it,
// before a wait for whatever comes next. Out of line: the fast path's
// frame is under every message.
//
//go:noinline
func (w *tcpWaiter) lowerLowat(fd uintptr) {
	if s := w.io.Load(); s != nil && s.r.lowat > 1 {
		setLowat(fd, 1)
		s.r.lowat = 1
	}
}

// readSocket reads fd into p once, retrying on EINTR: n > 0 bytes, or wait
// when the socket has nothing yet, or err (io.EOF at the end).
func readSocket(fd uintptr, p []byte) (n int, wait bool, err error) {
	for {
		n, errno := sysRead(fd, p)
		switch {
		case n > 0:
			return n, false, nil
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			return 0, true, nil
		case errno != 0:
			return 0, false, os.NewSyscallError("read", errno)
		}
		return 0, false, io.EOF
	}
}

// pump runs the fast path; see rawWaiter. It marks the fast path in
// c.inPump, and leaves it and learns of a kick in one step under c.mu, so
// no kick lands once it has left: its deadline would fail the ordinary
// path.
func (w *tcpWaiter) pump(cr *connReader, c *Conn) error {
	c.mu.Lock()
	c.inPump = true
	c.mu.Unlock()
	w.cr, w.c = cr, c
	err := w.rc.Read(w.try)
	w.cr, w.c = nil, nil
	c.mu.Lock()
	c.inPump = false
	s := w.io.Load()
	kicked := s != nil && s.kicked
	if kicked {
		s.kicked = false
	}
	c.mu.Unlock()
	if kicked {
		return afterKick(c, err)
	}
	return err
}

// afterKick clears the deadline of an idle kick, and turns the read error
// it caused into errRespawn. A call of its own, to keep pump's frame, which
// is under every message the fast path serves, small.
//
//go:noinline
func afterKick(c *Conn, err error) error {
	c.raw.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		respawns.Add(1)
		return errRespawn
	}
	return err
}

// Bounds of the SO_RCVLOWAT a whole read asks for: below lowatMin bytes a
// wait is worth no system call to save wakeups, and no mark goes above
// lowatMax, so a large message is still read in pieces of that size as it
// arrives, and the kernel grows a socket's receive buffer (to about twice
// the mark) no further for it.
const (
	lowatMin = 16 << 10
	lowatMax = 1 << 20
)

// read reads the socket straight into p, a read as large as the buffer or
// larger. With whole, the caller wants all of p, p is no more than the
// peer must send anyway (the rest of a frame) and the socket is TCP on a
// kernel that takes the mark (lowatOK): a wait then asks the kernel, by
// SO_RCVLOWAT, not to report the socket readable before len(p) bytes (at
// most lowatMax) are there. A large message otherwise arrives in many small
// pieces, each a wakeup, a read and a wait; with the mark it is one or two.
func (w *tcpWaiter) read(p []byte, whole bool) (int, error) {
	want := 1
	if whole && len(p) >= lowatMin {
		want = min(len(p), lowatMax)
	}
	return w.sockIO().r.read(p, want)
}

// sockReader reads a socket into the caller's slice inside RawConn.Read,
// which waits in the netpoller (with the read deadline) until the socket
// is readable.
type sockReader struct {
	rc   syscall.RawConn
	try  func(fd uintptr) bool // cached method value: no allocation per read
	p    []byte
	n    int
	err  error
	want int // the SO_RCVLOWAT to wait with
	// The socket's SO_RCVLOWAT as last set, 1 (the kernel's default)
	// until a whole read raises it. Only the goroutine reading the
	// connection touches it; tcpWaiter.lowerLowat puts it back.
	lowat int
}

// read reads the socket into p, waiting with SO_RCVLOWAT set to want.
func (s *sockReader) read(p []byte, want int) (int, error) {
	s.p, s.n, s.err, s.want = p, 0, nil, want
	err := s.rc.Read(s.try)
	if err == nil {
		err = s.err
	}
	n := s.n
	s.p, s.err = nil, nil
	return n, err
}

func (s *sockReader) tryRead(fd uintptr) bool {
	n, wait, err := readSocket(fd, s.p)
	s.n, s.err = n, err
	if wait && s.want != s.lowat {
		// Set only now, when there is a wait to save: a read that finds
		// all it wants costs no system call more.
		setLowat(fd, s.want)
		s.lowat = s.want
	}
	return !wait
}
