// Package sockio reads and writes a connection's socket for package
// pipeline: it fills a pooled read buffer once the socket is readable,
// reads past the buffer (on Linux TCP waiting for whole reads with
// SO_RCVLOWAT), runs the push-mode fast path's read loop, and writes
// several buffers in one writev. It knows nothing of WebSocket: what the
// fast path does with the bytes it reads is its [Host]'s.
//
// On a TCP or Unix socket of a Unix system the socket is read inside
// syscall.RawConn callbacks (on Linux with raw system calls, and written
// so too); anything else, a TLS connection say, is read with its own
// Read.
package sockio

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Socket is a connection's read side: its read buffer and the way to the
// socket under it. It lives inside the connection (its zero value is
// unusable until [Socket.Init]); what it makes only for a raw socket is
// apart, behind one pointer. Only the goroutine reading the connection
// calls its methods, except [Socket.InPump] and [Socket.Writer].
type Socket struct {
	conn net.Conn
	raw  *rawSock // nil: read with conn.Read
	pool *sync.Pool
	// Buf is the read buffer, from the pool while it holds unread bytes,
	// else nil; the unread bytes are (*Buf)[R:W].
	Buf  *[]byte
	R, W int
	// Err is a read failure that Pump met inside its read callback, kept
	// for the next read after the buffered bytes. The host may keep its
	// own failures here too.
	Err error
	// inPump is set while the reader is inside Pump: the read callback
	// then serves the host, and an idle kick may end the wait. Written
	// by the reader under the host's lock.
	inPump bool
	lowat  bool // whole reads may wait with SO_RCVLOWAT (see lowatOK)
	// woken is set while the reader is one the idle poller started, and
	// holds a place among its running readers (see Park); written under
	// the poller's lock.
	woken bool
	// state packs, to keep Socket (and so the connection) in its size
	// class, a raw socket's descriptor plus one in its low 28 bits (0
	// until a reader notes it), in the next 3 where the socket is on its
	// way to parking (the yield states, see parkNow), and in the top one
	// whether it is counted in newWaiting (youngBit). Atomic: the
	// poller, teardown and the idle kick read it from other goroutines.
	state atomic.Uint32
}

// Host is the connection's side of [Socket.Pump], given once to
// [Socket.Init]: an interface over a pointer, so nothing is allocated
// for it, and the read callback calls Consume with no wrapper's frame
// under it.
type Host interface {
	// Consume serves what the buffer holds, inside the socket's read
	// callback, and reports whether Pump goes on. It must leave in the
	// buffer no more unread bytes than it can later serve.
	Consume() bool
	// Lock and Unlock guard entering and leaving Pump against the idle
	// kick, and the host's reads of InPump.
	sync.Locker
	// Wake starts a reader for the socket, which the idle poller took
	// back from Park because it became readable (see [Socket.Park]). It
	// must only start a goroutine: it runs under the poller's lock.
	Wake()
	// IdleAfter is how long Pump, having served bytes, waits idle before
	// its kick ends the wait with ErrIdle (see rawSock.armIdle); zero or
	// less, never. It is asked once per idle period.
	IdleAfter() time.Duration
}

// ErrIdle is what Pump returns when its idle kick ended the wait (see
// [Socket.Pump]); the read deadline the kick set is cleared by then.
var ErrIdle = errors.New("sockio: pump idle")

// Init sets s up to read conn with buffers from pool. On a TCP or Unix
// socket of a Unix system it also makes what reads it in RawConn
// callbacks; host is then the one Pump serves.
func (s *Socket) Init(conn net.Conn, pool *sync.Pool, host Host) {
	s.conn, s.pool = conn, pool
	s.raw = newRawSock(s, conn, host)
	_, tcp := conn.(*net.TCPConn)
	s.lowat = s.raw != nil && tcp && lowatOK
}

// Conn returns the connection s reads.
func (s *Socket) Conn() net.Conn { return s.conn }

const fdMask = 1<<28 - 1

// fd returns the socket's descriptor, or -1 while no reader has noted it.
func (s *Socket) fd() int { return int(s.state.Load()&fdMask) - 1 }

// noteFd records fd as the socket's descriptor, once.
func (s *Socket) noteFd(fd uintptr) {
	if fd >= fdMask {
		return // too large to note: the socket is never parked
	}
	for {
		old := s.state.Load()
		if old&fdMask != 0 || s.state.CompareAndSwap(old, old|uint32(fd+1)) {
			return
		}
	}
}

// youngBit marks a socket counted in newWaiting.
const youngBit = 1 << 31

// yield returns the yield state.
func (s *Socket) yield() uint32 { return s.state.Load() >> 28 & 7 }

// setYield sets the yield state to y.
func (s *Socket) setYield(y uint32) {
	for {
		old := s.state.Load()
		if s.state.CompareAndSwap(old, old&(fdMask|youngBit)|y<<28) {
			return
		}
	}
}

// swapYield sets the yield state to y if it is from, and reports whether
// it was.
func (s *Socket) swapYield(from, y uint32) bool {
	for {
		old := s.state.Load()
		if old>>28&7 != from {
			return false
		}
		if s.state.CompareAndSwap(old, old&(fdMask|youngBit)|y<<28) {
			return true
		}
	}
}

// Raw reports whether the socket is read in RawConn callbacks: only then
// may [Socket.Pump] be called.
func (s *Socket) Raw() bool { return s.raw != nil }

// Acquire takes a buffer from the pool if s holds none.
func (s *Socket) Acquire() {
	if s.Buf == nil {
		s.Buf = s.pool.Get().(*[]byte)
	}
}

// Release gives the buffer back, unread bytes and all.
func (s *Socket) Release() {
	if s.Buf != nil {
		s.pool.Put(s.Buf)
		s.Buf = nil
	}
	s.R, s.W = 0, 0
}

// ReleaseIfEmpty gives the buffer back if it holds no unread bytes.
func (s *Socket) ReleaseIfEmpty() {
	if s.R == s.W {
		s.Release()
	}
}

// Fill reads at least one byte into the empty buffer, taking the buffer
// only once there is something to read on a raw socket. It returns a
// deadline's, a closed connection's or the read's failure (io.EOF at the
// end), and then holds no buffer.
func (s *Socket) Fill() error {
	if s.raw != nil {
		return s.fillRaw()
	}
	s.Acquire()
	for {
		n, err := s.conn.Read(*s.Buf)
		if n > 0 {
			s.R, s.W = 0, n
			return nil
		}
		if err == nil {
			continue
		}
		s.Release()
		return err
	}
}

// ReadDirect reads the socket straight into p, bypassing the buffer: for
// reads as large as the buffer or larger. With whole, the caller wants
// all of p and p is no more than the peer must send anyway (the rest of a
// frame); on Linux TCP the wait may then ask the kernel for all of it
// (see rawSock.read).
func (s *Socket) ReadDirect(p []byte, whole bool) (int, error) {
	if s.raw != nil {
		return s.raw.read(s, p, whole && s.lowat)
	}
	return s.conn.Read(p)
}

// MaxIovecs is the most buffers one writev(2) of [Socket.Writer] takes;
// a writer side that hands over no more at once has them written in one
// system call whenever the socket has room.
const MaxIovecs = 18

// LowatOK reports whether whole reads on a TCP socket wait with
// SO_RCVLOWAT here: on Linux from 5.11 (see lowatOK).
func LowatOK() bool { return lowatOK }
