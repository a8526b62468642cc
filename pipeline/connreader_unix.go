//go:build unix

package pipeline

import (
	"io"
	"net"
	"os"
	"syscall"
)

// tcpWaiter waits for a TCP socket to be readable with syscall.RawConn and
// reads into a pooled buffer only then, so a connection blocked waiting for
// its peer holds no read buffer.
type tcpWaiter struct {
	rc  syscall.RawConn
	cr  *connReader
	err error
	try func(fd uintptr) bool // cached method value: no allocation per fill
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
	w.cr, w.err = cr, nil
	err := w.rc.Read(w.try)
	w.cr = nil
	if err != nil {
		return err // a deadline or a closed connection
	}
	return w.err
}

// tryRead runs inside RawConn.Read: a non-blocking read into a pooled
// buffer. On EAGAIN it gives the buffer back and asks to wait.
func (w *tcpWaiter) tryRead(fd uintptr) bool {
	cr := w.cr
	cr.acquire()
	for {
		n, err := syscall.Read(int(fd), *cr.buf)
		switch {
		case n > 0:
			cr.r, cr.w = 0, n
			return true
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			cr.release()
			return false
		case err != nil:
			w.err = os.NewSyscallError("read", err)
		default:
			w.err = io.EOF
		}
		cr.release()
		return true
	}
}
