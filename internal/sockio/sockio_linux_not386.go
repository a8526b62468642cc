//go:build linux && !386

package sockio

import (
	"syscall"
	"unsafe"
)

// setLowat sets fd's SO_RCVLOWAT to n bytes. The kernel caps it at half
// the largest receive buffer and grows the socket's buffer to hold it. A
// raw system call: it runs inside the socket's read callback, where the
// scheduler need not be told.
func setLowat(fd uintptr, n int) {
	v := int32(n)
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT,
		uintptr(unsafe.Pointer(&v)), unsafe.Sizeof(v), 0)
}
