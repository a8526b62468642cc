package pipeline

import (
	"io"
	"net"
	"sync"

	"github.com/wspipe/wspipe/internal/bufpool"
)

// connReader is the buffered reader under the frame layers. Unlike
// bufio.Reader it holds a buffer only while it has unread bytes: the buffer
// comes from a pool when bytes arrive and goes back as soon as they are
// consumed, so an idle connection holds none. On a TCP connection it waits
// for data through syscall.RawConn and takes the buffer only once the
// socket is readable (see connreader_unix.go).
type connReader struct {
	conn   net.Conn
	prefix []byte // bytes read past the handshake, served first
	pool   *sync.Pool
	size   int
	buf    *[]byte
	r, w   int
	raw    rawWaiter // nil: block in conn.Read with a buffer
	err    error     // a failure of wait, for the next Read
	fence  int       // in the fast path, reads stop here; -1 outside it
	// whole: the reader above wants every byte it asks for, not what is
	// there (msgReader.readFull). Reads past the buffer then may wait for
	// all of p, which is never more than the rest of a frame.
	whole bool
	lowat bool // whole reads may wait so: the socket is TCP and lowatOK
}

// rawWaiter fills a connReader's buffer once its socket is readable.
type rawWaiter interface {
	fill(cr *connReader) error
	// pump runs the fast path (see fast.go): it reads into cr's buffer
	// whenever the socket is readable and calls c.consume, until that
	// returns false or reading fails (kept in cr.err). It returns what
	// ended the wait itself: a closed connection, or errRespawn when the
	// idle reader is to be replaced by a fresh goroutine. It sets
	// c.inPump while it runs.
	pump(cr *connReader, c *Conn) error
	// read reads the socket into p, waiting until it is readable; with
	// whole, until all of p may be there (see tcpWaiter.read).
	read(p []byte, whole bool) (int, error)
	// writer returns the writer side's way to the socket, made on first
	// use; only the goroutine writing to the connection calls it.
	writer() io.Writer
}

func (cr *connReader) init(conn net.Conn, prefix []byte, size int) {
	cr.conn, cr.prefix, cr.size, cr.fence = conn, prefix, size, -1
	cr.pool = bufpool.For(size)
	cr.raw = newRawWaiter(conn)
	_, tcp := conn.(*net.TCPConn)
	cr.lowat = tcp && lowatOK
}

func (cr *connReader) acquire() {
	if cr.buf == nil {
		cr.buf = cr.pool.Get().(*[]byte)
	}
}

func (cr *connReader) release() {
	if cr.buf != nil {
		cr.pool.Put(cr.buf)
		cr.buf = nil
	}
	cr.r, cr.w = 0, 0
}

// Read reads buffered bytes, or fills the buffer from the connection.
// Reads at least as large as the buffer go straight into p.
func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.fence >= 0 {
		// The fast path: serve the buffered bytes before the fence and never
		// read the socket (this runs inside its read callback). Written out
		// rather than called: this is the deepest point of the fast path's
		// reads, on a stack that starts at 2 KiB.
		if cr.r >= cr.fence {
			return 0, errWouldBlock
		}
		// A buffer read to its end is kept: consume, shallower, gives it
		// back.
		n := copy(p, (*cr.buf)[cr.r:cr.fence])
		cr.r += n
		return n, nil
	}
	if cr.err != nil && cr.r == cr.w {
		err := cr.err
		cr.err = nil
		return 0, err
	}
	if cr.r == cr.w {
		if len(cr.prefix) > 0 {
			n := copy(p, cr.prefix)
			cr.prefix = cr.prefix[n:]
			if len(cr.prefix) == 0 {
				cr.prefix = nil
			}
			return n, nil
		}
		if len(p) >= cr.size {
			if cr.raw != nil {
				return cr.raw.read(p, cr.whole && cr.lowat)
			}
			return cr.conn.Read(p)
		}
		if err := cr.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*cr.buf)[cr.r:cr.w])
	cr.r += n
	if cr.r == cr.w {
		cr.release()
	}
	return n, nil
}

// releaseIfEmpty gives the buffer back if it holds no unread bytes.
func (cr *connReader) releaseIfEmpty() {
	if cr.r == cr.w {
		cr.release()
	}
}

// holdsMore reports whether more than n bytes are buffered: with n the
// rest of the current frame, whether the next frame has begun to arrive.
func (cr *connReader) holdsMore(n int64) bool {
	return int64(cr.w-cr.r+len(cr.prefix)) > n
}

// wait blocks until bytes are buffered or reading fails (the failure is
// kept for the next Read). The reader goroutine calls it where its stack
// is shallow, so an idle connection's goroutine blocks using little stack
// and the garbage collector can shrink it to the minimum.
func (cr *connReader) wait() {
	if cr.r == cr.w && len(cr.prefix) == 0 && cr.err == nil {
		cr.err = cr.fill()
	}
}

// fill reads at least one byte into an empty buffer.
func (cr *connReader) fill() error {
	if cr.raw != nil {
		return cr.raw.fill(cr)
	}
	cr.acquire()
	for {
		n, err := cr.conn.Read(*cr.buf)
		if n > 0 {
			cr.r, cr.w = 0, n
			return nil
		}
		if err == nil {
			continue
		}
		cr.release()
		return err
	}
}

var _ io.Reader = (*connReader)(nil)
