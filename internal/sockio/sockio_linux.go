package sockio

import (
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// The socket is non-blocking, so a read or write on it never waits: it
// only copies between the socket's buffer and ours. Made with
// syscall.RawSyscall, it skips the runtime's entry into a blocking system
// call, which with few Ps hands the P to another thread for any call longer
// than a sysmon tick and wakes sysmon from its sleep whenever the process
// was idle: costs a loopback echo paid on every message (see
// docs/benchmarks.md). Waiting is still RawConn's, in the netpoller, with
// its deadlines.

// sysRead is read(2) on fd without the scheduler's blocking-call entry.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Writer returns the writer side's way to the socket: on Linux, for a raw
// socket, a writer of raw writev(2) calls that also implements
// WriteBuffers(bufs [][]byte) (int64, error); else
// nil, and the writer side writes to the net.Conn. Only the goroutine
// writing to the connection calls it.
func (s *Socket) Writer() io.Writer {
	if s.raw == nil {
		return nil
	}
	return (*rawWriter)(s.raw)
}

// rawWriter is a raw socket's writer: each call takes a sockWriter from a
// pool, so a connection that wrote once keeps none.
type rawWriter rawSock

// Write writes p whole, or fails.
func (w *rawWriter) Write(p []byte) (int, error) {
	sw := takeWriter(w.rc)
	sw.one[0] = p // in line, not a method of sockWriter: a frame less, for the stack budget
	n, err := sw.WriteBuffers(sw.one[:])
	sw.one[0] = nil
	putWriter(sw)
	return int(n), err
}

// WriteBuffers writes the buffers in order, as few writev calls as the
// socket takes, and returns how many bytes went out.
func (w *rawWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	sw := takeWriter(w.rc)
	n, err := sw.WriteBuffers(bufs)
	putWriter(sw)
	return n, err
}

// writers holds sockWriters between writes, with their callbacks made.
var writers sync.Pool

func takeWriter(rc syscall.RawConn) *sockWriter {
	sw, _ := writers.Get().(*sockWriter)
	if sw == nil {
		sw = new(sockWriter)
		sw.try = sw.tryWrite
	}
	sw.rc = rc
	return sw
}

func putWriter(sw *sockWriter) {
	sw.rc = nil
	writers.Put(sw)
}

// sockWriter writes to a non-blocking socket with writev(2) made as raw
// system calls inside RawConn.Write, which waits in the netpoller (with the
// write deadline) whenever the socket buffer is full. It serves one write
// at a time, for any socket.
type sockWriter struct {
	rc  syscall.RawConn
	try func(fd uintptr) bool // cached method value: no allocation per write
	vec [][]byte              // what is left to write
	one [1][]byte
	n   int64
	err error
}

// WriteBuffers writes the buffers in order, as few writev calls as the
// socket takes, and returns how many bytes went out.
func (s *sockWriter) WriteBuffers(bufs [][]byte) (int64, error) {
	s.vec, s.n, s.err = bufs, 0, nil
	err := s.rc.Write(s.try)
	if err == nil {
		err = s.err
	}
	n := s.n
	s.vec, s.err = nil, nil
	return n, err
}

// writev2 makes one writev(2) of up to two buffers (a frame, or a header
// and its payload: nearly every write). Its iovecs take 32 bytes of stack,
// not writevMany's 288: a pong or a close frame written by the reader
// goroutine stays within a fresh goroutine's stack.
func writev2(fd uintptr, vec [][]byte) (uintptr, syscall.Errno) {
	var iov [2]syscall.Iovec
	k := fillIovecs(iov[:], vec)
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
	return r, e
}

// writevMany makes one writev(2) of up to MaxIovecs buffers.
func writevMany(fd uintptr, vec [][]byte) (uintptr, syscall.Errno) {
	var iov [MaxIovecs]syscall.Iovec
	k := fillIovecs(iov[:], vec)
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(k))
	return r, e
}

// fillIovecs points iov at vec's non-empty buffers, as many as fit, and
// returns how many it filled.
func fillIovecs(iov []syscall.Iovec, vec [][]byte) int {
	k := 0
	for _, b := range vec {
		if k == len(iov) {
			break
		}
		if len(b) > 0 {
			iov[k].Base = unsafe.SliceData(b)
			iov[k].SetLen(len(b))
			k++
		}
	}
	return k
}

// tryWrite runs inside RawConn.Write: writev until everything is written
// (true), the socket is full (false: wait), or writing fails (true, s.err).
func (s *sockWriter) tryWrite(fd uintptr) bool {
	for {
		for len(s.vec) > 0 && len(s.vec[0]) == 0 {
			s.vec = s.vec[1:]
		}
		if len(s.vec) == 0 {
			return true
		}
		var r uintptr
		var e syscall.Errno
		if len(s.vec) <= 2 {
			r, e = writev2(fd, s.vec)
		} else {
			r, e = writevMany(fd, s.vec)
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != 0:
			s.err = os.NewSyscallError("writev", e)
			return true
		case r == 0:
			s.err = io.ErrShortWrite // no progress; never loop on it
			return true
		}
		s.n += int64(r)
		for left := int(r); left > 0; {
			if m := len(s.vec[0]); m <= left {
				left -= m
				s.vec = s.vec[1:]
			} else {
				s.vec[0] = s.vec[0][left:]
				left = 0
			}
		}
	}
}

// lowatOK reports whether the kernel honours SO_RCVLOWAT in the way
// sockReader relies on: a TCP socket reported readable only once that many
// bytes are queued, or sooner when its receive buffer or window could not
// take them, on memory pressure, at the peer's FIN or on an error, so that
// waiting for bytes the peer must send anyway can never hang. The last
// fixes to that (hangs under memory pressure, 2020, and with large skbs,
// late 2020) are in every release from 5.11 on.
var lowatOK = kernelAtLeast(5, 11)

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return false
	}
	var rel [2]int // major, minor
	i := 0
	for _, c := range u.Release {
		if c >= '0' && c <= '9' {
			rel[i] = rel[i]*10 + int(c-'0')
			continue
		}
		if c != '.' || i == len(rel)-1 {
			break
		}
		i++
	}
	return rel[0] > major || rel[0] == major && rel[1] >= minor
}
