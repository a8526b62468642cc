//go:build !unix

package pipeline

import "net"

func newRawWaiter(net.Conn) rawWaiter { return nil }

// lowatOK is false: see lowat_linux.go.
const lowatOK = false
