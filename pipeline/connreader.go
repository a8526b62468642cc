package pipeline

import (
	"io"
	"net"

	"github.com/wspipe/wspipe/internal/bufpool"
	"github.com/wspipe/wspipe/internal/sockio"
)

// connReader is the buffered reader under the frame layers. Unlike
// bufio.Reader it holds a buffer only while it has unread bytes: the buffer
// comes from a pool when bytes arrive and goes back as soon as they are
// consumed, so an idle connection holds none. The buffer and the socket
// under it are sockio's: on a TCP connection it waits for data through
// syscall.RawConn and takes the buffer only once the socket is readable.
type connReader struct {
	sockio.Socket
	prefix []byte // bytes read past the handshake, served first
	fence  int    // in the fast path, reads stop here; -1 outside it
	size   int32  // the buffer's (an int32 beside whole keeps Conn in its size class)
	// whole: the reader above wants every byte it asks for, not what is
	// there (msgReader.readFull). Reads past the buffer then may wait for
	// all of p, which is never more than the rest of a frame.
	whole bool
}

// init sets cr up on conn; host is the connection's side of the fast path
// (see fast.go).
func (cr *connReader) init(conn net.Conn, prefix []byte, size int, host sockio.Host) {
	cr.prefix, cr.size, cr.fence = prefix, int32(size), -1
	cr.Socket.Init(conn, bufpool.For(size), host)
}

// Read reads buffered bytes, or fills the buffer from the connection.
// Reads at least as large as the buffer go straight into p.
func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.fence >= 0 {
		// The fast path: serve the buffered bytes before the fence and never
		// read the socket (this runs inside its read callback).
		if cr.R >= cr.fence {
			return 0, errWouldBlock
		}
		// A buffer read to its end is kept: consume, shallower, gives it
		// back.
		n := copy(p, (*cr.Buf)[cr.R:cr.fence])
		cr.R += n
		return n, nil
	}
	if cr.Err != nil && cr.R == cr.W {
		err := cr.Err
		cr.Err = nil
		return 0, err
	}
	if cr.R == cr.W {
		if len(cr.prefix) > 0 {
			n := copy(p, cr.prefix)
			cr.prefix = cr.prefix[n:]
			if len(cr.prefix) == 0 {
				cr.prefix = nil
			}
			return n, nil
		}
		if len(p) >= int(cr.size) {
			return cr.ReadDirect(p, cr.whole)
		}
		if err := cr.Fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*cr.Buf)[cr.R:cr.W])
	cr.R += n
	if cr.R == cr.W {
		cr.Release()
	}
	return n, nil
}

// holdsMore reports whether more than n bytes are buffered: with n the
// rest of the current frame, whether the next frame has begun to arrive.
func (cr *connReader) holdsMore(n int64) bool {
	return int64(cr.W-cr.R+len(cr.prefix)) > n
}

// wait blocks until bytes are buffered or reading fails (the failure is
// kept for the next Read). The reader goroutine calls it where its stack
// is shallow, so an idle connection's goroutine blocks using little stack
// and the garbage collector can shrink it to the minimum.
func (cr *connReader) wait() {
	if cr.R == cr.W && len(cr.prefix) == 0 && cr.Err == nil {
		cr.Err = cr.Fill()
	}
}

var _ io.Reader = (*connReader)(nil)
