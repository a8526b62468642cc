package sockio

import "syscall"

// setLowat sets fd's SO_RCVLOWAT to n bytes, as on other Linux systems;
// 386 has no setsockopt system call of its own (it goes through
// socketcall), so it takes the syscall package's way.
func setLowat(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}
