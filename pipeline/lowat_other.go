//go:build !linux

package pipeline

// lowatOK is false: only Linux's SO_RCVLOWAT is known to wake a waiter
// whatever the socket's buffer and window (see lowat_linux.go).
const lowatOK = false

func setLowat(fd uintptr, n int) {}
