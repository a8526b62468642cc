//go:build unix && !linux

package sockio

import (
	"io"
	"syscall"
)

// sysRead is read(2) on fd. Only Linux makes it a raw system call (see
// sockio_linux.go).
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	if err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return 0, e
		}
		return 0, syscall.EIO
	}
	return n, 0
}

// Writer returns nil here: the writer side writes to the net.Conn. (On
// Linux it returns a writer of raw writev(2) calls.)
func (s *Socket) Writer() io.Writer { return nil }

// lowatOK is false: only Linux's SO_RCVLOWAT is known to wake a waiter
// whatever the socket's buffer and window (see sockio_linux.go).
const lowatOK = false

func setLowat(fd uintptr, n int) {}
