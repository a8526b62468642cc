//go:build unix && !linux

package pipeline

import (
	"io"
	"syscall"
)

// sysRead is read(2) on fd. Only Linux makes it a raw system call (see
// rawio_linux.go).
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

// writer is nil here: the writer side writes to the net.Conn.
func (w *tcpWaiter) writer() io.Writer { return nil }

// sockWriter is Linux's (rawio_linux.go); unused here.
type sockWriter struct{}

func (s *sockWriter) init(syscall.RawConn) {}
