//go:build unix

package pipeline

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

// tcpWaiter waits for a TCP socket to be readable with syscall.RawConn and
// reads into a pooled buffer only then, so a connection blocked waiting for
// its peer holds no read buffer.
type tcpWaiter struct {
	rc  syscall.RawConn
	cr  *connReader
	try func(fd uintptr) bool // cached method value: no allocation per fill
	c   *Conn                 // set: try runs the fast path (pumpRead)
	// The socket's reader into callers' slices and its writer, made on
	// the first use of either: an idle connection holds neither.
	io atomic.Pointer[sockIO]
}

type sockIO struct {
	r sockReader
	w sockWriter
}

// sockIO returns w's sockIO, making it if need be; the reader and the
// writer goroutine may both ask first.
func (w *tcpWaiter) sockIO() *sockIO {
	if s := w.io.Load(); s != nil {
		return s
	}
	s := &sockIO{r: sockReader{rc: w.rc}}
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
	w.try = w.tryRead
	return w
}

func (w *tcpWaiter) fill(cr *connReader) error {
	w.cr = cr
	err := w.rc.Read(w.try)
	w.cr = nil
	if err != nil {
		return err // a deadline or a closed connection
	}
	err, cr.err = cr.err, nil // tryRead's
	return err
}

// tryRead runs inside RawConn.Read: a non-blocking read into a pooled
// buffer. On EAGAIN it gives the buffer back and asks to wait.
func (w *tcpWaiter) tryRead(fd uintptr) bool {
	if w.c != nil {
		return w.pumpRead(fd)
	}
	cr := w.cr
	cr.acquire()
	for {
		n, err := sysRead(fd, *cr.buf)
		switch {
		case n > 0:
			cr.r, cr.w = 0, n
			return true
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			cr.release()
			return false
		case err != 0:
			cr.err = os.NewSyscallError("read", err)
		default:
			cr.err = io.EOF
		}
		cr.release()
		return true
	}
}

func (w *tcpWaiter) pump(cr *connReader, c *Conn) error {
	w.cr, w.c = cr, c
	err := w.rc.Read(w.try)
	w.cr, w.c = nil, nil
	return err
}

// pumpRead runs inside RawConn.Read. Every call reads first: RawConn.Read
// forgets readiness seen before it began. After a read that did not fill
// the buffer the socket is empty, and any byte arriving later marks it
// readable anew, so it asks to wait without reading again. It waits only
// between messages: with part of one buffered, it leaves.
func (w *tcpWaiter) pumpRead(fd uintptr) bool {
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
		n, err := sysRead(fd, buf[cr.w:])
		switch {
		case n > 0:
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			cr.releaseIfEmpty()
			return false
		case err != 0:
			cr.err = os.NewSyscallError("read", err)
			cr.releaseIfEmpty()
			return true
		default:
			cr.err = io.EOF
			cr.releaseIfEmpty()
			return true
		}
		cr.w += n
		drained := cr.w < len(buf)
		if !w.c.consume() {
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
			return false
		}
	}
}

// read reads the socket straight into p, a read as large as the buffer or
// larger.
func (w *tcpWaiter) read(p []byte) (int, error) {
	return w.sockIO().r.read(p)
}

// sockReader reads a socket into the caller's slice inside RawConn.Read,
// which waits in the netpoller (with the read deadline) until the socket
// is readable.
type sockReader struct {
	rc  syscall.RawConn
	try func(fd uintptr) bool // cached method value: no allocation per read
	p   []byte
	n   int
	err error
}

func (s *sockReader) read(p []byte) (int, error) {
	s.p, s.n, s.err = p, 0, nil
	err := s.rc.Read(s.try)
	if err == nil {
		err = s.err
	}
	n := s.n
	s.p, s.err = nil, nil
	return n, err
}

func (s *sockReader) tryRead(fd uintptr) bool {
	for {
		n, err := sysRead(fd, s.p)
		switch {
		case n > 0:
			s.n = n
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != 0:
			s.err = os.NewSyscallError("read", err)
		default:
			s.err = io.EOF
		}
		return true
	}
}
